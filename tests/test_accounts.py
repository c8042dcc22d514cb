"""Log-ins under attack: budgets spent before a password is tried, per address, per account and
address and per account; a bounded number of password checks at once, refused fast when full;
no database connection held while a password is hashed."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections
from django.test import Client

from chat import accounts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(username, password, address="10.0.0.1", path="/accounts/login/"):
    client = Client(REMOTE_ADDR=address)
    page = client.post(path, {"username": username, "password": password})
    return page, client


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def checks(monkeypatch):
    """Every password check, with whether the request still held a database connection."""
    seen = []
    lock = threading.Lock()
    check = AbstractBaseUser.check_password

    def counted(user, raw):
        with lock:
            seen.append(connections["default"].connection is not None)
        return check(user, raw)

    monkeypatch.setattr(AbstractBaseUser, "check_password", counted)
    return seen


def test_an_attacker_s_failures_do_not_lock_the_owner_out_from_their_own_address(
    make_user, settings, checks
):
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 3
    alice = make_user()
    for _ in range(3):
        page, client = log_in(alice.username, "guess", address="203.0.113.9")
        assert page.status_code == 200 and not signed_in(client)
    # From the attacker's address the right password is not even tried now.
    page, client = log_in(alice.username, PASSWORD, address="203.0.113.9")
    assert page.status_code == 429 and page["Retry-After"] == "900"
    assert "Too many failed log-ins" in page.content.decode() and not signed_in(client)
    assert len(checks) == 3
    # Another spelling of the name is the same account's budget.
    page, _ = log_in(alice.username.upper(), PASSWORD, address="203.0.113.9")
    assert page.status_code == 429
    # The owner, from their own address, signs in.
    page, client = log_in(alice.username, PASSWORD, address="198.51.100.7")
    assert page.status_code == 302 and signed_in(client)


def test_many_addresses_reach_the_account_s_ceiling(make_user, settings):
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 2
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT = 5
    alice, bob = make_user(), make_user()
    statuses = [
        log_in(alice.username, "guess", address=f"203.0.113.{n}")[0].status_code
        for n in (1, 1, 1, 2, 2, 3, 3, 4)
    ]
    # An address over its own budget spends none of the account's: 1, 1, 2, 2, 3 failed.
    assert statuses == [200, 200, 429, 200, 200, 200, 429, 429]
    page, client = log_in(alice.username, PASSWORD, address="198.51.100.7")
    assert page.status_code == 429 and not signed_in(client)
    # Other accounts from those addresses are untouched.
    page, client = log_in(bob.username, PASSWORD, address="203.0.113.4")
    assert page.status_code == 302 and signed_in(client)


def test_a_success_clears_its_address_s_failures_and_spends_nothing(make_user, settings):
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 3
    settings.CHAT_LOGIN_FAILURES_PER_ADDRESS = 4
    alice = make_user()
    for _ in range(2):
        assert log_in(alice.username, "typo")[0].status_code == 200
    assert log_in(alice.username, PASSWORD)[0].status_code == 302
    for _ in range(2):
        assert log_in(alice.username, "typo")[0].status_code == 200
    # 4 failures from the address: its budget is spent, for every account.
    assert log_in(alice.username, PASSWORD)[0].status_code == 429


def test_concurrent_guesses_are_checked_against_the_budget_at_most(make_user, settings, checks):
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 10
    alice = make_user()
    barrier = threading.Barrier(40)

    def guess(n):
        barrier.wait()
        return log_in(alice.username, f"guess{n}")[0].status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(guess, range(40)))
    assert len(checks) <= 10
    assert statuses.count(200) == len(checks) and statuses.count(429) == 40 - len(checks)


def test_a_full_server_refuses_log_ins_fast_and_counts_them_as_no_failure(make_user, settings):
    settings.CHAT_LOGIN_CONCURRENCY = 1
    settings.CHAT_LOGIN_WAIT_SECONDS = 0.05
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 1
    alice = make_user()
    with accounts.admission.slot():  # another log-in's password check in progress
        page, client = log_in(alice.username, PASSWORD)
    assert page.status_code == 429 and page["Retry-After"] == "2"
    assert "signing in right now" in page.content.decode() and not signed_in(client)
    page, client = log_in(alice.username, PASSWORD)
    assert page.status_code == 302 and signed_in(client)


def test_passwords_are_hashed_without_holding_a_database_connection(make_user, checks):
    alice = make_user()
    assert log_in(alice.username, PASSWORD)[0].status_code == 302
    assert log_in(alice.username, "wrong")[0].status_code == 200
    assert checks == [False, False]
    # A name that does not exist takes a hash too (no timing difference), and fails the same.
    page, _ = log_in("nobody-by-this-name", PASSWORD)
    assert page.status_code == 200 and "correct username and password" in page.content.decode()


def test_the_admin_log_in_has_the_same_budgets(make_user, settings):
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 2
    staff = make_user(is_staff=True, is_superuser=True)
    for _ in range(2):
        page, _ = log_in(staff.username, "guess", path="/admin/login/")
        assert page.status_code == 200
    page, client = log_in(staff.username, PASSWORD, path="/admin/login/")
    assert "Too many failed log-ins" in page.content.decode() and not signed_in(client)


def test_changing_a_password_checks_the_old_one_under_the_same_budgets(make_user, settings, checks):
    settings.CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 2
    alice = make_user()
    client = Client(REMOTE_ADDR="203.0.113.5")  # a stolen session, guessing
    client.force_login(alice)
    form = {"new_password1": "a-new-long-password-7", "new_password2": "a-new-long-password-7"}
    guesses = [
        client.post("/accounts/password_change/", {**form, "old_password": f"guess{n}"})
        for n in range(3)
    ]
    assert [g.status_code for g in guesses] == [200, 200, 429]
    assert len(checks) == 2 and checks == [False, False]  # no connection held while hashing
    right = client.post("/accounts/password_change/", {**form, "old_password": PASSWORD})
    assert right.status_code == 429  # not even tried from there now
    owner = Client(REMOTE_ADDR="198.51.100.7")
    owner.force_login(alice)
    changed = owner.post("/accounts/password_change/", {**form, "old_password": PASSWORD})
    assert changed.status_code == 302
