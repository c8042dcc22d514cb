"""Pages as a newcomer meets them: errors said once, error pages with a way back, a favicon,
log lines printed once, your own last message as "You"."""

import re
import subprocess
import sys

import pytest

from chat import selectors, services
from tests.servers import ROOT, server_env

pytestmark = pytest.mark.django_db


def test_a_new_chat_forms_error_is_shown_once(client, make_user):
    client.force_login(make_user())
    page = client.post("/", {"chat_type": "direct", "usernames": "nobody"})
    assert page.content.count(b"no contact called nobody") == 1
    empty = client.post("/", {"chat_type": "direct", "usernames": ""})
    assert empty.content.count(b"This field is required.") == 1


def test_not_allowed_and_not_found_pages_are_pages_with_a_way_back(client, make_user, make_chat):
    alice, bob, eve = make_user(), make_user(), make_user()
    chat = make_chat(alice, bob)
    client.force_login(eve)
    for url, status, title in [
        (f"/chats/{chat.pk}/", 403, b"Not allowed"),
        ("/chats/00000000-0000-0000-0000-000000000000/", 404, b"Not found"),
        ("/no/such/page/", 404, b"Not found"),
    ]:
        page = client.get(url)
        assert page.status_code == status
        assert title in page.content and b'href="/">Back to your chats' in page.content
        assert b"chat/style.css" in page.content


def test_the_favicon_is_there(client, make_user):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url.endswith("chat/favicon.svg")
    client.force_login(make_user())
    assert b'rel="icon"' in client.get("/").content


def test_your_own_last_message_is_listed_as_yours(client, make_user, make_chat):
    alice, bob = make_user("alice"), make_user("bob")
    chat = make_chat(alice, bob)
    services.message_send(
        chat_id=str(chat.pk), user_id=str(alice.pk), username="alice", body="hi bob",
        client_message_id="k1",
    )  # fmt: skip
    client.force_login(alice)
    assert b"<b>You:</b> hi bob" in client.get("/").content
    client.force_login(bob)
    assert b"<b>alice:</b> hi bob" in client.get("/").content


def test_a_log_line_is_printed_once(tmp_path):
    env = server_env(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "import logging; logging.getLogger('django.request').warning('said once')"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).count("said once") == 1


def test_every_page_gives_its_scripts_the_servers_limits(client, make_user, make_chat, settings):
    """The chat list's catch-up and the presence dots ask as the API allows: the page carries
    the limits (``chat.context_processors``); the scripts keep no copies."""
    settings.CHAT_PRESENCE_POLL_SECONDS = 7
    alice = make_user()
    chat = make_chat(alice, make_user())
    client.force_login(alice)
    for url in ["/", f"/chats/{chat.pk}/", "/settings/"]:
        page = client.get(url)
        assert page.status_code == 200, url
        main = re.search(r"<main [^>]*>", page.content.decode()).group(0)
        assert 'data-presence-poll="7"' in main, url
        assert f'data-presence-max="{selectors.PRESENCE_MAX_USERS}"' in main, url
        assert f'data-chat-list-max="{selectors.CHAT_LIST_MAX_LIMIT}"' in main, url
    script = (ROOT / "static/chat/presence.js").read_text() + (
        ROOT / "static/chat/list.js"
    ).read_text()
    for copied in [
        f"limit={selectors.CHAT_LIST_MAX_LIMIT}",
        f"slice(0, {selectors.PRESENCE_MAX_USERS})",
        "|| 20",
    ]:
        assert copied not in script
