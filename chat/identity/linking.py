"""The user an account of the OpenID Connect provider signs in as.

Accounts are linked by the provider's issuer and ``sub`` only. An email address proves nothing
here (the provider may not have verified it, and a local account's address was never checked),
so an account of the provider whose email equals a local user's becomes a user of its own.
A new user's name is the provider's ``preferred_username`` (Cognito: ``cognito:username``) when
it passes the sign-up rules, else a generated ``user-…`` the user can change on the settings
page.
"""

import logging
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chat import text
from chat.forms import UsernameChangeForm
from chat.models import ProviderIdentity

logger = logging.getLogger(__name__)

USERNAME_CLAIMS = ("preferred_username", "cognito:username", "username")
SUBJECT_MAX_LENGTH = 255  # ProviderIdentity.subject


class Unlinkable(Exception):
    """The provider's claims name no account this app can keep (a malformed ``sub``)."""


def _valid_username(candidate) -> str | None:
    """``candidate`` as sign-up would take it (normalized), or None."""
    if not isinstance(candidate, str) or not candidate:
        return None
    form = UsernameChangeForm(data={"username": candidate})
    return form.cleaned_data["username"] if form.is_valid() else None


def username_for(claims: dict) -> str:
    """A name for a new user from the provider's claims, else a generated one."""
    for claim in USERNAME_CLAIMS:
        username = _valid_username(claims.get(claim))
        if username:
            return username
    while True:
        username = _valid_username(f"user-{secrets.token_hex(4)}")
        if username:
            return username


def linked_user(*, issuer: str, claims: dict):
    """The user ``claims["sub"]`` of ``issuer`` signs in as, made on first sign-in; None when
    that user is deactivated."""
    subject = claims.get("sub")
    if (
        not isinstance(subject, str)
        or not subject
        or len(subject) > SUBJECT_MAX_LENGTH
        or not text.is_storable(subject)
    ):
        raise Unlinkable("the token's subject is not one this site can keep")
    identity = (
        ProviderIdentity.objects.select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        identity = _link_new_user(issuer=issuer, subject=subject, claims=claims)
    elif identity.suspended_at is not None:
        # The provider has just issued a token for it: the account is in good standing again.
        ProviderIdentity.objects.filter(pk=identity.pk).update(suspended_at=None)
    return identity.user if identity.user.is_active else None


def _link_new_user(*, issuer: str, subject: str, claims: dict) -> ProviderIdentity:
    User = get_user_model()
    for _ in range(3):
        username = username_for(claims)
        try:
            with transaction.atomic():
                user = User(username=username)
                user.set_unusable_password()  # signs in through the provider only
                user.full_clean(exclude=["password"])
                user.save()
                identity = ProviderIdentity.objects.create(
                    issuer=issuer, subject=subject, user=user
                )
        except (IntegrityError, ValidationError):
            # The same account signing in twice at once, or the name taken meanwhile.
            found = ProviderIdentity.objects.select_related("user").filter(
                issuer=issuer, subject=subject
            )
            if found.exists():
                return found.get()
            continue
        logger.info("New user %s for an account of %s", user.pk, issuer)
        return identity
    raise RuntimeError("could not name a new user")
