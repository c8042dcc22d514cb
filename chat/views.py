"""Server-rendered pages. The live parts are in static/chat/*.js."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from chat import errors, selectors, services
from chat.api.throttling import CreateChatThrottle, CreateTokenThrottle
from chat.forms import (
    ApiTokenForm,
    ChatCreateForm,
    LogInForm,
    PasswordChangeForm,
    SignUpForm,
    UsernameChangeForm,
)
from chat.identity import signin, tokens
from chat.payloads import (
    QUOTE_LENGTH,
    chat_payload,
    member_payload,
    receipt_payload,
    search_hit_payload,
)
from chat.selectors import chat_title


class _ThrottledAs429:
    """A form refused before its password was tried answers 429 with ``Retry-After``."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.throttled.retry_after)
        return response


class LogInView(_ThrottledAs429, auth_views.LoginView):
    """Django's log-in page, checking passwords as ``chat.accounts`` says."""

    form_class = LogInForm


class PasswordChangeView(_ThrottledAs429, auth_views.PasswordChangeView):
    """Django's password change page; the old password is checked as a log-in's is."""

    form_class = PasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


@require_http_methods(["GET", "POST"])
def signup(request):
    if not settings.CHAT_LOCAL_SIGNUP:
        raise Http404("Sign-up is not offered here.")
    if request.user.is_authenticated:
        return redirect("chat:list")
    form = SignUpForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat:list")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def chat_list(request):
    """The chat list; its form starts a chat as ``POST /api/chats`` does: with people the user
    knows, under the same create-chat budget."""
    form = ChatCreateForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if not CreateChatThrottle().allow_request(request, None):
                raise errors.Throttled("You have started many chats lately; try again later.")
            chat, _ = services.chat_create(
                creator=request.user,
                chat_type=form.cleaned_data["chat_type"],
                participants=selectors.users_by_usernames(
                    form.cleaned_data["usernames"], known_to=request.user
                ),
                name=form.cleaned_data["name"],
            )
        except errors.ChatError as exc:
            form.add_error(None, exc.detail)
            status = exc.status
        else:
            return redirect("chat:detail", chat_id=chat.pk)
    try:
        listed = _chat_list_context(request, cursor=request.GET.get("after"))
    except errors.InvalidInput:
        return redirect("chat:list")
    return render(request, "chat/list.html", {**listed, "new_chat_form": form}, status=status)


SEARCH_PAGE_RESULTS = 50


@login_required
@require_GET
def search(request):
    """Messages of the user's chats with the words searched for, each linking to its place."""
    query = request.GET.get("q", "").strip()[:200]
    hits, error = [], ""
    if query:
        try:
            hits = selectors.message_search(
                user=request.user, query=query, limit=SEARCH_PAGE_RESULTS
            )
        except errors.ChatError as exc:
            error = exc.detail
    results = [search_hit_payload(hit) for hit in hits]
    for hit in results:
        hit["when"] = datetime.fromtimestamp(hit["message"]["timestamp"] / 1000, tz=UTC)
    context = {
        **_chat_list_context(request),
        "query": query,
        "results": results,
        "error": error,
        "limit": SEARCH_PAGE_RESULTS,
    }
    return render(request, "chat/search.html", context)


def initials(title: str) -> str:
    """One or two letters for a chat's or person's avatar."""
    words = [w for w in title.replace(",", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[1][0] if len(words) > 1 else words[0][1:2])
    return letters.upper()


def hue(key: str) -> int:
    """One of eight avatar colours for a person (user id) or a group (chat id), the same
    everywhere (static/chat/text.js's hue())."""
    return sum(key.encode()) % 8


def message_preview(message: dict) -> str:
    """A message in one line: its text, else what it carries (static/chat/text.js's preview())."""
    if message.get("deleted"):
        return "message deleted"
    if message.get("message"):
        return message["message"]
    files = message.get("attachments") or []
    if not files:
        return ""
    pictures = sum(1 for f in files if str(f.get("contentType", "")).startswith("image/"))
    if pictures == len(files):
        return f"📷 {pictures} photos" if pictures > 1 else "📷 Photo"
    more = f" and {len(files) - 1} more" if len(files) > 1 else ""
    return f"📎 {files[0]['name']}{more}"


def _chat_list_context(request, *, cursor=None, active_chat_id="") -> dict:
    """The chat list pane: the first page of the user's chats, titled, with avatars."""
    viewer_id = str(request.user.pk)
    page = selectors.chat_list_for_user(user_id=viewer_id, cursor=cursor)
    chats = []
    for listed in page.chats:
        chat = chat_payload(listed)
        chat["title"] = chat_title(
            name=listed.chat.name, members=listed.members, viewer_id=viewer_id
        )
        others = [m.user_id for m in listed.members if m.user_id != viewer_id]
        chat["other_id"] = others[0] if chat["chatType"] == "direct" and others else ""
        # One colour per person everywhere: a direct chat wears the other person's.
        chat["initials"] = initials(chat["title"])
        chat["hue"] = hue(chat["other_id"] or chat["chatId"])
        if chat["lastMessage"]:
            chat["preview"] = message_preview(chat["lastMessage"])
        chats.append(chat)
    return {
        "chats": chats,
        "next_cursor": page.next_cursor,
        "chat_ids": [chat["chatId"] for chat in chats],
        "user_id": viewer_id,
        "active_chat_id": active_chat_id,
        "new_chat_form": ChatCreateForm(),
    }


@login_required
@require_GET
def chat_detail(request, chat_id):
    try:
        chat = selectors.chat_for_member(chat_id=str(chat_id), user=request.user)
    except errors.NotFound:
        raise Http404("No such chat.") from None
    except errors.Forbidden:
        raise PermissionDenied("You are not a member of this chat.") from None
    members = selectors.chat_members(chat)
    title = chat_title(name=chat.name, members=members, viewer_id=str(request.user.pk))
    page_data = {
        "chatId": str(chat.pk),
        "userId": str(request.user.pk),
        "username": request.user.get_username(),
        "maxLength": settings.CHAT_MESSAGE_MAX_LENGTH,
        "maxUpload": settings.CHAT_UPLOAD_MAX_BYTES,
        "uploadTypes": settings.CHAT_UPLOAD_TYPES,
        "maxAttachments": settings.CHAT_ATTACHMENTS_PER_MESSAGE,
        # The server's own limits, so the page never keeps copies of them.
        "quoteLength": QUOTE_LENGTH,
        "pageSize": selectors.HISTORY_DEFAULT_LIMIT,
        "chatType": chat.chat_type,
        "receipts": [receipt_payload(receipt) for receipt in selectors.chat_receipts(chat)],
        "members": [member_payload(member) for member in members],
        "createdBy": str(chat.created_by_id or ""),
    }
    other_id = (
        next((m.user_id for m in members if m.user_id != str(request.user.pk)), "")
        if chat.chat_type == "direct"
        else ""
    )
    context = {
        **_chat_list_context(request, active_chat_id=str(chat.pk)),
        "initials": initials(title),
        "hue": hue(other_id or str(chat.pk)),
        "other_id": other_id,
        "chat": chat,
        "title": title,
        "members": page_data["members"],
        "page_data": page_data,
        "max_length": settings.CHAT_MESSAGE_MAX_LENGTH,
        "read_only": chat.locked or chat.archived,
        "upload_types": settings.CHAT_UPLOAD_TYPES,
    }
    return render(request, "chat/detail.html", context)


class LogOutView(auth_views.LogoutView):
    """Django's log-out; a session signed in with the provider ends there too (its
    end-session page, which sends the browser back to the log-in page)."""

    def post(self, request, *args, **kwargs):
        at_provider = (
            signin.end_session_url(request) if signin.signed_in_with_provider(request) else None
        )
        response = super().post(request, *args, **kwargs)
        return redirect(at_provider) if at_provider else response


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    """The user's name and personal API tokens (made and revoked as ``/api/tokens`` does)."""
    action = request.POST.get("action") if request.method == "POST" else None
    rename_form = UsernameChangeForm(
        request.POST if action == "rename" else None, user=request.user
    )
    token_form = ApiTokenForm(request.POST if action == "token" else None)
    new_secret, status = None, 200
    if action == "rename" and rename_form.is_valid():
        try:
            services.user_rename(user=request.user, username=rename_form.cleaned_data["username"])
        except errors.InvalidInput as exc:  # taken meanwhile
            rename_form.add_error("username", exc.detail)
        else:
            messages.success(request, f"You are now {request.user.get_username()}.")
            return redirect("settings")
    if action == "token" and token_form.is_valid():
        try:
            if not CreateTokenThrottle().allow_request(request, None):
                raise errors.Throttled("You have made many tokens lately; try again later.")
            _, new_secret = tokens.token_create(
                user=request.user, name=token_form.cleaned_data["name"]
            )
        except errors.ChatError as exc:
            token_form.add_error("name", exc.detail)
            status = exc.status
        else:
            token_form = ApiTokenForm()
    if action == "revoke":
        try:
            tokens.token_revoke(user=request.user, token_id=request.POST.get("id"))
        except errors.NotFound:  # revoked meanwhile (in another tab), or never one of theirs
            messages.info(request, "That token is not (or no longer) one of yours.")
        else:
            messages.success(request, "The token is revoked: programs using it are signed out.")
        return redirect("settings")
    if action and status == 200 and new_secret is None:
        status = 400
    context = {
        "rename_form": rename_form,
        "token_form": token_form,
        "tokens": tokens.tokens_of(request.user),
        "new_secret": new_secret,
        "token_limit": settings.CHAT_API_TOKENS_PER_USER,
    }
    response = render(request, "chat/settings.html", context, status=status)
    if new_secret:
        response["Cache-Control"] = "no-store"  # the secret, shown once, stays out of caches
    return response
