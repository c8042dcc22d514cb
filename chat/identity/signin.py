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
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from chat.identity import bearer, linking, provider

logger = logging.getLogger(__name__)

BACKEND = "chat.identity.signin.ProviderBackend"
# Session keys: the provider's refresh token (re-validation), its ID token (log-out's hint),
# and when the provider last said the user may stay signed in.
REFRESH_TOKEN = "oidc_refresh_token"
ID_TOKEN = "oidc_id_token"
CHECKED_AT = "oidc_checked_at"
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
        session = self.request.session
        session[ID_TOKEN] = id_token
        refresh = getattr(self, "token_info", {}).get("refresh_token")
        if refresh:
            session[REFRESH_TOKEN] = refresh
        session[CHECKED_AT] = time.time()

    def get_or_create_user(self, access_token, id_token, payload):
        # The ID token's claims, just verified, name the account: no userinfo call needed.
        return linking.linked_user(issuer=provider.get_provider().issuer, claims=payload)


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
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            logger.warning("Sign-in with the provider refused: %s", exc)
            return _failed(request, "the answer could not be verified")
        except requests.HTTPError as exc:  # the token endpoint refused the code
            status = exc.response.status_code if exc.response is not None else ""
            logger.warning("Sign-in refused at the provider's token endpoint: %s", status)
            return _failed(request, "the provider refused it; sign in again")
        except (requests.RequestException, provider.ProviderUnavailable) as exc:
            logger.warning("Sign-in with the provider failed: %s", exc.__class__.__name__)
            return _failed(request, "the provider cannot be reached; try again shortly")

    def login_failure(self):
        if self.request.GET.get("error"):
            return _failed(self.request, "it was cancelled or refused at the provider")
        return _failed(self.request, "the account could not be signed in")


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


def _still_allowed(request) -> bool | None:
    """Ask the provider whether the session's user may stay signed in (a refresh-token grant):
    True, False (refused: disabled, signed out everywhere, token revoked), or None when it
    could not be asked."""
    session = request.session
    data = {
        "grant_type": "refresh_token",
        "refresh_token": session[REFRESH_TOKEN],
        "client_id": settings.CHAT_OIDC_CLIENT_ID,
    }
    auth_ = None
    if settings.CHAT_OIDC_CLIENT_SECRET:
        auth_ = (settings.CHAT_OIDC_CLIENT_ID, settings.CHAT_OIDC_CLIENT_SECRET)
    try:
        endpoint = provider.get_provider().endpoint("token_endpoint")
        response = requests.post(endpoint, data=data, auth=auth_, timeout=5)
    except (requests.RequestException, provider.ProviderUnavailable) as exc:
        logger.warning("Could not re-check a session with the provider: %s", exc)
        return None
    if response.status_code in {400, 401}:
        return False
    if response.status_code != 200:
        logger.warning("The provider answered a session re-check with %s", response.status_code)
        return None
    answer = response.json()
    if answer.get("refresh_token"):  # a provider that rotates them
        session[REFRESH_TOKEN] = answer["refresh_token"]
    if answer.get("id_token"):
        session[ID_TOKEN] = answer["id_token"]
    return True


class ProviderSessionMiddleware:
    """Every ``CHAT_OIDC_RECHECK_SECONDS``, a session signed in with the provider asks it
    whether the user may stay signed in; when the provider refuses (the user was disabled or
    signed out everywhere) the session ends here too, with its sockets. The pages' presence
    polls make requests, so an open page is checked as often."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.CHAT_OIDC_ISSUER or settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)  # no provider, or no session to check
        session = request.session
        if (
            session.get(REFRESH_TOKEN)
            and signed_in_with_provider(request)
            and time.time() - session.get(CHECKED_AT, 0) > settings.CHAT_OIDC_RECHECK_SECONDS
        ):
            allowed = _still_allowed(request)
            if allowed is False:
                logger.info("The provider ended user %s's session", session.get("_auth_user_id"))
                auth.logout(request)
                if request.path.startswith("/api/"):
                    response = JsonResponse(
                        {"status": 401, "code": "not_authenticated",
                         "detail": "Your session ended at the sign-in provider."},
                        status=401,
                    )  # fmt: skip
                    response["WWW-Authenticate"] = bearer.CHALLENGE
                    return response
                messages.info(request, "Your session ended: sign in again.")
                return HttpResponseRedirect(
                    f"{reverse('login')}?{urlencode({'next': request.path})}"
                )
            session[CHECKED_AT] = (
                time.time()
                if allowed
                else time.time() - settings.CHAT_OIDC_RECHECK_SECONDS + RETRY_UNREACHABLE
            )
        return self.get_response(request)
