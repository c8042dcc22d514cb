"""Pages: accounts, the chat list, chat creation and the chat page."""

import re

import pytest
from django.contrib.auth import get_user_model

from chat import services
from chat.models import ChatRoom
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_up_logs_the_new_user_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302 and response.url == "/"
    assert get_user_model().objects.filter(username="newbie").exists()
    assert client.get("/").status_code == 200


def test_login_is_django_s_login_view_and_pages_need_it(client, make_user):
    user = make_user()
    assert client.get("/").url.startswith("/accounts/login/")
    page = client.get("/accounts/login/")
    assert b'name="username"' in page.content and b"csrfmiddlewaretoken" in page.content
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_chat_list_shows_chats_with_escaped_text(client, make_user, make_chat):
    alice, bob = make_user(), make_user("<script>bob</script>")
    chat = make_chat(alice, bob)
    services.message_send(
        chat_id=str(chat.pk),
        user_id=str(bob.pk),
        username=bob.username,
        body="<img src=x onerror=alert(1)>",
        client_message_id="1",
    )
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page and "<script>bob" not in page
    assert f'data-chat-id="{chat.pk}"' in page


def look_up(client, *usernames):
    """What the page's script does before sending the form: find each name exactly."""
    for username in usernames:
        assert client.get("/api/users", {"username": username}).status_code == 200


def test_new_chat_form_creates_or_reuses_a_direct_chat(client, make_user):
    alice = make_user()
    make_user("bob")
    client.force_login(alice)
    look_up(client, "bob")
    response = client.post("/", {"chat_type": "direct", "usernames": "bob"})
    chat = ChatRoom.objects.get()
    assert response.url == f"/chats/{chat.pk}/"
    assert client.post("/", {"chat_type": "direct", "usernames": "bob"}).url == response.url
    error = client.post("/", {"chat_type": "direct", "usernames": "nobody"})
    assert error.status_code == 400 and b"no contact called nobody" in error.content


def test_new_group_chat_form(client, make_user):
    alice = make_user()
    make_user("bob"), make_user("carol")
    client.force_login(alice)
    look_up(client, "bob", "carol")
    response = client.post("/", {"chat_type": "group", "usernames": "bob, carol", "name": "Team"})
    chat = ChatRoom.objects.get()
    assert response.url == f"/chats/{chat.pk}/" and chat.memberships.count() == 3


def test_the_new_chat_dialog_picks_the_kind_of_chat_from_the_people_named(client, make_user):
    alice = make_user()
    make_user("bob"), make_user("carol")
    client.force_login(alice)
    look_up(client, "bob", "carol")
    # One person, no name: the direct chat with them.
    direct = client.post("/", {"usernames": "bob"})
    assert ChatRoom.objects.get(pk=direct.url.split("/")[2]).chat_type == "direct"
    # Two people and no name: the dialog asks for one, and nothing is made.
    unnamed = client.post("/", {"usernames": "bob, carol"})
    assert unnamed.status_code == 200 and b"A group needs a name." in unnamed.content
    assert b"data-open-on-load" in unnamed.content  # the dialog opens again with its errors
    assert ChatRoom.objects.count() == 1
    # A name twice, or one's own name beside another's, is still one person: the direct chat.
    for usernames in ("bob, BOB", f"{alice.username}, bob", "bob, bob, "):
        again = client.post("/", {"usernames": usernames})
        assert again.url == direct.url
    assert client.post("/", {"usernames": alice.username}).status_code == 200
    # Two people and a name, or one person and a name: groups.
    for usernames in ("bob, carol", "bob"):
        group = client.post("/", {"usernames": usernames, "name": "Band"})
        assert ChatRoom.objects.get(pk=group.url.split("/")[2]).chat_type == "group"


def test_the_new_chat_form_adds_known_people_only_and_tells_nothing_of_strangers(
    client, make_user, make_chat
):
    alice, bob = make_user(), make_user("bob")
    make_user("stranger")
    make_chat(alice, bob)  # bob shares a chat with alice
    client.force_login(alice)
    answers = [
        client.post("/", {"chat_type": "group", "usernames": f"bob, {name}", "name": "G"})
        for name in ("stranger", "nobody-at-all")
    ]
    assert [a.status_code for a in answers] == [400, 400]
    said = [
        re.search(r'errorlist nonfield"><li>(.*?)</li>', a.content.decode())[1] for a in answers
    ]
    assert "no contact called stranger" in said[0]
    assert said[0].replace("stranger", "NAME") == said[1].replace("nobody-at-all", "NAME")
    assert ChatRoom.objects.count() == 1
    # Known through a shared chat: no lookup needed.
    assert client.post("/", {"chat_type": "direct", "usernames": "bob"}).status_code == 302


def test_the_new_chat_form_spends_the_api_s_create_chat_budget(
    client, make_user, make_chat, monkeypatch
):
    from chat.api import throttling

    monkeypatch.setattr(throttling.CreateChatThrottle, "rate", "2/hour", raising=False)
    alice, bob = make_user(), make_user("bob")
    make_chat(alice, bob)
    client.force_login(alice)
    form = {"chat_type": "group", "usernames": "bob", "name": "G"}
    assert [client.post("/", form).status_code for _ in range(3)] == [302, 302, 429]
    # One budget for the page and the API.
    api = client.post(
        "/api/chats", {"chatType": "group", "participants": [str(bob.pk)], "chatName": "H"},
        content_type="application/json",
    )  # fmt: skip
    assert api.status_code in (403, 429)  # the session client has no CSRF token: 403 first
    assert ChatRoom.objects.count() == 3


def test_chat_page_is_for_members_only(client, make_user, make_chat):
    alice, bob, eve = make_user(), make_user(), make_user()
    chat = make_chat(alice, bob)
    client.force_login(alice)
    page = client.get(f"/chats/{chat.pk}/")
    assert page.status_code == 200 and b'id="chat-data"' in page.content
    client.force_login(eve)
    assert client.get(f"/chats/{chat.pk}/").status_code == 403
    assert client.get("/chats/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_health_check(client):
    response = client.get("/health/")
    assert response.status_code == 200 and response.content == b"ok"
