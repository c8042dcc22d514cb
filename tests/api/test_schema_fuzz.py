"""The API against its own OpenAPI schema (``/api/schema/``), fuzzed by schemathesis as a
logged-in user with a CSRF token: generated requests, valid and not, never get a 5xx, and every
answer (status code, content type, body) is one the schema describes."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.django_db(transaction=True)


# Loaded when the tests are collected: the schema view reads no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def session(make_user, make_chat):
    """A user with a chat (so that some generated requests find one) and their cookies."""
    alice, bob = make_user(), make_user()
    make_chat(alice, bob)
    client = Client()
    client.force_login(alice)
    client.get("/")
    csrf = client.cookies["csrftoken"].value
    cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"
    return {"Cookie": cookie, "X-CSRFToken": csrf}


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, session):
    case.call_and_validate(headers=session)
