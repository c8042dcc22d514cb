"""Test settings: the embedded defaults of `make run`, with a file-backed SQLite test database
(threads in the concurrency tests need one database that every connection shares)."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from chatsite.settings import *  # noqa: F403
from chatsite.settings import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Search entries written as messages are stored (the batched writer has a test of its own).
CHAT_SEARCH_INDEX_DELAY = 0
# Close connections after each use, so that threads the tests start leave none open behind
# (socket worker threads keep theirs until tests/conftest.py has them give it back).
DATABASES["default"]["CONN_MAX_AGE"] = 0
# The sweep of unattached uploads runs when a test starts one (tests/media/test_media.py).
CHAT_UPLOAD_SWEEP_SECONDS = 0
