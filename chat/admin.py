"""Django admin: moderation of rooms and memberships."""

from django.contrib import admin
from django.db.models import Count

from chat.models import ChatRoom, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "joined_at", "last_delivered_seq", "last_read_seq"]
    readonly_fields = ["joined_at", "last_delivered_seq", "last_read_seq"]


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "chat_type",
        "member_count",
        "created_by",
        "created_at",
        "last_activity",
    ]
    list_filter = ["chat_type", "created_at", "last_activity"]
    search_fields = ["name", "=id", "memberships__user__username"]
    readonly_fields = ["id", "direct_key", "created_at", "last_activity"]
    autocomplete_fields = ["created_by"]
    date_hierarchy = "last_activity"
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, chat):
        return chat.member_total


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "chat", "joined_at", "last_read_seq"]
    list_filter = ["chat__chat_type", "joined_at"]
    search_fields = ["user__username", "chat__name", "=chat__id"]
    autocomplete_fields = ["user", "chat"]
    list_select_related = ["user", "chat"]
