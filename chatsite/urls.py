"""Top-level URLs: pages, accounts, admin, API, health, readiness and metrics."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponsePermanentRedirect
from django.urls import include, path
from django.views import defaults

from chat import views as chat_views
from chat.api.errors import API_ERRORS, json_error
from chat.forms import AdminLogInForm
from chat.identity import signin
from chat.ops import views as ops_views


def _favicon(request):
    # Browsers ask for /favicon.ico whatever the page says.
    return HttpResponsePermanentRedirect(staticfiles_storage.url("chat/favicon.svg"))


admin.site.login_form = AdminLogInForm

urlpatterns = [
    path("", include("chat.urls")),
    path("accounts/signup/", chat_views.signup, name="signup"),
    # Django's account pages, with a throttled log-in. Password reset is not offered: it needs
    # outgoing mail, which the app does not configure (staff set a new password in the admin).
    path("accounts/login/", chat_views.LogInView.as_view(), name="login"),
    path("accounts/logout/", chat_views.LogOutView.as_view(), name="logout"),
    # Signing in with the OpenID Connect provider (when CHAT_OIDC_ISSUER is set; else 404).
    path(
        "accounts/oidc/authenticate/", signin.SignInView.as_view(), name="oidc_authentication_init"
    ),
    path(
        "accounts/oidc/callback/",
        signin.CallbackView.as_view(),
        name="oidc_authentication_callback",
    ),
    path("settings/", chat_views.account_settings, name="settings"),
    path(
        "accounts/password_change/",
        chat_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("api/", include("chat.api.urls")),
    path("health/", ops_views.health, name="health"),
    path("ready/", ops_views.ready, name="ready"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("favicon.ico", _favicon),
]
# Media is never served as plain files: chat.media.views serves a chat's files to its members.


def _json_under_api(status, page):
    """Django's error page, as JSON for URLs under /api/."""

    def handler(request, *args, **kwargs):
        if request.path.startswith("/api/"):
            return json_error(status, *API_ERRORS[status])
        return page(request, *args, **kwargs)

    return handler


handler400 = _json_under_api(400, defaults.bad_request)
handler403 = _json_under_api(403, defaults.permission_denied)
handler404 = _json_under_api(404, defaults.page_not_found)
handler500 = _json_under_api(500, defaults.server_error)
