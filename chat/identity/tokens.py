"""Personal API tokens: made, listed and revoked by their owner (pages, API, admin), and
looked up when a program presents one.

A token's secret is ``chat_`` and 43 URL-safe characters (256 random bits). Only its SHA-256 is
stored, so a leaked database holds no usable token; the secret is shown once, when it is made.
Revoking deletes the row: the next request with it is refused, and the sockets it opened close
(``chat.moderation.signals``).
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chat import errors, text
from chat.models import ApiToken, ProviderIdentity
from chat.realtime import events

PREFIX = "chat_"
NAME_MAX_LENGTH = 100
# A token's last use is written at most this often (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """Whether a bearer is one of these (else it may be the provider's access token)."""
    return value.startswith(PREFIX)


def clean_name(name) -> str:
    if not isinstance(name, str):
        raise errors.InvalidInput("A token needs a name.")
    name = " ".join(name.split())
    if not name:
        raise errors.InvalidInput("A token needs a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise errors.InvalidInput(f"A token's name is at most {NAME_MAX_LENGTH} characters.")
    if not text.is_storable(name) or not text.is_plain_line(name):
        raise errors.InvalidInput("A token's name must be plain text on one line.")
    return name


def check_room(user) -> None:
    """``InvalidInput`` when ``user`` has as many tokens as an account may."""
    if ApiToken.objects.filter(user=user).count() >= settings.CHAT_API_TOKENS_PER_USER:
        raise errors.InvalidInput(
            f"There are {settings.CHAT_API_TOKENS_PER_USER} tokens, the most one account may "
            "have: revoke one no longer used first.",
            code="too_many_tokens",
        )


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token of ``user`` named ``name``, and its secret (never stored)."""
    name = clean_name(name)
    with transaction.atomic():
        # The owner's row is locked so that two requests at once cannot both pass the limit.
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).exists()
        check_room(user)
        secret = PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(user=user, name=name, digest=digest(secret))
    return token, secret


def tokens_of(user) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user))


@events.announcing
def token_revoke(*, user, token_id) -> None:
    """Delete one of ``user``'s tokens (``NotFound`` when it is not theirs, is gone, or
    ``token_id`` is no token id at all)."""
    try:
        token_id = uuid.UUID(str(token_id))
    except ValueError:
        raise errors.NotFound("No such token.", code="not_found") from None
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise errors.NotFound("No such token.", code="not_found")
    events.session_ended(f"token:{token_id}")  # its sockets close


def token_owner(secret: str):
    """The user whose token ``secret`` is, with the token; None when it is no token (revoked,
    never made). The caller checks the user may still sign in (``is_active``, and
    ``token.owner_suspended``, as ``suspended`` says)."""
    # One query: the token, its owner, and whether the owner's provider account is suspended.
    suspended_identity = ProviderIdentity.objects.filter(
        user_id=OuterRef("user_id"), suspended_at__isnull=False
    )
    token = (
        ApiToken.objects.select_related("user")
        .annotate(owner_suspended=Exists(suspended_identity))
        .filter(digest=digest(secret))
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token.user, token


def suspended(user) -> bool:
    """Whether ``user``'s account at the provider was refused at its last check (disabled or
    signed out everywhere there): their tokens wait until they sign in on the site again."""
    return ProviderIdentity.objects.filter(user_id=user.pk, suspended_at__isnull=False).exists()
