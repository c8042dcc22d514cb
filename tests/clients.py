"""Logged-in HTTP clients for tests."""

from rest_framework.test import APIClient


def api_as(user) -> APIClient:
    """An API client with ``user``'s session (CSRF not enforced)."""
    client = APIClient()
    client.force_login(user)
    return client
