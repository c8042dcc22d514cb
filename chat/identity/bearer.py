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


def refuse_query_tokens(names) -> None:
    if QUERY_TOKEN_PARAMETERS.intersection(names):
        raise Refused(
            "tokens are not accepted in the URL: send Authorization: Bearer",
            error="invalid_request",
        )


def authenticate(bearer: str) -> Credential:
    """Whose ``bearer`` is (``Refused`` when nobody's; ``provider.ProviderUnavailable`` when the
    provider's keys cannot be read)."""
    if tokens.looks_like_token(bearer):
        owner = tokens.token_owner(bearer)
        if owner is None:
            raise _refused("the token was revoked or never existed")
        user, token = owner
        return Credential(user=user, kind="token", tag=f"token:{token.pk}")
    if not provider.configured():
        raise _refused("not a token of this site")
    source = provider.get_provider()
    try:
        access = source.access_claims(bearer)
    except provider.InvalidToken as exc:
        raise _refused(str(exc)) from None
    user = linking.linked_user(issuer=source.issuer, claims=access.claims)
    if user is None:
        raise _refused("the account is deactivated")
    return Credential(
        user=user, kind="provider", tag=f"provider:{access.subject}", expires_at=access.expires_at
    )


def _refused(description: str) -> Refused:
    logger.info("Refused a bearer: %s", description)
    return Refused(description)
