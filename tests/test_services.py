"""Services: the validation and persistence rules every caller shares."""

import pytest

from chat import errors, services
from chat.models import ChatRoom, Membership
from chat.realtime import events

pytestmark = pytest.mark.django_db


def test_direct_chat_is_unique_per_pair_whoever_asks(make_user):
    alice, bob = make_user(), make_user()
    chat, created = services.chat_create(creator=alice, chat_type="direct", participants=[bob])
    again, created_again = services.chat_create(
        creator=bob, chat_type="direct", participants=[alice]
    )
    assert created and not created_again and again.pk == chat.pk
    assert set(Membership.objects.filter(chat=chat).values_list("user_id", flat=True)) == {
        alice.pk,
        bob.pk,
    }


def test_direct_chat_needs_exactly_one_other_person(make_user):
    alice, bob, carol = make_user(), make_user(), make_user()
    for participants in ([], [alice], [bob, carol]):
        with pytest.raises(errors.InvalidInput):
            services.chat_create(creator=alice, chat_type="direct", participants=participants)
    assert ChatRoom.objects.count() == 0


def test_group_chat_rules(make_user, settings):
    alice, bob, carol = make_user(), make_user(), make_user()
    with pytest.raises(errors.InvalidInput, match="name"):
        services.chat_create(creator=alice, chat_type="group", participants=[bob], name=" ")
    with pytest.raises(errors.InvalidInput, match="other participant"):
        services.chat_create(creator=alice, chat_type="group", participants=[alice], name="x")
    settings.CHAT_GROUP_MAX_MEMBERS = 2
    with pytest.raises(errors.InvalidInput, match="at most 2"):
        services.chat_create(creator=alice, chat_type="group", participants=[bob, carol], name="x")
    settings.CHAT_GROUP_MAX_MEMBERS = 10
    chat, created = services.chat_create(
        creator=alice, chat_type="group", participants=[bob, carol, bob], name=" Team "
    )
    assert created and chat.name == "Team" and chat.memberships.count() == 3


def test_message_send_validates_before_storing(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    common = {"chat_id": str(chat.pk), "user_id": str(alice.pk), "username": alice.username}
    cases = [
        ({"body": "", "client_message_id": "k"}, "empty_message"),
        ({"body": "x" * 4001, "client_message_id": "k"}, "too_long"),
        ({"body": "ok", "client_message_id": ""}, "invalid_field"),
        ({"body": "ok", "client_message_id": "k" * 65}, "invalid_field"),
    ]
    for fields, code in cases:
        with pytest.raises(errors.InvalidInput) as caught:
            services.message_send(**common, **fields)
        assert caught.value.code == code
    result = services.message_send(**common, body="x" * 4000, client_message_id="k")
    assert result.created and result.message.seq == 1


def test_sending_keeps_last_activity_current(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    before = chat.last_activity
    services._activity_refreshed_at.clear()
    services.message_send(
        chat_id=str(chat.pk),
        user_id=str(alice.pk),
        username="a",
        body="hi",
        client_message_id="1",
    )
    chat.refresh_from_db()
    assert chat.last_activity > before


def test_read_watermarks_only_move_forward(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    for n in range(5):
        services.message_send(
            chat_id=str(chat.pk),
            user_id=str(alice.pk),
            username="a",
            body="hi",
            client_message_id=str(n),
        )
    services.message_mark_read(chat_id=str(chat.pk), user_id=str(bob.pk), seq=4)
    services.message_mark_read(chat_id=str(chat.pk), user_id=str(bob.pk), seq=2)
    membership = Membership.objects.get(chat=chat, user=bob)
    assert (membership.last_read_seq, membership.last_delivered_seq) == (4, 4)


@pytest.fixture
def flaky_store(settings):
    from tests.stores import doubles

    settings.CHAT_STORE_BACKEND = "tests.stores.doubles.MessageStore"
    yield doubles.MessageStore
    doubles.MessageStore.fail = doubles.MessageStore.fail_after_write = False


def test_a_retry_announces_a_message_whose_first_write_had_an_unknown_outcome(
    make_user, make_chat, flaky_store, monkeypatch
):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    send = {
        "chat_id": str(chat.pk),
        "user_id": str(alice.pk),
        "username": "a",
        "body": "hi",
        "client_message_id": "k1",
    }
    announced = []
    monkeypatch.setattr(events, "message_stored", lambda message, quoted: announced.append(message))
    flaky_store.fail_after_write = True
    with pytest.raises(errors.Unavailable):
        services.message_send(**send)
    flaky_store.fail_after_write = False
    retry = services.message_send(**send)
    assert (retry.created, retry.message.seq, len(announced)) == (False, 1, 1)
    again = services.message_send(**send)
    assert (again.created, len(announced)) == (False, 1)
    fresh = services.message_send(**{**send, "client_message_id": "k2"})
    assert (fresh.created, [m.seq for m in announced]) == (True, [1, 2])


# -- Accounts --------------------------------------------------------------------------------


def test_a_rename_follows_the_sign_up_rules_whoever_calls_it(make_user):
    make_user("alice")
    carol = make_user("carol")
    hostile = ["al\x00ice", "alice\n", "<script>", "a" * 10_000, 12345, ["alice"]]
    plain = ["", "   ", "ALICE", "aIice", "bad name!", "x" * 151, "p\u0430ypal", None]
    for name in [*plain, *hostile]:
        with pytest.raises(errors.InvalidInput):
            services.user_rename(user=carol, username=name)
    carol.refresh_from_db()
    assert carol.username == "carol"
    wide = "".join(chr(ord(letter) + 0xFEE0) for letter in "caroline")  # full-width letters
    services.user_rename(user=carol, username=wide)  # normalized (NFKC), as the forms do
    carol.refresh_from_db()
    assert carol.username == "caroline"


def test_a_name_taken_between_the_check_and_the_save_is_refused_not_a_server_error(
    make_user, monkeypatch
):
    make_user("dave")
    erin = make_user("erin")
    monkeypatch.setattr(services.accounts, "username_check", lambda *args, **kwargs: None)
    with pytest.raises(errors.InvalidInput, match="already exists"):
        services.user_rename(user=erin, username="dave")
    assert erin.username == "erin"
    erin.refresh_from_db()
    assert erin.username == "erin"
