"""Real server processes for tests: each on a free loopback port, stopped by its pid.

Under ``CI=true`` a server that cannot start fails the test that needs it; it is never skipped.
"""

import atexit
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The PostgreSQL server used when a test needs one whatever the suite runs on.
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def postgres_database(server_url: str = POSTGRES_URL):
    """A new, empty PostgreSQL database on ``server_url``'s server; dropped afterwards."""
    name = f"chat_live_{uuid.uuid4().hex[:12]}"
    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def server_database(tmp_path: Path):
    """A database for a server process, of the kind the suite runs on (SQLite or PostgreSQL)."""
    suite_url = os.environ.get("DATABASE_URL", "")
    if suite_url.startswith("postgres"):
        with postgres_database(suite_url) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'live.sqlite3'}"


def server_env(database_url: str, **extra) -> dict:
    """Environment of a development-mode server process on ``database_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CHAT_", "AWS_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
        # Request budgets are tested in-process (tests/test_security.py). Against servers the
        # tests sign up hundreds of users from one address and create hundreds of chats.
        CHAT_SIGNUPS_PER_ADDRESS="100000",
        CHAT_API_RATE="100000/min",
        CHAT_API_SEND_RATE="100000/min",
        CHAT_API_CREATE_CHAT_RATE="100000/hour",
        CHAT_API_LOOKUP_RATE="100000/hour",
    )
    env.update(extra)
    return env


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )


# A migrated database of each kind, made once per test process by running the migrations:
# servers' databases are copies of it (``migrated``), a fraction of a second instead of seconds.
_templates: dict[str, str] = {}


def migrated(env: dict) -> None:
    """Give the server's new, empty database (``env["DATABASE_URL"]``, from ``server_database``
    or ``postgres_database``) the schema the migrations make, by copying a migrated one."""
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        admin, name = url.rsplit("/", 1)[0] + "/postgres", url.rsplit("/", 1)[1]
        if "postgres" not in _templates:
            template = f"chat_template_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{template}"')
            atexit.register(_drop_database, admin, template)
            migrate({**env, "DATABASE_URL": url.rsplit("/", 1)[0] + f"/{template}"})
            _templates["postgres"] = template
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}"')
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgres"]}"')
    elif url.startswith("sqlite:///"):
        if "sqlite" not in _templates:
            template = Path(tempfile.mkdtemp(prefix="chat-template-")) / "db.sqlite3"
            atexit.register(shutil.rmtree, template.parent, True)
            migrate({**env, "DATABASE_URL": f"sqlite:///{template}"})
            _templates["sqlite"] = str(template)
        shutil.copyfile(_templates["sqlite"], url.removeprefix("sqlite:///"))
    else:
        migrate(env)


def _drop_database(admin: str, name: str) -> None:
    with contextlib.suppress(psycopg.Error), psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ServerProcess:
    """A server started as a child process on 127.0.0.1 and a free port."""

    name = "server"

    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.process = None
        self._log = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30) -> "ServerProcess":
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); ``sig`` may be SIGKILL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def daphne_command(port: int, app: str = "chatsite.asgi:application") -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]


def procfile_web_command() -> list[str]:
    """The ``web:`` command of the Procfile (what a deployment runs), split into arguments."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return shlex.split(line.removeprefix("web:"))
    raise AssertionError("the Procfile has no web command")


def uvicorn_command(port: int, app: str = "chatsite.asgi:application") -> list[str]:
    """The production command of the Procfile, on loopback: its flags, this app and port."""
    command = procfile_web_command()
    assert command[:2] == ["uvicorn", "chatsite.asgi:application"], command
    flags, kept = command[2:], []
    while flags:  # every flag of the Procfile but where it listens and whom it trusts
        flag = flags.pop(0)
        takes_value = flags and not flags[0].startswith("--")
        value = flags.pop(0) if takes_value else None
        if flag not in {"--host", "--port", "--proxy-headers", "--forwarded-allow-ips"}:
            kept += [flag] if value is None else [flag, value]
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        *kept, "--log-level", "warning",
    ]  # fmt: skip


class Daphne(ServerProcess):
    """``daphne chatsite.asgi:application`` on 127.0.0.1 and a free port."""

    name = "daphne"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def command(self):
        return daphne_command(self.port)

    def ready(self):
        try:
            return httpx.get(f"{self.url}/health/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


class Uvicorn(Daphne):
    """``uvicorn chatsite.asgi:application``, the production command (see the Procfile)."""

    name = "uvicorn"

    def command(self):
        return uvicorn_command(self.port)


class MotoServer(ServerProcess):
    """moto's server (the DynamoDB and S3 APIs) on loopback, one request at a time."""

    name = "moto_server"

    def command(self):
        return [sys.executable, "-m", "tests.moto_serial", str(self.port)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self):
        return port_open(self.port)


class RedisServer(ServerProcess):
    """A private ``redis-server`` that keeps nothing on disk."""

    name = "redis-server"

    def command(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server).")
        return [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ready(self):
        return port_open(self.port)


AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class OidcProvider(ServerProcess):
    """tests/oidc_provider.py: an OpenID Connect provider (Authlib) for ``client_id``."""

    name = "oidc provider"

    def __init__(self, env, log_path, *, client_id, client_secret, redirect_uris, logout_uris):
        super().__init__(env, log_path)
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris, self.logout_uris = redirect_uris, logout_uris

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self):
        command = [sys.executable, "-m", "tests.oidc_provider", "--port", str(self.port)]
        command += ["--client-id", self.client_id, "--client-secret", self.client_secret]
        for uri in self.redirect_uris:
            command += ["--redirect-uri", uri]
        for uri in self.logout_uris:
            command += ["--logout-uri", uri]
        return command

    def ready(self):
        try:
            return httpx.get(f"{self.url}/.well-known/openid-configuration", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def test(self, path: str, body: dict | None = None) -> dict:
        """Steer the provider (``/test/…``)."""
        if body is None:
            response = httpx.get(f"{self.url}/test/{path}", timeout=5)
        else:
            response = httpx.post(f"{self.url}/test/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()
