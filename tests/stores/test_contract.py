"""The store contract: every backend passes the same tests."""

import threading
import time
import uuid
from dataclasses import replace

import pytest
from django.db import connections
from django.utils.module_loading import import_string

from chat.stores.base import Connection, InvalidCursor, NewMessage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["orm", "dynamodb"])
def store(request):
    if request.param == "dynamodb":
        return request.getfixturevalue("dynamodb_store")
    return import_string("chat.stores.orm.MessageStore")()


def new_chat_id():
    return str(uuid.uuid4())


def new(chat_id, n, *, user="1", key=None):
    return NewMessage(
        chat_id=chat_id,
        user_id=user,
        username=f"u{user}",
        body=f"message {n}",
        client_message_id=key or f"key-{user}-{n}",
        timestamp=1_700_000_000_000 + n,
    )


def run_threads(target, count):
    errors = []

    def guarded(index):
        try:
            target(index)
        except Exception as exc:  # surfaced below, so a failing thread fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_append_assigns_dense_seq_and_keeps_the_fields(store):
    chat = new_chat_id()
    results = [store.append(new(chat, n)) for n in range(1, 4)]
    assert [r.message.seq for r in results] == [1, 2, 3]
    assert all(r.created for r in results)
    first = results[0].message
    assert (first.chat_id, first.user_id, first.username, first.body) == (
        chat,
        "1",
        "u1",
        "message 1",
    )
    assert first.client_message_id == "key-1-1" and first.timestamp == 1_700_000_000_001
    assert len({r.message.message_id for r in results}) == 3
    assert store.last_seq(chat) == 3


def test_chats_have_independent_sequences(store):
    first, second = new_chat_id(), new_chat_id()
    store.append(new(first, 1))
    assert store.append(new(second, 1)).message.seq == 1
    assert store.last_seq(new_chat_id()) == 0


def test_retry_with_same_key_returns_original_and_stores_nothing(store):
    chat = new_chat_id()
    original = store.append(new(chat, 1))
    retry = store.append(new(chat, 99, key="key-1-1"))
    assert not retry.created
    assert retry.message == original.message
    assert store.last_seq(chat) == 1
    assert [m.seq for m in store.after(chat, after_seq=0, limit=10).messages] == [1]
    # The refused retry left no hole: the next message takes the next seq.
    assert store.append(new(chat, 2)).message.seq == 2
    # The same key from another sender is another message.
    assert store.append(new(chat, 1, user="2", key="key-1-1")).created


def test_concurrent_retries_of_one_key_store_one_message(store):
    chat = new_chat_id()
    results = []
    run_threads(lambda i: results.append(store.append(new(chat, i, key="same"))), 4)
    assert sum(r.created for r in results) == 1
    assert len({r.message.message_id for r in results}) == 1
    assert store.last_seq(chat) == 1


def test_four_concurrent_writers_get_dense_unique_seqs(store):
    chat = new_chat_id()

    def writer(index):
        for n in range(50):
            store.append(new(chat, n, user=str(index + 1)))

    run_threads(writer, 4)
    stored = []
    after = 0
    while True:
        page = store.after(chat, after_seq=after, limit=64)
        stored += page.messages
        if not page.has_more:
            break
        after = page.messages[-1].seq
    assert [m.seq for m in stored] == list(range(1, 201))
    assert len({(m.user_id, m.client_message_id) for m in stored}) == 200


def test_history_pages_newest_first_with_opaque_cursor(store):
    chat = new_chat_id()
    for n in range(1, 11):
        store.append(new(chat, n))
    seen, cursor, pages = [], None, 0
    while True:
        page = store.history(chat, limit=3, cursor=cursor)
        pages += 1
        seen += [m.seq for m in page.messages]
        if page.next_cursor is None:
            break
        assert isinstance(page.next_cursor, str)
        cursor = page.next_cursor
    assert pages == 4
    assert seen == list(range(10, 0, -1))


def test_history_of_an_empty_chat_is_one_empty_page(store):
    page = store.history(new_chat_id(), limit=5)
    assert page.messages == [] and page.next_cursor is None


def test_history_rejects_foreign_or_malformed_cursors(store):
    chat, other = new_chat_id(), new_chat_id()
    for n in range(1, 4):
        store.append(new(chat, n))
        store.append(new(other, n))
    cursor = store.history(chat, limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        store.history(other, limit=1, cursor=cursor)
    for bad in ["not-a-cursor", "e30", "!!!"]:
        with pytest.raises(InvalidCursor):
            store.history(chat, limit=1, cursor=bad)


def test_catch_up_after_a_seq_is_oldest_first_and_paged(store):
    chat = new_chat_id()
    for n in range(1, 8):
        store.append(new(chat, n))
    page = store.after(chat, after_seq=2, limit=3)
    assert [m.seq for m in page.messages] == [3, 4, 5] and page.has_more
    page = store.after(chat, after_seq=5, limit=3)
    assert [m.seq for m in page.messages] == [6, 7] and not page.has_more
    assert store.after(chat, after_seq=7, limit=3).messages == []


def test_last_messages_of_several_chats(store):
    first, second, empty = new_chat_id(), new_chat_id(), new_chat_id()
    for n in range(1, 4):
        store.append(new(first, n))
    store.append(new(second, 1))
    last = store.last_messages([first, second, empty])
    assert set(last) == {first, second}
    assert last[first].seq == 3 and last[first].body == "message 3"
    assert last[second].seq == 1


def test_connection_registry_lifecycle(store):
    now = int(time.time())
    user, first, second = (uuid.uuid4().hex for _ in range(3))
    conn = Connection(connection_id=first, user_id=user, connected_at=now * 1000, ttl=now + 60)
    later = Connection(
        connection_id=second, user_id=user, connected_at=now * 1000 + 1, ttl=now + 60
    )
    store.connections_write(put=[conn, later], remove=[])
    assert store.connection_get(first, now=now) == conn
    assert [c.connection_id for c in store.connections_for_user(user, now=now)] == [first, second]
    # A socket's row is replaced whole (it joined a chat, or its heartbeat moved the expiry).
    refreshed = Connection(
        connection_id=first, user_id=user, connected_at=now * 1000, ttl=now + 120, chat_id="c"
    )
    store.connections_write(put=[refreshed], remove=[uuid.uuid4().hex])
    assert store.connection_get(first, now=now) == refreshed
    store.connections_write(put=[], remove=[first])
    store.connections_write(put=[], remove=[first])
    assert store.connection_get(first, now=now) is None
    assert [c.connection_id for c in store.connections_for_user(user, now=now)] == [second]


def test_many_sockets_are_registered_and_forgotten_in_one_write(store):
    now = int(time.time())
    user = uuid.uuid4().hex
    opened = [
        Connection(connection_id=uuid.uuid4().hex, user_id=user, connected_at=now * 1000 + n,
                   ttl=now + 60)
        for n in range(1203)
    ]  # fmt: skip
    store.connections_write(put=opened, remove=[])
    assert len(store.connections_for_user(user, now=now)) == 1203
    closing = [c.connection_id for c in opened[:1100]]
    store.connections_write(put=opened[1100:1101], remove=closing)
    assert sorted(c.connection_id for c in store.connections_for_user(user, now=now)) == sorted(
        c.connection_id for c in opened[1100:]
    )


def test_purge_deletes_expired_connections_only_and_at_most_its_limit(store):
    now = int(time.time())
    user, live = uuid.uuid4().hex, uuid.uuid4().hex
    expired = [uuid.uuid4().hex for _ in range(5)]
    store.connections_write(
        put=[Connection(connection_id=c, user_id=user, connected_at=now * 1000, ttl=now - 5)
             for c in expired]
        + [Connection(connection_id=live, user_id=user, connected_at=now * 1000, ttl=now + 60)],
        remove=[],
    )  # fmt: skip
    first = store.connections_purge(now=now, limit=2)
    rest = store.connections_purge(now=now)
    # Backends that expire rows by themselves (DynamoDB's TTL) delete nothing here.
    assert (first, rest) in {(2, 3), (0, 0)}
    assert store.connection_get(live, now=now) is not None
    still_stored = [c for c in expired if store.connection_get(c, now=now - 10)]
    assert len(still_stored) == (0 if first else 5)


def test_expired_connections_are_never_returned(store):
    now = int(time.time())
    user, old, new_ = (uuid.uuid4().hex for _ in range(3))
    store.connections_write(
        put=[
            Connection(connection_id=old, user_id=user, connected_at=now * 1000, ttl=now - 1),
            Connection(connection_id=new_, user_id=user, connected_at=now * 1000, ttl=now + 30),
        ],
        remove=[],
    )
    assert store.connection_get(old, now=now) is None
    assert [c.connection_id for c in store.connections_for_user(user, now=now)] == [new_]
    # Past its ttl a connection is gone for readers, whether or not it was deleted yet.
    assert store.connection_get(new_, now=now + 31) is None
    assert store.connections_for_user(user, now=now + 31) == []


def test_a_history_page_larger_than_dynamodb_s_one_megabyte_page(store):
    chat = new_chat_id()
    body = "\u20ac" * 4000  # 12,000 bytes of UTF-8: 120 of them exceed 1 MB
    for n in range(120):
        store.append(
            NewMessage(
                chat_id=chat,
                user_id="1",
                username="u1",
                body=body,
                client_message_id=f"big-{n}",
                timestamp=n,
            )
        )
    page = store.history(chat, limit=120)
    assert [m.seq for m in page.messages] == list(range(120, 0, -1))
    assert page.next_cursor is None and page.messages[0].body == body
    catch_up = store.after(chat, after_seq=0, limit=120)
    assert len(catch_up.messages) == 120 and not catch_up.has_more


def test_a_deleted_message_is_a_tombstone_in_its_place(store):
    chat = new_chat_id()
    for n in range(1, 4):
        store.append(new(chat, n))
    tombstone = store.message_delete(chat, 2)
    assert (tombstone.seq, tombstone.body, tombstone.deleted) == (2, "", True)
    assert tombstone.attachments == ()
    history = store.history(chat, limit=10).messages
    assert [(m.seq, m.body, m.deleted) for m in history] == [
        (3, "message 3", False),
        (2, "", True),
        (1, "message 1", False),
    ]
    assert store.after(chat, after_seq=1, limit=10).messages[0].deleted
    # Deleting again changes nothing; an unknown seq is None; the retried send still answers
    # with the (now deleted) original, storing nothing.
    assert store.message_delete(chat, 2) == tombstone
    assert store.message_delete(chat, 9) is None
    retried = store.append(new(chat, 2))
    assert (retried.created, retried.message.seq, retried.message.deleted) == (False, 2, True)
    assert store.last_seq(chat) == 3


def test_deleting_a_chat_deletes_its_history_and_no_other(store):
    chat, other = new_chat_id(), new_chat_id()
    for n in range(1, 31):
        store.append(new(chat, n))
    store.append(new(other, 1))
    assert store.chat_delete(chat) == 30
    assert store.history(chat, limit=50).messages == []
    assert store.last_seq(chat) == 0
    assert store.last_messages([chat, other]).keys() == {other}
    assert store.chat_delete(chat) == 0
    assert store.last_seq(other) == 1


def test_a_message_is_found_by_id_and_edited_in_its_place(store):
    chat = new_chat_id()
    first, second = (store.append(new(chat, n)).message for n in (1, 2))
    assert store.message_find(chat, second.message_id) == second
    assert store.message_find(chat, str(uuid.uuid4())) is None
    assert store.message_find(new_chat_id(), second.message_id) is None  # in its chat only
    edited = store.message_edit(chat, 1, body="message 1, corrected", edited_at=1_800_000_000_000)
    assert (edited.seq, edited.body, edited.edited_at) == (
        1,
        "message 1, corrected",
        1_800_000_000_000,
    )
    assert (edited.message_id, edited.timestamp) == (first.message_id, first.timestamp)
    assert [m.body for m in store.history(chat, limit=5).messages] == [
        "message 2",
        "message 1, corrected",
    ]
    assert store.message_edit(chat, 9, body="x", edited_at=1) is None
    # A tombstone cannot be edited back to life, and forgets its edit.
    tombstone = store.message_delete(chat, 1)
    assert (tombstone.body, tombstone.edited_at) == ("", None)
    assert store.message_edit(chat, 1, body="back", edited_at=2) is None
    assert store.history(chat, limit=5).messages[1].body == ""


def test_users_online_are_those_with_a_live_socket(store):
    now = int(time.time())
    live, expired, other = (f"u-{uuid.uuid4().hex[:8]}" for _ in range(3))
    store.connections_write(
        put=[
            Connection(connection_id=f"c-{live}-1", user_id=live, connected_at=1, ttl=now + 60),
            Connection(connection_id=f"c-{live}-2", user_id=live, connected_at=2, ttl=now - 5),
            Connection(connection_id=f"c-{expired}", user_id=expired, connected_at=1, ttl=now - 5),
        ],
        remove=[],
    )
    assert store.users_online([live, expired, other], now=now) == {live}
    assert store.users_online([], now=now) == set()
    store.connections_write(put=[], remove=[f"c-{live}-1"])
    assert store.users_online([live], now=now) == set()


def test_a_reply_keeps_the_seq_it_answers_and_messages_are_read_by_seq(store):
    chat = new_chat_id()
    first = store.append(new(chat, 1)).message
    reply = store.append(replace(new(chat, 2), reply_to=1)).message
    assert (first.reply_to, reply.reply_to) == (0, 1)
    assert [m.reply_to for m in store.history(chat, limit=5).messages] == [1, 0]
    assert store.after(chat, after_seq=1, limit=5).messages[0].reply_to == 1
    for n in range(3, 131):
        store.append(new(chat, n))
    found = store.messages_at(chat, [1, 2, 130, 131, 2])  # 131 does not exist; 2 asked twice
    assert sorted(found) == [1, 2, 130]
    assert found[2] == reply and found[130].body == "message 130"
    assert store.messages_at(chat, list(range(1, 131))).keys() == set(range(1, 131))
    assert store.messages_at(new_chat_id(), [1]) == {}


def test_search_finds_word_prefixes_in_the_given_chats_newest_first(store):
    chat, other, foreign = new_chat_id(), new_chat_id(), new_chat_id()
    texts = {
        chat: ["Lunch at noon?", "The MEETING moved", "meetings all day", "unmeet", "x"],
        other: ["meet me at the Café", "lunch meeting tomorrow"],
        foreign: ["meeting elsewhere"],
    }
    sent = 0
    for chat_id, bodies in texts.items():
        for n, body in enumerate(bodies, start=1):
            sent += 1  # newest last: "lunch meeting tomorrow" of ``other``, then ``foreign``
            store.append(replace(new(chat_id, n), body=body, timestamp=1_700_000_000_000 + sent))
    found = store.search([chat, other], ["meet"], limit=10)
    assert [m.body for m in found] == [
        "lunch meeting tomorrow", "meet me at the Café", "meetings all day", "The MEETING moved",
    ]  # fmt: skip
    assert [m.body for m in store.search([chat, other], ["meet"], limit=2)] == [
        "lunch meeting tomorrow", "meet me at the Café",
    ]  # fmt: skip
    assert [m.body for m in store.search([chat, other], ["LUNCH", "meet"], limit=10)] == [
        "lunch meeting tomorrow"
    ]
    assert [m.body for m in store.search([other], ["café"], limit=10)] == ["meet me at the Café"]
    assert store.search([chat], ["zebra"], limit=10) == []
    assert store.search([], ["meet"], limit=10) == []
    # An edit is found by its new text only; a tombstone and a system note never.
    store.message_edit(chat, 2, body="The call moved", edited_at=1)
    store.message_delete(chat, 3)
    store.append(replace(new(chat, 6), body="alice added meetbot", kind="system"))
    assert store.search([chat], ["meet"], limit=10) == []
    assert [m.seq for m in store.search([chat], ["call"], limit=10)] == [2]
    store.chat_delete(other)
    assert store.search([other], ["meet"], limit=10) == []


def test_the_search_index_writes_in_batches_off_the_send_path(store, settings):
    from chat.models import SearchEntry
    from chat.stores.textsearch import SearchIndex

    index = SearchIndex(delay=3600)  # its writer would wait an hour: only flushes write
    chat = new_chat_id()
    first = store.append(replace(new(chat, 1), body="batched words")).message
    second = store.append(replace(new(chat, 2), body="more batched words")).message
    SearchEntry.objects.filter(chat_id=chat).delete()  # as if those were still waiting
    index.put(first)
    index.put(second)
    assert not SearchEntry.objects.filter(chat_id=chat).exists()
    index.put(replace(second, body="", deleted=True))  # the latest state of a message wins
    index.flush()
    assert list(SearchEntry.objects.filter(chat_id=chat).values_list("seq", "body")) == [
        (1, "batched words")
    ]
    index.put(replace(first, body="changed"))
    index.forget_chat(chat)  # a deleted chat: written and waiting entries go
    index.flush()
    assert not SearchEntry.objects.filter(chat_id=chat).exists()
