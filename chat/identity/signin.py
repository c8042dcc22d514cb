"""Signing in with the OpenID Connect provider, on mozilla-django-oidc.

The library runs the authorization code flow: ``state`` (kept in the session, used once),
``nonce`` and PKCE (S256). Here it is given what it leaves to its users: the provider's
endpoints from discovery, the ID token's full check (``chat.identity.provider``: signature
against the provider's keys, ``iss``, ``aud``, ``exp``, ``nonce``), users linked by issuer and
``sub`` (``chat.identity.linking``, never by email), re-validation of the session with the
provider (``ProviderSessionMiddleware``) and log-out at the provider.
"""

import logging
import time
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from chat.identity import bearer, linking, provider
from chat.models import ProviderIdentity
from chat.realtime import events

logger = logging.getLogger(__name__)

BACKEND = "chat.identity.signin.ProviderBackend"
# Session keys: the provider's refresh token (re-validation), its ID token (log-out's hint),
# and when the provider last said the user may stay signed in.
REFRESH_TOKEN = "oidc_refresh_token"
ID_TOKEN = "oidc_id_token"
CHECKED_AT = "oidc_checked_at"
# The ID token's expiry: a session the provider gave no refresh token for ends then, as it
# cannot be re-checked.
EXPIRES_AT = "oidc_expires_at"
# After the provider could not be reached, the next try waits this long (seconds).
RETRY_UNREACHABLE = 60


def _failed(request, why: str):
    messages.error(request, f"Signing in with {settings.CHAT_OIDC_NAME} did not work: {why}.")
    return redirect("login")


class ProviderBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with the provider's endpoints read when used (not at
    start-up), tokens checked by ``chat.identity.provider`` and users found by
    ``chat.identity.linking``."""

    def __init__(self, *args, **kwargs):
        # The library reads its endpoints from settings here; this backend is also loaded on
        # every request to read the session's user, so nothing is fetched until a sign-in.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.CHAT_OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.CHAT_OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = "RS256"
        self.OIDC_OP_JWKS_ENDPOINT = None
        self.OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self):
        return provider.get_provider().endpoint("token_endpoint")

    def authenticate(self, request, **kwargs):
        if not provider.configured():
            return None
        return super().authenticate(request, **kwargs)

    def get_user(self, user_id):
        # Django's: a deactivated user's sessions sign nobody in (the library's skips that).
        return ModelBackend.get_user(self, user_id)

    def get_token(self, payload):
        # The client authenticates with HTTP Basic when it has a secret (Cognito's app client
        # with a secret), else sends only its id (a public client, PKCE only).
        payload = {k: v for k, v in payload.items() if k != "client_secret"}
        secret = settings.CHAT_OIDC_CLIENT_SECRET
        response = requests.post(
            self.OIDC_OP_TOKEN_ENDPOINT,
            data=payload,
            auth=(settings.CHAT_OIDC_CLIENT_ID, secret) if secret else None,
            timeout=10,
        )
        self.raise_token_response_error(response)
        self.token_info = response.json()
        return self.token_info

    def verify_token(self, token, **kwargs):
        try:
            return provider.get_provider().id_token_claims(token, nonce=kwargs.get("nonce"))
        except provider.InvalidToken as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from None

    def store_tokens(self, access_token, id_token):
        # Kept with the user this sign-in finds, and put in the session once it signs them in
        # (CallbackView.login_success): a sign-in that fails leaves the session as it was.
        self.session_tokens = {ID_TOKEN: id_token}
        refresh = getattr(self, "token_info", {}).get("refresh_token")
        if refresh:
            self.session_tokens[REFRESH_TOKEN] = refresh

    def get_or_create_user(self, access_token, id_token, payload):
        # The ID token's claims, just verified, name the account: no userinfo call needed.
        try:
            user = linking.linked_user(issuer=provider.get_provider().issuer, claims=payload)
        except linking.Unlinkable as exc:
            raise SuspiciousOperation(str(exc)) from None
        if user is not None:
            user.provider_session = {**self.session_tokens, EXPIRES_AT: payload["exp"]}
        return user


class SignInView(OIDCAuthenticationRequestView):
    """ "Sign in with …": off to the provider, with state, nonce and a PKCE challenge."""

    def __init__(self, *args, **kwargs):
        # Skips the library's own, which reads the endpoint from settings.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.CHAT_OIDC_CLIENT_ID

    def get(self, request):
        if not provider.configured():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider.get_provider().endpoint("authorization_endpoint")
        except provider.ProviderUnavailable as exc:
            logger.warning("Sign-in with the provider: %s", exc)
            return _failed(request, "the provider cannot be reached; try again shortly")
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """Back from the provider: the code exchanged (with the PKCE verifier), the ID token
    checked, the user signed in. Any failure is a message on the log-in page."""

    def get(self, request):
        if not provider.configured():
            raise Http404
        if request.GET.get("error"):
            # Cancelled or refused at the provider. (The library would also log out whoever
            # is signed in: a link from another site could do that.)
            states = request.session.get("oidc_states")
            if isinstance(states, dict) and states.pop(request.GET.get("state"), None):
                request.session.modified = True
            return _failed(request, "it was cancelled or refused at the provider")
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            logger.warning("Sign-in with the provider refused: %s", exc)
            return self._failed("the answer could not be verified")
        except requests.HTTPError as exc:  # the token endpoint refused the code
            status = exc.response.status_code if exc.response is not None else ""
            logger.warning("Sign-in refused at the provider's token endpoint: %s", status)
            return self._failed("the provider refused it; sign in again")
        except (requests.RequestException, provider.ProviderUnavailable) as exc:
            logger.warning("Sign-in with the provider failed: %s", exc.__class__.__name__)
            return self._failed("the provider cannot be reached; try again shortly")

    def login_failure(self):
        return self._failed("the account could not be signed in")

    def login_success(self):
        response = super().login_success()  # (a new session key: the user signed in)
        session = self.request.session
        for key in (ID_TOKEN, REFRESH_TOKEN, EXPIRES_AT):
            session.pop(key, None)
        session.update(getattr(self.user, "provider_session", {}))
        session[CHECKED_AT] = time.time()  # re-checked from now on
        return response

    def _failed(self, why: str):
        return _failed(self.request, why)


def signed_in_with_provider(request) -> bool:
    return request.session.get(BACKEND_SESSION_KEY) == BACKEND


def end_session_url(request) -> str | None:
    """Where log-out sends the browser to end the provider's session too (then back to the
    log-in page): the provider's ``end_session_endpoint`` (with the ID token as hint), else
    ``CHAT_OIDC_LOGOUT_URL`` in Cognito's form."""
    back = request.build_absolute_uri(reverse("login"))
    try:
        endpoint = provider.get_provider().metadata().get("end_session_endpoint")
    except provider.ProviderUnavailable:
        endpoint = None
    if endpoint:
        query = {"client_id": settings.CHAT_OIDC_CLIENT_ID, "post_logout_redirect_uri": back}
        if request.session.get(ID_TOKEN):
            query["id_token_hint"] = request.session[ID_TOKEN]
        return f"{endpoint}?{urlencode(query)}"
    if settings.CHAT_OIDC_LOGOUT_URL:
        query = {"client_id": settings.CHAT_OIDC_CLIENT_ID, "logout_uri": back}
        return f"{settings.CHAT_OIDC_LOGOUT_URL}?{urlencode(query)}"
    return None


def _still_allowed(refresh_token: str) -> tuple[bool | None, dict]:
    """Ask the provider whether the user of ``refresh_token`` may stay signed in (a refresh
    grant): True with its answer; False when it refuses the grant (``invalid_grant``: the user
    was disabled or signed out everywhere, or the token expired or was revoked); None when it
    could not be asked or answered otherwise (unreachable, throttled, this app's client
    refused: signing everyone out for those would be wrong)."""
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": settings.CHAT_OIDC_CLIENT_ID,
    }
    secret = settings.CHAT_OIDC_CLIENT_SECRET
    try:
        endpoint = provider.get_provider().endpoint("token_endpoint")
        response = requests.post(
            endpoint, data=data, auth=(settings.CHAT_OIDC_CLIENT_ID, secret) if secret else None,
            timeout=provider.TIMEOUT,
        )  # fmt: skip
        answer = response.json()
    except (requests.RequestException, provider.ProviderUnavailable, ValueError) as exc:
        logger.warning("Could not re-check a session with the provider: %s", exc)
        return None, {}
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code == 200:
        return True, answer
    if response.status_code in {400, 401} and answer.get("error") == "invalid_grant":
        return False, answer
    logger.warning(
        "The provider answered a session re-check with %s %s",
        response.status_code, str(answer.get("error", ""))[:40],
    )  # fmt: skip
    return None, answer


class ProviderSessionMiddleware:
    """Every ``CHAT_OIDC_RECHECK_SECONDS``, a session signed in with the provider asks it
    whether the user may stay signed in; when the provider refuses (the user was disabled or
    signed out everywhere) the session ends here too, with its sockets, and the user's API
    tokens wait until they sign in again. The pages' presence polls make requests, so an open
    page is checked as often. One request of a session makes the check: it marks the check
    taken before asking, so the session's other requests meanwhile go on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.CHAT_OIDC_ISSUER or settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)  # no provider, or no session to check
        session = request.session
        if not signed_in_with_provider(request):
            return self.get_response(request)
        now = time.time()
        if not session.get(REFRESH_TOKEN):
            if now > session.get(EXPIRES_AT, 0):
                return self._ended(request, "Your session ended: sign in again.")
        elif now - session.get(CHECKED_AT, 0) > settings.CHAT_OIDC_RECHECK_SECONDS:
            used = session[REFRESH_TOKEN]
            session[CHECKED_AT] = now
            session.save()  # taken: the session's other requests skip this check
            allowed, answer = _still_allowed(used)
            if allowed is False:
                # Another request of this session may have just traded the same refresh token
                # for a new one (a provider that rotates them): then this is no refusal.
                stored = type(session)(session.session_key)
                if stored.get(REFRESH_TOKEN, used) != used:
                    session[REFRESH_TOKEN] = stored[REFRESH_TOKEN]
                    allowed = True
            if allowed is False:
                _suspend(session)
                return self._ended(request, "Your session ended at the sign-in provider.")
            if allowed:
                if answer.get("refresh_token"):
                    session[REFRESH_TOKEN] = answer["refresh_token"]
                if answer.get("id_token"):
                    session[ID_TOKEN] = answer["id_token"]
            else:  # not asked: try again in a minute
                session[CHECKED_AT] = now - settings.CHAT_OIDC_RECHECK_SECONDS + RETRY_UNREACHABLE
        return self.get_response(request)

    @staticmethod
    def _ended(request, detail: str):
        logger.info("The provider's session of user %s ended", request.session.get("_auth_user_id"))
        auth.logout(request)  # (its sockets close: user_logged_out)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"status": 401, "code": "not_authenticated", "detail": detail}, status=401
            )
            response["WWW-Authenticate"] = bearer.CHALLENGE
            return response
        messages.info(request, detail)
        return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': request.path})}")


def _suspend(session) -> None:
    """The provider refused the user's session: their API tokens wait until they sign in again
    (and their token sockets close now)."""
    user_id = session.get("_auth_user_id")
    if user_id is None:
        return
    ProviderIdentity.objects.filter(user_id=user_id, issuer=provider.get_provider().issuer).update(
        suspended_at=timezone.now()
    )
    events.user_changed(user_id)
