"""Settings for the chat service.

Every value comes from the environment (the one place that reads it), with embedded defaults
that need no services: SQLite, the ORM store, the in-process fan-out and local disk.
With ``DJANGO_DEBUG`` off the process refuses to start without its secret key and hosts.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from chat.media.types import is_active as is_active_type

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
# Keys signed with before the last rotation (comma-separated): sessions and signed values made
# with them stay valid, so rotating the key logs nobody out (python -m deploy rotate-secret).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-development-key-only-for-DJANGO_DEBUG"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]"]
else:
    missing = [
        name
        for name, value in (
            ("DJANGO_SECRET_KEY", SECRET_KEY),
            ("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for local development, or use `make run`)."
        )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Names the DynamoDB tables (chat-<stage>-messages, ...) and, in deployment, the buckets.
CHAT_STAGE = env.str("CHAT_STAGE", default="dev")
if CHAT_STAGE not in {"dev", "staging", "prod"}:
    raise ImproperlyConfigured(f"CHAT_STAGE must be dev, staging or prod; got {CHAT_STAGE!r}.")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chat",
]

# WhiteNoise's middleware is synchronous only. Placed innermost it makes the whole chain run
# synchronously in the request's thread; placed second, as its docs suggest for WSGI, it split
# the chain under ASGI and every middleware hook after it crossed threads (a hop per hook for
# every request). Static files still never reach a view or a database query.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "chatsite.middleware.PermissionsPolicyMiddleware",
    "chatsite.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chatsite.middleware.DatabaseUnavailableMiddleware",
    "chat.ops.logs.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "chat.identity.signin.ProviderSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chat.context_processors.page_limits",
                "chat.identity.context.identity",
            ],
        },
    },
]

# --- AWS: one region for every service the app uses; local servers in place of AWS's. ---
# AWS_REGION, else AWS_DEFAULT_REGION, as AWS's own tools read them.
AWS_REGION = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default="us-east-1"))
AWS_S3_REGION = AWS_REGION
# A local S3 API server for both buckets (moto_server), else AWS.
AWS_ENDPOINT_URL_S3 = env.str("AWS_ENDPOINT_URL_S3", default="")

# --- Message store (chat.stores): the ORM's tables (the embedded default) or DynamoDB. ---
CHAT_STORE = env.str("CHAT_STORE", default="orm")
CHAT_STORE_BACKENDS = {
    "orm": "chat.stores.orm.MessageStore",
    "dynamodb": "chat.stores.dynamodb.MessageStore",
}
if CHAT_STORE not in CHAT_STORE_BACKENDS:
    raise ImproperlyConfigured(
        f"CHAT_STORE must be one of {', '.join(CHAT_STORE_BACKENDS)}; got {CHAT_STORE!r}."
    )
CHAT_STORE_BACKEND = CHAT_STORE_BACKENDS[CHAT_STORE]
# DynamoDB client: a local server's URL when set (moto_server, DynamoDB Local), else AWS.
CHAT_DYNAMODB_ENDPOINT = env.str("AWS_ENDPOINT_URL_DYNAMODB", default="")
CHAT_DYNAMODB_REGION = AWS_REGION
# Seconds to connect or read before a call fails, and retries after a failure: an unreachable
# store is reported in about (1 + retries) x timeout seconds.
CHAT_DYNAMODB_TIMEOUT = env.float("CHAT_DYNAMODB_TIMEOUT", default=0.8)
CHAT_DYNAMODB_RETRIES = env.int("CHAT_DYNAMODB_RETRIES", default=1)
CHAT_DYNAMODB_POOL = env.int("CHAT_DYNAMODB_POOL", default=50)

# --- Relational database: users, rooms, memberships (and the ORM store's tables). ---
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# The password apart from the URL (a secret the platform hands over, e.g. from Secrets Manager).
if env.str("DATABASE_PASSWORD", default=""):
    DATABASES["default"]["PASSWORD"] = env.str("DATABASE_PASSWORD")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed during a write; IMMEDIATE takes the write lock at BEGIN so
    # concurrent writers queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    VAR_DIR.mkdir(exist_ok=True)
# Keep connections open between requests and socket frames: reconnecting on every frame
# (Django's default of 0) was the largest cost of a send in the benchmark's profile.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=600)
# Worker threads (and so connections) a process uses for database calls from sockets, on
# databases that take concurrent writers (PostgreSQL); SQLite's calls run in one thread.
# PostgreSQL answers quickly, and the threads' Python contends for the GIL with the event loop:
# a few threads carried more deliveries than many (docs/benchmarks-notes.md). DynamoDB calls
# wait on the network, so that store gets more threads.
CHAT_DB_THREADS = env.int("CHAT_DB_THREADS", default=16 if CHAT_STORE == "dynamodb" else 4)
# PostgreSQL: connections come from a pool. Under ASGI each HTTP request runs in a thread of
# its own, so a kept connection would not outlive its request: without the pool every request
# opened a connection and warmed a new server process's caches. Requests borrow one for their
# duration; each socket worker thread keeps the one it took (chat.realtime.consumers).
DB_POOL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DJANGO_DB_POOL", default=True
)
if DB_POOL:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": CHAT_DB_THREADS + env.int("DJANGO_DB_POOL_SIZE", default=16),
        "timeout": 10,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # pooled connections go back after each request
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts: passwords, log-ins and their budgets. ---
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Passwords are checked without holding a database connection (chat.accounts); Django's own
# backend stays listed so that sessions it signed in remain valid.
AUTHENTICATION_BACKENDS = [
    "chat.accounts.PasswordBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:list"
LOGOUT_REDIRECT_URL = "login"
# Log-ins (chat.accounts): failed log-ins in 15 minutes from one client address, for one account
# from one address, and for one account from anywhere, before passwords are no longer tried;
# password checks a process runs at once, and how long a log-in waits for one (then a 429).
CHAT_LOGIN_FAILURES_PER_ADDRESS = env.int("CHAT_LOGIN_FAILURES_PER_ADDRESS", default=50)
CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = env.int(
    "CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS", default=10
)
CHAT_LOGIN_FAILURES_PER_ACCOUNT = env.int("CHAT_LOGIN_FAILURES_PER_ACCOUNT", default=200)
CHAT_LOGIN_CONCURRENCY = env.int("CHAT_LOGIN_CONCURRENCY", default=4)
CHAT_LOGIN_WAIT_SECONDS = env.float("CHAT_LOGIN_WAIT_SECONDS", default=2.0)
# Sign-ups per client address in an hour (chat.budgets).
CHAT_SIGNUPS_PER_ADDRESS = env.int("CHAT_SIGNUPS_PER_ADDRESS", default=10)

# --- Identity (chat.identity): an OpenID Connect provider (Amazon Cognito) beside local
# accounts, and personal API tokens for programs. Unset issuer: local accounts only. ---
# Cognito: https://cognito-idp.<region>.amazonaws.com/<user pool id> (exactly the tokens' "iss").
CHAT_OIDC_ISSUER = env.str("CHAT_OIDC_ISSUER", default="")
CHAT_OIDC_CLIENT_ID = env.str("CHAT_OIDC_CLIENT_ID", default="")
CHAT_OIDC_CLIENT_SECRET = env.str("CHAT_OIDC_CLIENT_SECRET", default="")
CHAT_OIDC_NAME = env.str("CHAT_OIDC_NAME", default="Amazon Cognito")
# Where log-out sends the browser when the provider publishes no end_session_endpoint
# (Cognito: its hosted UI's https://<domain>/logout).
CHAT_OIDC_LOGOUT_URL = env.str("CHAT_OIDC_LOGOUT_URL", default="")
# How often a provider's session is checked with the provider (its refresh token), in seconds:
# a user disabled there loses access here within this long.
CHAT_OIDC_RECHECK_SECONDS = env.int("CHAT_OIDC_RECHECK_SECONDS", default=300)
# Off: no local sign-up page (with a provider, people sign up there).
CHAT_LOCAL_SIGNUP = env.bool("CHAT_LOCAL_SIGNUP", default=True)
CHAT_API_TOKENS_PER_USER = env.int("CHAT_API_TOKENS_PER_USER", default=20)
if CHAT_OIDC_ISSUER:
    if not CHAT_OIDC_ISSUER.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ImproperlyConfigured("CHAT_OIDC_ISSUER must be an https:// URL.")
    if not CHAT_OIDC_CLIENT_ID:
        raise ImproperlyConfigured("CHAT_OIDC_ISSUER needs CHAT_OIDC_CLIENT_ID.")
    AUTHENTICATION_BACKENDS.append("chat.identity.signin.ProviderBackend")
# mozilla-django-oidc's settings (its endpoints come from the issuer's discovery document).
OIDC_RP_CLIENT_ID = CHAT_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = CHAT_OIDC_CLIENT_SECRET
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
OIDC_TIMEOUT = 10
OIDC_MAX_STATES = 10

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and media (local disk by default). ---
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve straight from the finders when collectstatic has not run (local and test servers).
WHITENOISE_USE_FINDERS = env.bool("DJANGO_STATIC_FROM_FINDERS", default=DEBUG)
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

# --- Files in chats (chat.media): uploads go to a quarantine prefix, are checked when a message
# attaches them, and are served to the chat's members. "local": this app's disk and views (the
# embedded default); "s3": presigned POSTs to CHAT_MEDIA_BUCKET, served through CHAT_CDN_DOMAIN.
CHAT_MEDIA = env.str("CHAT_MEDIA", default="local")
if CHAT_MEDIA not in {"local", "s3"}:
    raise ImproperlyConfigured(f"CHAT_MEDIA must be 'local' or 's3'; got {CHAT_MEDIA!r}.")
CHAT_UPLOAD_MAX_BYTES = env.int("CHAT_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
CHAT_UPLOAD_TYPES = env.list(
    "CHAT_UPLOAD_TYPES",
    default=[
        "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    ],
)  # fmt: skip
if [t for t in CHAT_UPLOAD_TYPES if is_active_type(t)]:
    raise ImproperlyConfigured(
        "CHAT_UPLOAD_TYPES may not name types a browser runs or renders as a page (HTML, SVG, "
        f"XML, JavaScript, CSS): {', '.join(t for t in CHAT_UPLOAD_TYPES if is_active_type(t))}."
    )
# How long an upload URL is valid, in seconds (at most 5 minutes).
CHAT_UPLOAD_EXPIRES = min(env.int("CHAT_UPLOAD_EXPIRES", default=300), 300)
CHAT_ATTACHMENTS_PER_MESSAGE = env.int("CHAT_ATTACHMENTS_PER_MESSAGE", default=10)
# Pictures' previews are made after the send by this many threads per process, one picture
# each at a time (decoding costs up to 4 bytes a pixel), with at most this many waiting.
CHAT_THUMBNAIL_WORKERS = env.int("CHAT_THUMBNAIL_WORKERS", default=1)
CHAT_THUMBNAIL_QUEUE = env.int("CHAT_THUMBNAIL_QUEUE", default=500)
# Seconds between a server process's sweeps of unattached uploads and missing previews
# (chat.media.sweeper); 0 leaves them to `manage.py purge_uploads`.
CHAT_UPLOAD_SWEEP_SECONDS = env.float("CHAT_UPLOAD_SWEEP_SECONDS", default=3600)
CHAT_MEDIA_BUCKET = env.str("CHAT_MEDIA_BUCKET", default="")
CHAT_STATIC_BUCKET = env.str("CHAT_STATIC_BUCKET", default="")
CHAT_CDN_DOMAIN = env.str("CHAT_CDN_DOMAIN", default="")
# Media on S3 is fetched by URLs valid at most this long (and 15 minutes at most): signed by
# CloudFront's key (its public key's id, and the PEM private key, a secret) with a CDN, else
# presigned by S3. Members get them from /media/ views that check membership each time.
CHAT_MEDIA_URL_SECONDS = min(env.int("CHAT_MEDIA_URL_SECONDS", default=900), 900)
CHAT_CDN_KEY_ID = env.str("CHAT_CDN_KEY_ID", default="")
CHAT_CDN_PRIVATE_KEY = env.str("CHAT_CDN_PRIVATE_KEY", default="")

_S3_OPTIONS = {
    "endpoint_url": AWS_ENDPOINT_URL_S3 or None,
    "region_name": AWS_S3_REGION,
    "default_acl": None,  # the buckets are private; CloudFront reads them (origin access)
    "querystring_auth": False,
    "file_overwrite": True,  # keys are chosen by the server, unique per upload
}
if CHAT_MEDIA == "s3":
    if not CHAT_MEDIA_BUCKET:
        raise ImproperlyConfigured("CHAT_MEDIA=s3 needs CHAT_MEDIA_BUCKET.")
    if CHAT_CDN_DOMAIN and not (CHAT_CDN_KEY_ID and CHAT_CDN_PRIVATE_KEY):
        raise ImproperlyConfigured(
            "CHAT_MEDIA=s3 with CHAT_CDN_DOMAIN serves files by signed URLs only: set "
            "CHAT_CDN_KEY_ID and CHAT_CDN_PRIVATE_KEY (python -m deploy up does)."
        )
    STORAGES["media"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_S3_OPTIONS, "bucket_name": CHAT_MEDIA_BUCKET},
    }
else:
    STORAGES["media"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
if CHAT_STATIC_BUCKET:
    # collectstatic uploads hashed files; pages reference them on the CDN (or the bucket).
    STORAGES["staticfiles"] = {
        "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
        "OPTIONS": {
            **_S3_OPTIONS,
            "bucket_name": CHAT_STATIC_BUCKET,
            "location": "static",
            "custom_domain": CHAT_CDN_DOMAIN or None,
        },
    }


def _bucket_origins(bucket: str) -> list[str]:
    """Where the browser reaches a bucket: the S3-API endpoint, or AWS's bucket hosts."""
    if AWS_ENDPOINT_URL_S3:
        return [AWS_ENDPOINT_URL_S3.rstrip("/")]
    return [
        f"https://{bucket}.s3.amazonaws.com",
        f"https://{bucket}.s3.{AWS_S3_REGION}.amazonaws.com",
    ]


_CDN = [f"https://{CHAT_CDN_DOMAIN}"] if CHAT_CDN_DOMAIN else []
# Where pages load static files from when they are on S3 (the CDN's, else the bucket's path).
_STATIC_SOURCES = []
if CHAT_STATIC_BUCKET:
    if _CDN:
        _STATIC_SOURCES = [f"{_CDN[0]}/static/"]
    elif AWS_ENDPOINT_URL_S3:  # path-style: one host for every bucket
        _STATIC_SOURCES = [f"{AWS_ENDPOINT_URL_S3.rstrip('/')}/{CHAT_STATIC_BUCKET}/static/"]
    else:
        _STATIC_SOURCES = [f"{origin}/static/" for origin in _bucket_origins(CHAT_STATIC_BUCKET)]
    STATIC_URL = f"{(_CDN or _bucket_origins(CHAT_STATIC_BUCKET))[0]}/static/"

# --- Fan-out between processes: Redis pub/sub when REDIS_URL is set, else in-process. ---
# Sockets receive broadcasts through chat.realtime.fanout, one Redis subscription per chat and
# process, all on one connection; no channel layer is needed.
REDIS_URL = env.str("REDIS_URL", default="")
CHAT_FANOUT_BACKEND = (
    "chat.realtime.fanout.RedisFanout" if REDIS_URL else "chat.realtime.fanout.LocalFanout"
)
# Redis connections a process may open for publishing; past it, publishers wait for one (a
# publish is one short round trip, and a chat's frames sent together share one). Opening one
# costs a connect and, in redis-py 8, a read of package metadata: under a burst a large cap
# opened hundreds.
CHAT_REDIS_POOL = env.int("CHAT_REDIS_POOL", default=32)
# Longest a chat's message frame waits for those before it (sent from elsewhere, published
# later) so that sockets receive a chat's messages in seq order; 0 hands them on as they come.
CHAT_FANOUT_HOLD_MS = env.int("CHAT_FANOUT_HOLD_MS", default=100)

# Request budgets (the API's throttles, login attempts) are counted in the cache: in Redis
# when it is configured, so that every process counts against one budget; in the process's
# memory otherwise (the embedded default is one process).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"chat-{CHAT_STAGE}",
        }
    }
CHANNEL_LAYERS = {}

# --- Chat: limits of messages, sockets and groups. ---
# Longest message body, in characters.
CHAT_MESSAGE_MAX_LENGTH = env.int("CHAT_MESSAGE_MAX_LENGTH", default=4000)
# Largest WebSocket text frame accepted from a client, in characters.
CHAT_FRAME_MAX_LENGTH = env.int("CHAT_FRAME_MAX_LENGTH", default=16000)
# A user's frame budget, shared by their sockets (and processes, through Redis): a burst of this
# many frames, refilled at this rate per second.
CHAT_RATE_BURST = env.int("CHAT_RATE_BURST", default=60)
CHAT_RATE_PER_SECOND = env.float("CHAT_RATE_PER_SECOND", default=20.0)
# Sockets a user may have open (on every process sharing Redis), and chats one socket may join.
CHAT_SOCKETS_PER_USER = env.int("CHAT_SOCKETS_PER_USER", default=20)
CHAT_SOCKET_MAX_CHATS = env.int("CHAT_SOCKET_MAX_CHATS", default=500)
# Seconds a connection stays in the registry without a heartbeat.
CHAT_CONNECTION_TTL = env.int("CHAT_CONNECTION_TTL", default=300)
# How often pages refresh who is online, in seconds.
CHAT_PRESENCE_POLL_SECONDS = env.int("CHAT_PRESENCE_POLL_SECONDS", default=20)
# How long after sending a member may edit or delete their own message, in seconds.
CHAT_EDIT_WINDOW_SECONDS = env.int("CHAT_EDIT_WINDOW_SECONDS", default=48 * 3600)
# Seconds between a process's writes to the search index (chat.stores.textsearch); 0 writes
# each message's text as it is stored.
CHAT_SEARCH_INDEX_DELAY = env.float("CHAT_SEARCH_INDEX_DELAY", default=1.0)
# Largest group chat, members included.
CHAT_GROUP_MAX_MEMBERS = env.int("CHAT_GROUP_MAX_MEMBERS", default=1000)

# --- REST API ---
REST_FRAMEWORK = {
    # Programs: a bearer (no CSRF: no cookie is involved); pages: the session, CSRF enforced.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "chat.api.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["chat.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chat.api.errors.exception_handler",
    # Per user, across processes (see CACHES); a request over budget is a 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["chat.api.throttling.UserWindowThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("CHAT_API_RATE", default="1200/min"),
        "send": env.str("CHAT_API_SEND_RATE", default="120/min"),
        "create_chat": env.str("CHAT_API_CREATE_CHAT_RATE", default="60/hour"),
        "lookup": env.str("CHAT_API_LOOKUP_RATE", default="300/hour"),
        "upload": env.str("CHAT_API_UPLOAD_RATE", default="60/min"),
        "create_token": env.str("CHAT_API_CREATE_TOKEN_RATE", default="30/hour"),
    },
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": "REST endpoints of the chat service. Real-time traffic uses the /ws/ socket.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- What pages may load and use (in development too, so that a page that breaks the policy
# breaks on the developer's machine first). Pages have no inline script or style. ---
# Files sent in chats on S3 are uploaded to the media bucket (connect) and shown from the CDN,
# or the bucket's presigned URLs when there is none (img).
_MEDIA_UPLOADS = _bucket_origins(CHAT_MEDIA_BUCKET) if CHAT_MEDIA == "s3" else []
_MEDIA_SHOWN = (_CDN or _bucket_origins(CHAT_MEDIA_BUCKET)) if CHAT_MEDIA == "s3" else []
# Scripts, styles and fonts come from the site, or only from the static files' path when they
# are on S3: not even 'self' then, since the site's /media/ URLs redirect to members' files on
# the same CDN and a source's path is not checked after a redirect.
_CODE = _STATIC_SOURCES or [SELF]
# Log-out posts a form whose answer sends the browser on to the provider's end-session page:
# a form's redirect is held to form-action too.
_PROVIDER = sorted(
    {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
     for url in (CHAT_OIDC_ISSUER, CHAT_OIDC_LOGOUT_URL) if url}
)  # fmt: skip
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": list(_CODE),
        "style-src": list(_CODE),
        # blob: pictures chosen to send, previewed before they are uploaded.
        "img-src": [SELF, "data:", "blob:", *_MEDIA_SHOWN, *_STATIC_SOURCES],
        "font-src": list(_CODE),
        # The page's own socket included (same host and port).
        "connect-src": [SELF, *_MEDIA_UPLOADS],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF, *_PROVIDER],
        "frame-ancestors": [NONE],
    }
}

# Browser features no page uses are switched off for the site and anything it embeds (only
# features browsers know: an unknown one is an error in every page's console).
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "midi=(), magnetometer=(), gyroscope=(), accelerometer=(), display-capture=()"
)

# --- Production hardening (active whenever DEBUG is off). ---
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Checks and scrapers on the host talk plain HTTP to the app.
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^ready/$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a lasting commitment of the whole domain; its owner opts in.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Logs: one handler; JSON lines (with request, user, chat and socket ids) in production,
# plain text while developing, unless CHAT_LOG_FORMAT says otherwise. ---
CHAT_LOG_FORMAT = env.str("CHAT_LOG_FORMAT", default="text" if DEBUG else "json")
if CHAT_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"CHAT_LOG_FORMAT must be json or text; got {CHAT_LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "chat.ops.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "chat.ops.logs.Formatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": CHAT_LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default configuration gives "django" a console handler of its own, on top
        # of the root's: every line was printed twice.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # daphne's runserver prints requests through its own handler.
        "django.channels.server": {"propagate": False},
        # uvicorn's lines (start, stop) go through the one handler too, as JSON in production.
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        # Requests are logged by the proxy in front (nginx), not once more per request here.
        "uvicorn.access": {"handlers": [], "propagate": False},
    },
}

# --- Metrics (chat.ops.metrics): /metrics answers staff, and scrapers in these networks that do
# not come through the load balancer; with a namespace, counters also go to CloudWatch as
# embedded-metric-format log lines every CHAT_METRICS_INTERVAL seconds. ---
CHAT_METRICS_NETWORKS = env.list("CHAT_METRICS_NETWORKS", default=["127.0.0.1/32", "::1/128"])
CHAT_METRICS_NAMESPACE = env.str("CHAT_METRICS_NAMESPACE", default="")
CHAT_METRICS_INTERVAL = env.float("CHAT_METRICS_INTERVAL", default=60.0)
# Several worker processes on one host: where each keeps its metrics (prometheus_client reads
# the same variable), so that /metrics adds them up; empty for one process.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
