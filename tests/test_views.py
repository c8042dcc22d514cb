"""Pages: accounts, the chat list, chat creation and the chat page."""

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


def test_new_chat_form_creates_or_reuses_a_direct_chat(client, make_user):
    alice = make_user()
    make_user("bob")
    client.force_login(alice)
    response = client.post("/", {"chat_type": "direct", "usernames": "bob"})
    chat = ChatRoom.objects.get()
    assert response.url == f"/chats/{chat.pk}/"
    assert client.post("/", {"chat_type": "direct", "usernames": "bob"}).url == response.url
    error = client.post("/", {"chat_type": "direct", "usernames": "nobody"})
    assert error.status_code == 200 and b"Unknown user(s): nobody" in error.content


def test_new_group_chat_form(client, make_user):
    alice = make_user()
    make_user("bob"), make_user("carol")
    client.force_login(alice)
    response = client.post("/", {"chat_type": "group", "usernames": "bob, carol", "name": "Team"})
    chat = ChatRoom.objects.get()
    assert response.url == f"/chats/{chat.pk}/" and chat.memberships.count() == 3


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
