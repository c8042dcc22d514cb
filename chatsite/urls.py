"""Top-level URLs: pages, accounts, admin, API and health check."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.defaults import server_error

from chat import views as chat_views
from chat.api.errors import json_server_error

urlpatterns = [
    path("", include("chat.urls")),
    path("accounts/signup/", chat_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("chat.api.urls")),
    path("health/", chat_views.health, name="health"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return server_error(request)
