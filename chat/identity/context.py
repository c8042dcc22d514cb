"""What every page needs to know of sign-in: the provider's button, and local sign-up."""

from django.conf import settings


def identity(request) -> dict:
    return {
        "provider_name": settings.CHAT_OIDC_NAME if settings.CHAT_OIDC_ISSUER else "",
        "local_signup": settings.CHAT_LOCAL_SIGNUP,
    }
