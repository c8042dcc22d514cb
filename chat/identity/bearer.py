"""Bearer credentials (``Authorization: Bearer …``), for the API and the socket alike: a
personal token (``chat.identity.tokens``) or an access token of the configured provider.

A bearer is read from the ``Authorization`` header only, never from a URL: URLs end up in
proxies' and browsers' logs and histories. A request that puts a token in its query string is
refused as such, so its author learns why. No token is ever logged: refusals log the reason.
"""

import logging
from dataclasses import dataclass

from chat.identity import linking, provider, tokens

logger = logging.getLogger(__name__)

# Query parameters a token might be put in (RFC 6750 names the first): refused, never read.
QUERY_TOKEN_PARAMETERS = frozenset({"access_token", "token", "api_key", "bearer"})
REALM = "chat"


class Refused(Exception):
    """The bearer is not valid here; ``description`` says why, for the client."""

    def __init__(self, description: str, *, error: str = "invalid_token"):
        super().__init__(description)
        self.description = description
        self.error = error

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of the 401 (RFC 6750 §3)."""
        description = self.description.replace("\\", "").replace('"', "'")
        return f'Bearer realm="{REALM}", error="{self.error}", error_description="{description}"'


CHALLENGE = f'Bearer realm="{REALM}"'


@dataclass(frozen=True)
class Credential:
    """Whose a bearer is, and what it is: ``tag`` names it in notices (a revoked token's
    sockets close), ``expires_at`` (epoch seconds) ends a provider token's sockets."""

    user: object
    kind: str  # "token" or "provider"
    tag: str
    expires_at: float | None = None


def from_header(value: str | None) -> str | None:
    """The bearer of an ``Authorization`` header; None when there is no header."""
    if value is None:
        return None
    scheme, _, bearer = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Refused("only Bearer credentials are accepted", error="invalid_request")
    bearer = bearer.strip()
    if not bearer or " " in bearer:
        raise Refused("the Bearer credential is malformed", error="invalid_request")
    return bearer


def names_a_token(names) -> bool:
    """Whether query parameter ``names`` include a token's (in any case, ``name[]`` too)."""
    return bool(QUERY_TOKEN_PARAMETERS.intersection(n.lower().removesuffix("[]") for n in names))


def refuse_query_tokens(names) -> None:
    """``Refused`` when a query string names a token parameter (``names_a_token``)."""
    if names_a_token(names):
        raise Refused(
            "tokens are not accepted in the URL: send Authorization: Bearer",
            error="invalid_request",
        )


@dataclass(frozen=True)
class Checked:
    """A bearer whose form (a personal token) or signature and claims (the provider's access
    token) were checked; whose it is is found by ``resolve``."""

    bearer: str
    access: provider.AccessClaims | None = None


def check(bearer: str) -> Checked:
    """What needs no database: a provider token's signature and claims (which may read the
    provider's keys over the network). ``Refused``, or ``provider.ProviderUnavailable``."""
    if tokens.looks_like_token(bearer):
        return Checked(bearer)
    if not provider.configured():
        raise _refused("not a token of this site")
    try:
        return Checked(bearer, provider.get_provider().access_claims(bearer))
    except provider.InvalidToken as exc:
        raise _refused(str(exc)) from None


def resolve(checked: Checked) -> Credential:
    """Whose a checked bearer is (``Refused`` when nobody's)."""
    if checked.access is None:
        owner = tokens.token_owner(checked.bearer)
        if owner is None:
            raise _refused("the token was revoked or never existed")
        user, token = owner
        if not user.is_active:
            raise _refused("the account is deactivated")
        if token.owner_suspended:
            raise _refused("the account must sign in on the site again")
        return Credential(user=user, kind="token", tag=f"token:{token.pk}")
    access = checked.access
    try:
        user = linking.linked_user(issuer=provider.get_provider().issuer, claims=access.claims)
    except linking.Unlinkable as exc:
        raise _refused(str(exc)) from None
    if user is None:
        raise _refused("the account is deactivated")
    return Credential(
        user=user, kind="provider", tag=f"provider:{access.subject}", expires_at=access.expires_at
    )


def authenticate(bearer: str) -> Credential:
    """Whose ``bearer`` is: ``check`` then ``resolve``."""
    return resolve(check(bearer))


def _refused(description: str) -> Refused:
    logger.info("Refused a bearer: %s", description)
    return Refused(description)
