"""Shared fixtures: factories for users and chats, and a logged-in API client."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from chat import services

_numbers = itertools.count(1)
PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_user(db):
    def make(username=None, **extra):
        username = username or f"user{next(_numbers)}"
        return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def make_chat(db):
    def make(creator, *others, name=""):
        chat_type = "group" if name or len(others) != 1 else "direct"
        chat, _ = services.chat_create(
            creator=creator, chat_type=chat_type, participants=list(others), name=name
        )
        return chat

    return make


@pytest.fixture
def api(make_user):
    """An API client logged in as a fresh user (``api.user``), with CSRF enforced."""
    client = APIClient(enforce_csrf_checks=True)
    client.user = make_user()
    client.force_login(client.user)
    return client
