"""Admin: staff find and moderate rooms and memberships."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("admin", is_staff=True, is_superuser=True))
    return client


def test_rooms_are_searchable_by_name_and_member(staff_client, make_user, make_chat):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    make_chat(alice, bob, carol, name="Hiking club")
    make_chat(alice, carol)
    page = staff_client.get("/admin/chat/chatroom/", {"q": "Hiking"})
    assert page.status_code == 200 and b"Hiking club" in page.content
    assert b"1 result" in page.content
    by_member = staff_client.get("/admin/chat/chatroom/", {"q": "bob"})
    assert b"1 result" in by_member.content
    direct = staff_client.get("/admin/chat/chatroom/", {"chat_type__exact": "direct"})
    assert b"Direct chat" in direct.content and b"Hiking club" not in direct.content


def test_memberships_are_searchable_and_removable(staff_client, make_user, make_chat):
    alice, bob = make_user("alice"), make_user("bob")
    chat = make_chat(alice, bob)
    page = staff_client.get("/admin/chat/membership/", {"q": "bob"})
    assert page.status_code == 200 and b"1 result" in page.content
    membership = chat.memberships.get(user=bob)
    response = staff_client.post(f"/admin/chat/membership/{membership.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert list(chat.memberships.values_list("user__username", flat=True)) == ["alice"]


def test_room_change_page_lists_members(staff_client, make_user, make_chat):
    alice, bob = make_user("alice"), make_user("bob")
    chat = make_chat(alice, bob)
    page = staff_client.get(f"/admin/chat/chatroom/{chat.pk}/change/")
    assert page.status_code == 200 and b"alice" in page.content and b"bob" in page.content
