"""How the API knows who calls: a bearer (programs) or the session cookie (the pages).

Bearer requests carry no cookie, so they need no CSRF token; session requests keep Django's
CSRF check. A missing or bad credential is a 401 with ``WWW-Authenticate`` (RFC 6750).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from chat import errors
from chat.identity import bearer, provider


class BearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer <personal token or the provider's access token>``."""

    def authenticate(self, request):
        try:
            bearer.refuse_query_tokens(request.query_params.keys())
            value = bearer.from_header(request.META.get("HTTP_AUTHORIZATION"))
            if value is None:
                return None
            credential = bearer.authenticate(value)
        except bearer.Refused as refused:
            request._request.bearer_refused = refused
            raise exceptions.AuthenticationFailed(refused.description) from None
        except provider.ProviderUnavailable:
            raise errors.ProviderUnavailable() from None
        return credential.user, credential

    def authenticate_header(self, request):
        refused = getattr(request._request, "bearer_refused", None)
        return refused.challenge() if refused is not None else bearer.CHALLENGE


class BearerScheme(OpenApiAuthenticationExtension):
    """The bearer in the API's schema (``/api/schema/``)."""

    target_class = BearerAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (Settings, or POST /api/tokens), or an access "
            "token of the configured OpenID Connect provider. Never in the query string.",
        }
