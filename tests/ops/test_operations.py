"""Operations: JSON log lines with the ids of what they are about, readiness that names a cut
dependency, and metrics that count what happened, added up across worker processes."""

import json
import logging
import re
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from django.test import Client

from chat.ops.logs import ContextFilter, Formatter
from chat.ops.metrics import CloudWatchReporter
from tests.clients import api_as
from tests.forwarder import Forwarder
from tests.frames import send_message
from tests.servers import ROOT, free_port, server_env
from tests.sockets import joined_socket, send

pytestmark = pytest.mark.django_db(transaction=True)


def json_lines(records) -> list[dict]:
    """The records as the production handler writes them: each a JSON object on one line."""
    formatter, context = Formatter(), ContextFilter()
    lines = []
    for record in records:
        context.filter(record)
        text = formatter.format(record)
        assert "\n" not in text.strip()
        lines.append(json.loads(text))
    return lines


def test_a_request_s_log_lines_carry_its_id_and_user(make_user, caplog):
    user = make_user()
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = api_as(user).get(f"/api/chats/{uuid.uuid4()}/messages")
    assert response.status_code == 404
    request_id = response["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (line,) = json_lines([r for r in caplog.records if r.name == "django.request"])
    assert line["request_id"] == request_id and line["user_id"] == str(user.pk)
    assert line["level"] == "WARNING" and line["logger"] == "django.request"
    assert {"time", "message"} <= line.keys()
    # A proxy's id is kept.
    given = api_as(user).get("/api/me", HTTP_X_REQUEST_ID="abc-123")
    assert given["X-Request-Id"] == "abc-123"


async def test_a_socket_s_log_lines_carry_its_socket_user_and_chat(
    alice_and_a_chat, caplog, monkeypatch
):
    from chat import services

    alice, chat = alice_and_a_chat
    socket, _ = await joined_socket(alice, str(chat.pk))

    def broken(**kwargs):
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(services, "message_send", broken)
    with caplog.at_level(logging.ERROR, logger="chat.realtime.consumers"):
        answer = await send(socket, send_message(str(chat.pk), "hi", "k1"))
    assert answer["code"] == "internal_error"
    (line,) = json_lines([r for r in caplog.records if r.name == "chat.realtime.consumers"])
    assert line["chat_id"] == str(chat.pk) and line["user_id"] == str(alice.pk)
    assert re.fullmatch(r"[0-9a-f]{32}", line["socket_id"])
    assert "RuntimeError: the store fell over" in line["exc_info"]
    await socket.disconnect()


def test_cloudwatch_lines_are_embedded_metric_format(make_user, make_chat):
    reporter = CloudWatchReporter("Chat/test")
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    for n in range(3):
        api_as(alice).post(f"/api/chats/{chat.pk}/messages", {"message": f"m{n}"}, format="json")
    document = reporter.record()
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Chat/test" and directive["Dimensions"] == [[]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"MessagesStored", "MessagesDelivered", "SocketsOpened", "BroadcastFailures"} <= names
    assert all(name in document for name in names)
    assert document["MessagesStored"] == 3
    assert reporter.record()["MessagesStored"] == 0  # each line counts what is new
    (line,) = json_lines([logging.makeLogRecord({"msg": "metrics", **document})])
    assert line["_aws"] == document["_aws"]


# -- /ready/ -------------------------------------------------------------------------------------


def test_ready_reports_each_dependency_with_its_latency(client):
    answer = client.get("/ready/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ready"] is True and set(body["checks"]) == {"database", "store"}
    assert all(c["ok"] and c["ms"] >= 0 for c in body["checks"].values())


def test_ready_reports_the_open_file_limit_the_process_runs_with(tmp_path):
    """A server started with a limit (as the instance's systemd drop-in sets one) says so."""
    import resource

    from tests.servers import ROOT, free_port, migrate, server_env, uvicorn_command

    env = server_env(f"sqlite:///{tmp_path / 'ready.sqlite3'}")
    migrate(env)
    port = free_port()

    def limited():
        resource.setrlimit(resource.RLIMIT_NOFILE, (4321, 4321))

    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(uvicorn_command(port), cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, preexec_fn=limited)  # fmt: skip
        try:
            body = None
            for _ in range(300):
                try:
                    body = httpx.get(f"http://127.0.0.1:{port}/ready/", timeout=1).json()
                    break
                except httpx.HTTPError:
                    if server.poll() is not None:
                        break
                    time.sleep(0.1)
            assert body is not None, (tmp_path / "server.log").read_text()
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert body["process"]["open_files_limit"] == body["process"]["open_files_hard_limit"] == 4321
    assert 0 < body["process"]["open_files"] < 4321
    assert body["process"]["pid"] == server.pid
    hook = (ROOT / ".platform" / "hooks" / "predeploy" / "02_open_files.sh").read_text()
    assert "/etc/systemd/system/web.service.d/" in hook and "LimitNOFILE=65536" in hook
    linked = ROOT / ".platform" / "confighooks" / "predeploy" / "02_open_files.sh"
    assert linked.resolve() == ROOT / ".platform" / "hooks" / "predeploy" / "02_open_files.sh"


def checks_once_cut(client, forwarder) -> dict:
    """``/ready/``'s checks after the forwarder is cut (ready before); the answer is 503."""
    assert client.get("/ready/").status_code == 200
    forwarder.set_mode("cut")
    answer = client.get("/ready/")
    assert answer.status_code == 503
    return answer.json()["checks"]


def test_ready_is_503_naming_redis_when_redis_is_cut(client, settings, monkeypatch):
    from chat.ops import views

    forwarder = Forwarder(6379).start()
    monkeypatch.setattr(views, "_redis_client", None)
    settings.REDIS_URL = f"redis://127.0.0.1:{forwarder.port}/0"
    try:
        checks = checks_once_cut(client, forwarder)
        assert checks["redis"]["ok"] is False and checks["database"]["ok"] is True
        assert checks["redis"]["ms"] < 5000
    finally:
        forwarder.stop()
        views._redis_client = None


def test_ready_is_503_naming_the_store_when_dynamodb_is_cut(
    client, moto_server, dynamodb_store, settings, monkeypatch
):
    from chat.stores.dynamodb import MessageStore

    port = int(moto_server.url.rsplit(":", 1)[1])
    forwarder = Forwarder(port).start()
    store = MessageStore(
        prefix="chat-test",
        client={"host": forwarder.url, "region": "us-east-1", "connect_timeout_seconds": 0.5,
                "read_timeout_seconds": 0.5, "max_retry_attempts": 0, "max_pool_connections": 2},
    )  # fmt: skip
    monkeypatch.setattr(sys.modules[__name__], "cut_store", store)
    settings.CHAT_STORE_BACKEND = "tests.ops.test_operations.the_cut_store"
    try:
        checks = checks_once_cut(client, forwarder)
        assert checks["store"] == {"ok": False, "error": "StoreError", "ms": checks["store"]["ms"]}
    finally:
        forwarder.stop()


cut_store = None  # the store the test above puts behind a forwarder


def the_cut_store():
    """``CHAT_STORE_BACKEND`` of that test."""
    return cut_store


# -- /metrics ------------------------------------------------------------------------------------


def counter(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_a_message_sent_and_are_for_staff_and_the_monitoring_network(
    make_user, make_chat
):
    staff = Client()
    staff.force_login(make_user(is_staff=True))
    before = counter(staff.get("/metrics").content.decode(), "chat_messages_stored_total")
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    api_as(alice).post(f"/api/chats/{chat.pk}/messages", {"message": "counted"}, format="json")
    page = staff.get("/metrics")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/plain")
    text = page.content.decode()
    assert counter(text, "chat_messages_stored_total") == before + 1
    assert "chat_store_seconds_bucket" in text and "chat_history_seconds" in text
    # Through the load balancer (X-Forwarded-For), staff only; a scraper on the host may.
    through = {"HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert api_as(alice).get("/metrics", **through).status_code == 403
    assert staff.get("/metrics", **through).status_code == 200
    assert Client().get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert Client(HTTP_X_FORWARDED_FOR="203.0.113.9").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 403


def _server(tmp_path, port, database, metrics_dir):
    env = server_env(
        database, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), CHAT_LOG_FORMAT="json"
    )  # fmt: skip
    command = [
        sys.executable, "-m", "uvicorn", "chatsite.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    log = open(tmp_path / f"server-{port}.log", "w")  # noqa: SIM115 - the server writes it until stopped
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait(url):
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def test_metrics_of_two_worker_processes_add_up(tmp_path):
    from tests.live.users import LiveUser

    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = server_env(database)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    ports = [free_port(), free_port()]
    servers = [_server(tmp_path, port, database, metrics_dir) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            assert _wait(f"{url}/health/").status_code == 200
        alice = LiveUser(urls[0], f"a{uuid.uuid4().hex[:8]}").sign_up().log_in()
        bob = LiveUser(urls[1], f"b{uuid.uuid4().hex[:8]}").sign_up().log_in()
        chat_id = alice.direct_chat(bob)
        for user in (alice, bob):  # one message through each process
            sent = user.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "hi"})
            assert sent.status_code == 201
        for url in urls:
            text = httpx.get(f"{url}/metrics").text
            assert counter(text, "chat_messages_stored_total") == 2
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    # Every line either process wrote is one JSON object.
    for port in ports:
        lines = [ln for ln in (tmp_path / f"server-{port}.log").read_text().splitlines() if ln]
        assert lines, "the server logged nothing"
        for line in lines:
            json.loads(line)
