"""Logged-in HTTP clients for tests, and finding people as a client does."""

from rest_framework.test import APIClient


def api_as(user) -> APIClient:
    """An API client with ``user``'s session (CSRF not enforced)."""
    client = APIClient()
    client.force_login(user)
    return client


def csrf_client(user):
    """A session client that fetched its CSRF token from a page, as the browser does."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


def find(client, user) -> str:
    """Look ``user`` up by username, as a person starting a chat does; their id."""
    return client.get("/api/users", {"username": user.username}).json()["users"][0]["userId"]
