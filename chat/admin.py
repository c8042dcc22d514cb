"""Django admin: moderation of rooms, memberships, messages and users.

Every change goes through the model (whose signals adapt it, ``chat.moderation.signals``) or
``chat.moderation``'s actions, so open sockets hear of it (``chat.realtime.events``), and every
action is recorded in the admin log with who did it.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from chat import accounts, errors
from chat.identity import tokens
from chat.models import ApiToken, ChatRoom, Membership, ProviderIdentity, StoredMessage
from chat.moderation.actions import message_remove, user_ban
from chat.payloads import iso_from_ms
from chat.services import chat_name_check
from chat.stores import get_store
from chat.stores.base import HistoryPage, InvalidCursor, StoreError
from chat.text import decimal_id

MESSAGES_PAGE = 50


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "joined_at", "last_delivered_seq", "last_read_seq"]
    readonly_fields = ["joined_at", "last_delivered_seq", "last_read_seq"]

    def has_add_permission(self, request, obj=None):
        # A direct chat keeps its pair (Membership.clean says so on the membership pages).
        if obj is not None and obj.chat_type == ChatRoom.ChatType.DIRECT:
            return False
        return super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return False  # members are added or removed, not moved


def _set_rooms(modeladmin, request, queryset, *, verb: str, **fields):
    # One save per room (not a bulk update), so that each room's sockets hear of it.
    for chat in queryset:
        for name, value in fields.items():
            setattr(chat, name, value)
        chat.save(update_fields=list(fields))
        modeladmin.log_change(request, chat, verb)
    modeladmin.message_user(request, f"{verb}: {queryset.count()} chat(s).", messages.SUCCESS)


class ChatRoomForm(forms.ModelForm):
    """A room's name follows the same rules as the API's renames (no invisible characters)."""

    def clean_name(self):
        name = (self.cleaned_data.get("name") or "").strip()
        if name or self.instance.chat_type == ChatRoom.ChatType.GROUP:
            try:
                chat_name_check(name)
            except errors.InvalidInput as exc:
                raise forms.ValidationError(exc.detail) from None
        return name


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    form = ChatRoomForm
    list_display = [
        "__str__",
        "chat_type",
        "member_count",
        "locked",
        "archived",
        "created_by",
        "created_at",
        "last_activity",
    ]
    list_filter = ["chat_type", "locked", "archived", "created_at", "last_activity"]
    search_fields = ["name", "=id", "memberships__user__username"]
    readonly_fields = ["id", "direct_key", "created_at", "last_activity", "history"]
    autocomplete_fields = ["created_by"]
    date_hierarchy = "last_activity"
    inlines = [MembershipInline]
    actions = ["lock", "unlock", "archive", "unarchive"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    def get_readonly_fields(self, request, obj=None):
        # A room's type is fixed once it exists (a group cannot become a direct chat).
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "chat_type"] if obj is not None else fields

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, chat):
        return chat.member_total

    @admin.display(description="Messages")
    def history(self, chat):
        if chat.pk is None:
            return "-"
        url = reverse("admin:chat_chatroom_messages", args=[chat.pk])
        return format_html('<a href="{}">Read and moderate its messages</a>', url)

    @admin.action(description="Lock: read-only for members", permissions=["change"])
    def lock(self, request, queryset):
        _set_rooms(self, request, queryset, verb="Locked", locked=True)

    @admin.action(description="Unlock", permissions=["change"])
    def unlock(self, request, queryset):
        _set_rooms(self, request, queryset, verb="Unlocked", locked=False)

    @admin.action(description="Archive: hidden from lists, read-only", permissions=["change"])
    def archive(self, request, queryset):
        _set_rooms(self, request, queryset, verb="Archived", archived=True)

    @admin.action(description="Unarchive", permissions=["change"])
    def unarchive(self, request, queryset):
        _set_rooms(self, request, queryset, verb="Unarchived", archived=False)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The history is in the message store, not in these tables: say it goes too.
        try:
            stored = sum(get_store().last_seq(str(chat.pk)) for chat in objs)
        except StoreError:
            stored = "unknown: the message store is unreachable"
        counts = {**counts, "messages (deleted from the message store)": stored}
        return deleted, counts, perms_needed, protected

    def get_urls(self):
        view = self.admin_site.admin_view(self.messages_view)
        return [
            path("<uuid:chat_id>/messages/", view, name="chat_chatroom_messages"),
            *super().get_urls(),
        ]

    def messages_view(self, request, chat_id):
        """A room's messages, newest first, from whichever store holds them; a moderator can
        delete one (it becomes a tombstone, live in every member's page)."""
        chat = get_object_or_404(ChatRoom, pk=chat_id)
        if not self.has_view_permission(request, chat):
            return redirect("admin:index")
        can_delete = self.has_change_permission(request, chat)
        if request.method == "POST" and can_delete:
            seq = int(decimal_id(request.POST.get("seq", "")) or 0)
            try:
                message = message_remove(chat_id=str(chat.pk), seq=seq)
            except StoreError:
                self.message_user(request, "The message store is unreachable.", messages.ERROR)
                return redirect(request.get_full_path())
            if message is None:
                self.message_user(request, f"No message #{seq} in this chat.", messages.ERROR)
            else:
                self.log_change(
                    request, chat, f"Deleted message #{seq} ({message.message_id}) "
                    f"sent by {message.username}",
                )  # fmt: skip
                self.message_user(request, f"Message #{seq} deleted.", messages.SUCCESS)
            return redirect(request.get_full_path())
        try:
            try:
                page = get_store().history(
                    str(chat.pk), limit=MESSAGES_PAGE, cursor=request.GET.get("cursor") or None
                )
            except InvalidCursor:
                page = get_store().history(str(chat.pk), limit=MESSAGES_PAGE)
        except StoreError:
            self.message_user(request, "The message store is unreachable.", messages.ERROR)
            page = HistoryPage(messages=[], next_cursor=None)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Messages of {chat}",
            "opts": self.model._meta,
            "original": chat,
            "rows": [{"message": m, "sent_at": iso_from_ms(m.timestamp)} for m in page.messages],
            "next_cursor": page.next_cursor,
            "can_delete": can_delete,
        }
        return TemplateResponse(request, "admin/chat/chatroom/messages.html", context)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "chat", "joined_at", "last_read_seq"]
    list_filter = ["chat__chat_type", "joined_at"]
    search_fields = ["user__username", "chat__name", "=chat__id"]
    autocomplete_fields = ["user", "chat"]
    list_select_related = ["user", "chat"]


if settings.CHAT_STORE == "orm":

    @admin.register(StoredMessage)
    class StoredMessageAdmin(admin.ModelAdmin):
        """Every message of the ORM store, searchable by text, sender and chat id."""

        list_display = ["chat_id", "seq", "username", "excerpt", "sent_at", "deleted"]
        list_filter = ["deleted"]
        search_fields = ["body", "username", "=chat_id", "=user_id"]
        ordering = ["-timestamp"]
        actions = ["tombstone"]
        show_full_result_count = False

        def has_add_permission(self, request):
            return False

        def has_change_permission(self, request, obj=None):
            return False

        def has_delete_permission(self, request, obj=None):
            return False  # a moderator's delete keeps the message's place: ``tombstone``

        def has_moderate_permission(self, request):
            return request.user.has_perm("chat.change_chatroom")

        @admin.display(description="Text")
        def excerpt(self, message):
            return "(deleted)" if message.deleted else message.body[:120]

        @admin.display(description="Sent", ordering="timestamp")
        def sent_at(self, message):
            return iso_from_ms(message.timestamp)

        @admin.action(description="Delete (leave a tombstone)", permissions=["moderate"])
        def tombstone(self, request, queryset):
            rooms = {str(c.pk): c for c in ChatRoom.objects.filter(
                pk__in={m.chat_id for m in queryset}
            )}  # fmt: skip
            for message in queryset:
                message_remove(chat_id=message.chat_id, seq=message.seq)
                room = rooms.get(message.chat_id)
                if room is not None:
                    self.log_change(
                        request, room, f"Deleted message #{message.seq} "
                        f"({message.message_id}) sent by {message.username}",
                    )  # fmt: skip
            self.message_user(request, f"Deleted {queryset.count()} message(s).", messages.SUCCESS)


User = get_user_model()
admin.site.unregister(User)


class _LookalikeCheck:
    """Staff choose names under the sign-up's rule too: none that looks like another's."""

    def clean_username(self):
        clean = getattr(super(), "clean_username", None)  # the creation form has one
        username = clean() if clean else self.cleaned_data.get("username")
        if username and accounts.username_lookalike_taken(
            username, besides_user_id=self.instance.pk
        ):
            raise forms.ValidationError("This username looks like one already taken.")
        return username


class UserChangeForm(_LookalikeCheck, auth_forms.UserChangeForm):
    pass


class UserCreationForm(_LookalikeCheck, auth_forms.AdminUserCreationForm):
    pass


class ProviderIdentityInline(admin.TabularInline):
    """The accounts of the OpenID Connect provider a user signs in with (read only)."""

    model = ProviderIdentity
    fields = readonly_fields = ["issuer", "subject", "created_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class ChatUserAdmin(UserAdmin):
    """The user admin, with a ban: deactivate, end sessions, close sockets, in one action."""

    form = UserChangeForm
    add_form = UserCreationForm

    def get_inlines(self, request, obj):
        return [ProviderIdentityInline] if obj is not None else []

    actions = ["ban"]

    @admin.action(description="Ban: deactivate and sign out everywhere", permissions=["change"])
    def ban(self, request, queryset):
        for user in queryset:
            if user == request.user:
                self.message_user(request, "You cannot ban yourself.", messages.ERROR)
                continue
            ended = user_ban(user)
            self.log_change(request, user, f"Banned: deactivated, {ended} session(s) ended")
        self.message_user(request, "Banned the selected users.", messages.SUCCESS)


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name")

    def clean(self):
        cleaned = super().clean()
        try:
            if "name" in cleaned:
                cleaned["name"] = tokens.clean_name(cleaned["name"])
            if cleaned.get("user") is not None:
                tokens.check_room(cleaned["user"])
        except errors.ChatError as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens of users and of bot accounts (a user whose password is disabled, made in the
    user admin): staff make one here, see its secret once, and revoke it by deleting it."""

    form = ApiTokenForm
    list_display = ["name", "user", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "last_used_at"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        # A token signs in as its user: only superusers, who may act as anyone anyway, make
        # them for others (staff with the add permission alone could become any account).
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        token, secret = tokens.token_create(user=obj.user, name=obj.name)
        obj.pk, obj.digest, obj.created_at = token.pk, token.digest, token.created_at
        obj._state.adding = False
        request.new_token_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        # The secret is shown on this answer only (not in a message, which would be kept in a
        # cookie or the session until shown).
        context = {
            **self.admin_site.each_context(request),
            "title": "New API token",
            "token": obj,
            "secret": request.new_token_secret,
            "opts": self.opts,
        }
        response = TemplateResponse(request, "admin/chat/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response
