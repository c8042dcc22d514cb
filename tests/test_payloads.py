"""What the renderer of wire shapes (chat/payloads.py) produces from the selectors' data is what
the API's schema says: each rendered object validates against its OpenAPI component, with no
field the schema does not document and none it requires missing."""

import copy
import uuid

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from chat import payloads
from chat.payloads import chat_payload, message_payload
from chat.selectors import (
    CatchUp,
    ChatPage,
    ListedChat,
    Member,
    MessagePage,
    Reactions,
    SearchHit,
    Seen,
    ShownMessage,
    Suggestion,
)
from chat.stores.base import Message
from tests.clients import api_as
from tests.files import upload_url

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def components():
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def strict(node):
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` as a null type, and objects closed
    (a field the renderer adds that the schema does not describe fails)."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: strict(v) for k, v in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def check(components, name: str, payload: dict) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": {
        key: strict(copy.deepcopy(value)) for key, value in components.items()
    }}}  # fmt: skip
    jsonschema.validate(payload, schema, cls=jsonschema.Draft7Validator)


def stored(seq=1, **fields) -> Message:
    values = dict(
        chat_id=str(uuid.uuid4()), seq=seq, message_id=str(uuid.uuid4()), user_id="1",
        username="alice", body=f"message {seq}", client_message_id=f"k{seq}",
        timestamp=1_760_000_000_000 + seq,
    )  # fmt: skip
    values.update(fields)
    return Message(**values)


PICTURE = {"id": str(uuid.uuid4()), "name": "sunset.png", "contentType": "image/png",
           "size": 2048, "key": "media/c/a/sunset.png", "thumbnailKey": "media/c/a/t.png",
           "width": 320, "height": 200}  # fmt: skip


@pytest.mark.parametrize(
    "message, options",
    [
        (stored(), {}),
        (stored(attachments=(PICTURE,)), {"delivered": True, "read": True}),
        (stored(edited_at=1_760_000_100_000), {}),
        (stored(deleted=True, body=""), {}),
        (stored(kind="system", body="alice renamed the group"), {}),
        (stored(5, reply_to=2), {"quoted": stored(2)}),
        (stored(5, reply_to=2), {"quoted": stored(2, deleted=True, body="")}),
        (stored(5, reply_to=2), {"quoted": None}),  # the answered message is gone
        (stored(), {"reactions": (Reactions("👍", ("1", "2")), Reactions("🎉", ("2",)))}),
    ],
    ids=[
        "plain",
        "picture",
        "edited",
        "deleted",
        "system",
        "reply",
        "reply-to-deleted",
        "reply-to-missing",
        "reactions",
    ],
)
def test_a_rendered_message_is_the_schema_s_message_output(components, message, options):
    check(components, "MessageOutput", message_payload(message, **options))


def test_a_rendered_chat_is_the_schema_s_chat_output(components, make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob, name="trip")
    members = [Member(str(u.pk), u.username) for u in (alice, bob)]
    check(components, "ChatOutput", chat_payload(ListedChat(chat, members)))
    listed = ListedChat(chat, members, last_message=stored(3, chat_id=str(chat.pk)), unread=2)
    check(components, "ChatOutput", chat_payload(listed))
    page = ChatPage([listed, ListedChat(chat, members[:1])], next_cursor="abc")
    check(components, "ChatListOutput", payloads.chat_page_payload(page))
    check(components, "ChatListOutput", payloads.chat_page_payload(ChatPage([], None)))


def test_rendered_pages_of_messages_are_the_schema_s_history_output(components):
    shown = [
        ShownMessage(stored(2), delivered=True, read=True),
        ShownMessage(stored(5, reply_to=2), quoted=stored(2), reactions=(Reactions("👍", ("1",)),)),
    ]
    history = payloads.message_page_payload(MessagePage(shown, next_cursor="older"))
    assert (history["nextCursor"], history["hasMore"]) == ("older", True)
    check(components, "HistoryOutput", history)
    catch_up = payloads.message_page_payload(CatchUp(shown, has_more=False))
    assert "nextCursor" not in catch_up
    check(components, "HistoryOutput", catch_up)


def test_rendered_people_results_and_reactions_are_the_schema_s(components, make_user):
    alice = make_user()
    check(components, "UserListOutput", {"users": [payloads.user_payload(alice)]})
    suggestions = [Suggestion(alice, True), Suggestion(alice, False)]
    check(components, "SuggestionListOutput",
          {"users": [payloads.suggestion_payload(each) for each in suggestions]})  # fmt: skip
    seen = [Seen("1", True, None), Seen("2", False, alice.date_joined)]
    check(components, "PresenceOutput", {"users": [payloads.presence_payload(s) for s in seen]})
    hits = [SearchHit("trip", stored()), SearchHit("", stored(2, deleted=True, body=""))]
    check(components, "SearchOutput", {"results": [payloads.search_hit_payload(h) for h in hits]})
    reactions = (Reactions("👍", ("1", "2")),)
    rendered = payloads.message_reactions_payload(stored(4), reactions)
    assert rendered["reactions"] == [{"emoji": "👍", "count": 2, "userIds": ["1", "2"]}]
    check(components, "MessageReactionsOutput", rendered)


def test_a_rendered_api_token_is_the_schema_s(components, api):
    made = api.post(
        "/api/tokens", {"name": "bot"}, format="json",
        HTTP_X_CSRFTOKEN=(api.get("/settings/"), api.cookies["csrftoken"].value)[1],
    ).json()  # fmt: skip
    check(components, "TokenCreatedOutput", made)
    check(components, "TokenListOutput", api.get("/api/tokens").json())


def test_the_check_refuses_what_the_schema_does_not_document(components):
    rendered = message_payload(stored())
    with pytest.raises(jsonschema.ValidationError):
        check(components, "MessageOutput", {**rendered, "undocumented": 1})
    without = dict(rendered)
    del without["seq"]
    with pytest.raises(jsonschema.ValidationError):
        check(components, "MessageOutput", without)


def test_the_rendered_upload_url_and_me_are_the_schema_s(components, alice_and_a_chat):
    alice, chat = alice_and_a_chat
    ticket = upload_url(alice, str(chat.pk), size=10)
    assert ticket.status_code == 201
    check(components, "UploadUrlOutput", ticket.json())
    assert ticket.json()["expiresAt"].endswith("Z")  # milliseconds, as every time is rendered
    assert len(ticket.json()["expiresAt"]) == len("2026-01-01T00:00:00.000Z")
    check(components, "MemberOutput", api_as(alice).get("/api/me").json())
