"""A log-in flood against the production server (uvicorn, PostgreSQL's connection pool, Redis,
real PBKDF2 password hashing): refused log-ins are fast 429s, never 5xx, and a signed-in
user's requests go on being answered."""

import asyncio
import time
import uuid

import httpx
import pytest

from tests.live.cluster import Cluster
from tests.live.users import LiveUser
from tests.servers import Uvicorn

pytestmark = [pytest.mark.live, pytest.mark.cluster]

FLOOD = 150


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # As if the flood came from many addresses: the budgets per address are not what is tested
    # here (tests/test_accounts.py), the server's admission of password checks is.
    with Cluster(
        tmp_path_factory.mktemp("logins"), servers=(Uvicorn,), store="orm",
        CHAT_LOGIN_FAILURES_PER_ADDRESS="100000", CHAT_LOGIN_FAILURES_PER_ACCOUNT="100000",
        CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS="100000",
    ).running() as running:  # fmt: skip
        yield running


async def test_a_flood_of_log_ins_gets_no_5xx_and_signed_in_users_are_served(cluster):
    (server,) = cluster.processes
    member = await asyncio.to_thread(
        lambda: LiveUser(server.url, f"m{uuid.uuid4().hex[:8]}").sign_up().log_in()
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as anonymous:
        form = await anonymous.get("/accounts/login/")
        token = anonymous.cookies["csrftoken"]

        async def log_in(n):
            response = await anonymous.post(
                "/accounts/login/",
                data={"username": f"victim{n % 7}", "password": f"guess-{n}",
                      "csrfmiddlewaretoken": token},
            )  # fmt: skip
            return response.status_code, response.headers.get("Retry-After")

        flood = asyncio.gather(*(log_in(n) for n in range(FLOOD)))
        served, started = [], time.monotonic()
        while time.monotonic() - started < 60 and not flood.done():
            began = time.monotonic()
            status = await asyncio.to_thread(lambda: member.api("GET", "/api/chats").status_code)
            served.append((status, time.monotonic() - began))
            await asyncio.sleep(0.2)
        answers = await flood
    assert form.status_code == 200
    statuses = [status for status, _ in answers]
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 429}
    # Passwords were tried for some (a wrong one: the page again), the rest refused as busy.
    assert statuses.count(200) >= 1 and statuses.count(429) >= 1
    assert {after for status, after in answers if status == 429} == {"2"}
    assert served and all(status == 200 for status, _ in served), served
    slowest = max(t for _, t in served)
    print(f"member's requests during the flood: {len(served)}, slowest {slowest:.2f} s")
