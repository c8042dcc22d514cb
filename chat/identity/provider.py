"""The OpenID Connect provider (Amazon Cognito, or any other): its endpoints, its signing keys,
and checking the tokens it issues.

Endpoints come from ``<issuer>/.well-known/openid-configuration``, read when first needed and
kept for an hour. Signing keys come from its JWKS, kept until a token names a key the set does
not hold: the set is then read again (the provider rotated its keys), at most once a minute so
that tokens naming made-up keys cannot make the app flood the provider.

While the provider cannot be reached, a failed read is remembered for ``RETRY_SECONDS``: calls
in that time fail at once (``ProviderUnavailable``) instead of each waiting for a timeout, and
one thread at a time reads (the others wait for its answer).
"""

import logging
import threading
import time
from dataclasses import dataclass

import jwt
import requests
from django.conf import settings

logger = logging.getLogger(__name__)

DISCOVERY_SECONDS = 3600
JWKS_REFRESH_MIN_SECONDS = 60
RETRY_SECONDS = 15
TIMEOUT = 3
# Clock difference tolerated between the provider and this server, in seconds.
LEEWAY = 30
ALGORITHMS = ["RS256"]


class InvalidToken(Exception):
    """A token the provider did not issue to this app, or no longer valid; the message says
    which check failed (it never contains the token)."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered nonsense."""


def configured() -> bool:
    return bool(settings.CHAT_OIDC_ISSUER)


@dataclass
class AccessClaims:
    subject: str
    expires_at: float
    claims: dict


class Provider:
    """One issuer's endpoints and keys, shared by a process's threads."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self._reading = threading.Lock()  # one read of the provider at a time
        self._discovery: dict | None = None
        self._discovered_at = 0.0
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_read_at = -JWKS_REFRESH_MIN_SECONDS
        self._failed_at = -RETRY_SECONDS
        self._failure = ""

    def _get(self, url: str) -> dict:
        """A JSON document of the provider's; while a read failed less than ``RETRY_SECONDS``
        ago, ``ProviderUnavailable`` at once."""
        if time.monotonic() - self._failed_at < RETRY_SECONDS:
            raise ProviderUnavailable(f"unreachable a moment ago ({self._failure})")
        try:
            response = requests.get(url, timeout=TIMEOUT)
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            return document
        except (requests.RequestException, ValueError) as exc:
            self._failed_at, self._failure = time.monotonic(), f"{url}: {exc.__class__.__name__}"
            raise ProviderUnavailable(self._failure) from exc

    def metadata(self) -> dict:
        if self._discovery and time.monotonic() - self._discovered_at < DISCOVERY_SECONDS:
            return self._discovery
        with self._reading:
            if self._discovery and time.monotonic() - self._discovered_at < DISCOVERY_SECONDS:
                return self._discovery  # read by the thread this one waited for
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = self._get(url)
            if document.get("issuer") != self.issuer:
                raise ProviderUnavailable(
                    f"the discovery document names issuer {document.get('issuer')!r}, "
                    f"not {self.issuer!r}"
                )
            self._discovery, self._discovered_at = document, time.monotonic()
        return document

    def endpoint(self, name: str) -> str:
        url = self.metadata().get(name)
        if not url:
            raise ProviderUnavailable(f"the provider publishes no {name}")
        return url

    def _read_keys(self, kid) -> None:
        jwks_uri = self.endpoint("jwks_uri")
        with self._reading:
            if kid in self._keys:
                return  # read by the thread this one waited for
            # Counted from the attempt: a failed read waits as long as a successful one.
            self._keys_read_at = time.monotonic()
            document = self._get(jwks_uri)
            keys = {}
            for entry in document.get("keys", []):
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                    continue
                if not isinstance(entry.get("kid"), str):
                    continue
                try:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue  # a key of a kind this app does not use
            self._keys = keys

    def signing_key(self, token: str) -> jwt.PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a JSON web token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"the token's algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("the token names no signing key")
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._keys_read_at > JWKS_REFRESH_MIN_SECONDS:
            self._read_keys(kid)
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed by a key the provider does not publish")
        return key

    def _decode(self, token: str, **options) -> dict:
        key = self.signing_key(token)
        try:
            return jwt.decode(
                token, key.key, algorithms=ALGORITHMS, issuer=self.issuer, leeway=LEEWAY,
                **options,
            )  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token was issued by another provider") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token was issued to another client") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is invalid ({exc.__class__.__name__})") from exc

    def id_token_claims(self, token: str, *, nonce: str | None) -> dict:
        """The claims of an ID token issued to this app for the sign-in that sent ``nonce``."""
        claims = self._decode(
            token,
            audience=settings.CHAT_OIDC_CLIENT_ID,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
        if claims.get("token_use", "id") != "id":
            raise InvalidToken("the token is not an ID token")
        if nonce is None or claims.get("nonce") != nonce:
            raise InvalidToken("the token's nonce is not this sign-in's")
        return claims

    def access_claims(self, token: str) -> AccessClaims:
        """The claims of an access token issued to this app (Cognito's ``token_use=access``
        and ``client_id``; RFC 9068's ``at+jwt`` type): never an ID token, never another
        client's."""
        claims = self._decode(
            token, options={"require": ["iss", "sub", "exp"], "verify_aud": False}
        )
        kind = str(jwt.get_unverified_header(token).get("typ", "")).lower()
        if claims.get("token_use") != "access" and kind not in {"at+jwt", "application/at+jwt"}:
            raise InvalidToken("the token is not an access token")
        if claims.get("client_id") != settings.CHAT_OIDC_CLIENT_ID:
            raise InvalidToken("the token was issued to another client")
        return AccessClaims(subject=claims["sub"], expires_at=float(claims["exp"]), claims=claims)


_providers: dict[str, Provider] = {}
_providers_lock = threading.Lock()


def get_provider() -> Provider:
    """The configured issuer's provider (one per process)."""
    issuer = settings.CHAT_OIDC_ISSUER
    with _providers_lock:
        if issuer not in _providers:
            _providers[issuer] = Provider(issuer)
        return _providers[issuer]
