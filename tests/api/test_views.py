"""REST endpoints: members only, JSON errors, CSRF on session calls, one send path."""

import json

import pytest
from rest_framework.test import APIClient

from chat.stores import get_store
from tests.clients import csrf_client, find

pytestmark = pytest.mark.django_db


def test_unauthenticated_requests_get_json_401_with_a_challenge():
    response = APIClient().get("/api/chats")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="chat"'
    assert response.json() == {
        "status": 401,
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


def test_session_posts_without_csrf_token_are_refused(api, make_user):
    other = make_user()
    response = api.post(
        "/api/chats", {"chatType": "direct", "participants": [str(other.pk)]}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_direct_chat_is_created_once_per_pair(make_user):
    alice, bob = make_user(), make_user()
    client = csrf_client(alice)
    body = {"chatType": "direct", "participants": [find(client, bob)]}
    first = client.post("/api/chats", body, format="json")
    assert first.status_code == 201
    chat = first.json()
    assert chat["chatType"] == "direct"
    assert sorted(chat["participants"]) == sorted([str(alice.pk), str(bob.pk)])
    again = csrf_client(bob).post(
        "/api/chats", {"chatType": "direct", "participants": [str(alice.pk)]}, format="json"
    )
    assert again.status_code == 200 and again.json()["chatId"] == chat["chatId"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"chatType": "direct", "participants": []}, "invalid"),
        ({"chatType": "direct", "participants": ["999999"]}, "unknown_user"),
        ({"chatType": "party", "participants": ["1"]}, "invalid"),
        ({"chatType": "group", "participants": ["SELF"]}, "invalid"),
    ],
)
def test_bad_chat_requests_get_json_400(make_user, body, code):
    user = make_user()
    client = csrf_client(user)
    body = {
        **body,
        "participants": [str(user.pk) if p == "SELF" else p for p in body["participants"]],
    }
    response = client.post("/api/chats", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["detail"]


def test_group_chat_needs_a_name_and_lists_everyone(make_user):
    alice, bob, carol = make_user(), make_user(), make_user()
    client = csrf_client(alice)
    body = {"chatType": "group", "participants": [find(client, bob), find(client, carol)]}
    assert client.post("/api/chats", body, format="json").status_code == 400
    response = client.post("/api/chats", {**body, "chatName": "Team"}, format="json")
    assert response.status_code == 201
    assert response.json()["chatName"] == "Team" and len(response.json()["participants"]) == 3


def test_send_then_history_and_list(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    client = csrf_client(alice)
    url = f"/api/chats/{chat.pk}/messages"
    sent = client.post(url, {"message": "hello", "clientMessageId": "c1"}, format="json")
    assert sent.status_code == 201
    assert sent.json()["seq"] == 1 and sent.json()["message"] == "hello"
    retry = client.post(url, {"message": "hello", "clientMessageId": "c1"}, format="json")
    assert retry.status_code == 200 and retry.json()["messageId"] == sent.json()["messageId"]
    client.post(url, {"message": "second"}, format="json")

    history = client.get(url).json()
    assert [m["message"] for m in history["messages"]] == ["second", "hello"]
    assert history["hasMore"] is False and history["nextCursor"] is None

    listed = csrf_client(bob).get("/api/chats").json()["chats"]
    assert len(listed) == 1
    assert listed[0]["lastMessage"]["message"] == "second"
    assert listed[0]["unreadCount"] == 2
    # The sender has read up to their own message.
    assert client.get("/api/chats").json()["chats"][0]["unreadCount"] == 0


def test_history_pages_with_cursor_and_catches_up(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    client = csrf_client(alice)
    url = f"/api/chats/{chat.pk}/messages"
    for n in range(7):
        client.post(url, {"message": f"m{n}", "clientMessageId": str(n)}, format="json")
    seqs, cursor = [], None
    while True:
        page = client.get(url, {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seqs += [m["seq"] for m in page["messages"]]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert seqs == [7, 6, 5, 4, 3, 2, 1]
    catch_up = client.get(url, {"afterSeq": 5}).json()
    assert [m["seq"] for m in catch_up["messages"]] == [6, 7] and catch_up["hasMore"] is False
    bad = client.get(url, {"cursor": "garbage"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    assert client.get(url, {"limit": 500}).status_code == 400


def three_messages_from_alice(make_user, make_chat):
    """A direct chat in which Alice sent three messages: (bob, chat, Alice's client, url)."""
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    client = csrf_client(alice)
    url = f"/api/chats/{chat.pk}/messages"
    for n in range(3):
        client.post(url, {"message": f"m{n}"}, format="json")
    return bob, chat, client, url


def test_read_flags_follow_the_other_members_watermark(make_user, make_chat):
    from chat import services

    bob, chat, client, url = three_messages_from_alice(make_user, make_chat)
    services.message_mark_read(chat_id=str(chat.pk), user_id=str(bob.pk), seq=2)
    flags = {m["seq"]: (m["delivered"], m["read"]) for m in client.get(url).json()["messages"]}
    assert flags == {1: (True, True), 2: (True, True), 3: (False, False)}


def test_a_history_page_costs_five_queries(make_user, make_chat, django_assert_num_queries):
    _, chat, client, url = three_messages_from_alice(make_user, make_chat)
    # The session, the user, the membership with every member's watermarks, the page, the
    # page's reactions (quotes of messages in the page are read from it).
    with django_assert_num_queries(5):
        page = client.get(url).json()
    assert [m["seq"] for m in page["messages"]] == [3, 2, 1]
    upper = client.get(f"/api/chats/{str(chat.pk).upper()}/messages").json()
    assert upper["messages"] == page["messages"]


def test_unknown_chats_are_404_and_others_chats_403(make_user, make_chat):
    alice, bob, eve = make_user(), make_user(), make_user()
    chat = make_chat(alice, bob)
    client = csrf_client(eve)
    assert client.get("/api/chats/00000000-0000-0000-0000-000000000000/messages").status_code == 404
    assert client.get("/api/chats/not-a-uuid/messages").status_code == 404
    forbidden = client.get(f"/api/chats/{chat.pk}/messages")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not_member"
    sent = client.post(f"/api/chats/{chat.pk}/messages", {"message": "x"}, format="json")
    assert sent.status_code == 403
    assert get_store().last_seq(str(chat.pk)) == 0


def test_users_may_list_only_their_own_chats(make_user):
    alice, bob = make_user(), make_user(is_staff=True)
    assert csrf_client(alice).get("/api/chats", {"userId": str(bob.pk)}).status_code == 403
    assert csrf_client(bob).get("/api/chats", {"userId": str(alice.pk)}).status_code == 200


def test_message_limits_apply_over_http(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    client = csrf_client(alice)
    url = f"/api/chats/{chat.pk}/messages"
    too_long = client.post(url, {"message": "x" * 4001}, format="json")
    assert too_long.status_code == 400 and too_long.json()["code"] == "too_long"
    assert client.post(url, {"message": " "}, format="json").json()["code"] == "empty_message"
    for text in ("a\x00b", "\ud800"):  # PostgreSQL refuses NUL; a lone surrogate is no UTF-8
        body = json.dumps({"message": text})  # ASCII, as a browser may send it
        refused = client.post(url, body, content_type="application/json")
        # The serializer's own check (DRF refuses NUL) or the service's.
        assert refused.status_code == 400 and refused.json()["code"] in {"invalid", "invalid_text"}
    assert client.get(url).json()["messages"] == []


def test_unknown_api_urls_are_json_404(api):
    response = api.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ["/api/chats", "/api/chats/{chat_id}/messages"]:
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_me_and_exact_username_lookup(make_user):
    alice, bob = make_user(), make_user("bobby")
    client = csrf_client(alice)
    assert client.get("/api/me").json() == {"userId": str(alice.pk), "username": alice.username}
    found = client.get("/api/users", {"username": "bobby"}).json()["users"]
    assert found == [{"userId": str(bob.pk), "username": "bobby"}]
    assert client.get("/api/users", {"username": "bob"}).json()["users"] == []
    assert client.get("/api/users").status_code == 400


def test_only_people_found_by_username_or_met_in_a_chat_can_be_added_by_id(make_user, make_chat):
    """User ids cannot be probed: an id the caller does not know is refused just like one that
    does not exist, and a chat's answer names no one the caller did not know."""
    alice, bob, carol, dave = make_user(), make_user(), make_user(), make_user()
    make_chat(alice, carol)
    client = csrf_client(alice)
    for unknown in (str(bob.pk), "999999"):
        body = {"chatType": "group", "participants": [unknown], "chatName": "g"}
        response = client.post("/api/chats", body, format="json")
        assert response.status_code == 400 and response.json()["code"] == "unknown_user"
        assert unknown in response.json()["detail"]
    body = {"chatType": "group", "participants": [str(carol.pk)], "chatName": "met"}
    assert client.post("/api/chats", body, format="json").status_code == 201
    body = {"chatType": "group", "participants": [find(client, bob)], "chatName": "found"}
    assert client.post("/api/chats", body, format="json").status_code == 201
    # Dave, found by nobody, is still unknown to Alice; deactivated people cannot be added.
    body = {"chatType": "direct", "participants": [str(dave.pk)]}
    assert client.post("/api/chats", body, format="json").status_code == 400
    bob.is_active = False
    bob.save()
    body = {"chatType": "direct", "participants": [str(bob.pk)]}
    assert client.post("/api/chats", body, format="json").status_code == 400
