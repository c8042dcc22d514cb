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


def test_staff_renames_follow_the_rules_of_names(staff_client, make_user, make_chat):
    from chat.models import ChatRoom

    alice, bob = make_user("alice"), make_user("bob")
    chat = make_chat(alice, bob, name="Climbers")
    page = f"/admin/chat/chatroom/{chat.pk}/change/"
    form = {"name": "Pay\u202eoti", "created_by": alice.pk, "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0"}  # fmt: skip
    answer = staff_client.post(page, form)
    assert answer.status_code == 200 and "text-direction" in answer.content.decode()
    assert ChatRoom.objects.get(pk=chat.pk).name == "Climbers"
    user_page = f"/admin/auth/user/{bob.pk}/change/"
    changed = staff_client.post(user_page, {
        "username": "aIice", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "is_active": "on"})  # fmt: skip
    assert changed.status_code == 200 and "looks like one already taken" in changed.content.decode()
    bob.refresh_from_db()
    assert bob.username == "bob"
    added = staff_client.post("/admin/auth/user/add/", {
        "username": "a1ice", "password1": "x-long-pass-99",
        "password2": "x-long-pass-99", "usable_password": "true"})  # fmt: skip
    assert added.status_code == 200 and "looks like one already taken" in added.content.decode()
