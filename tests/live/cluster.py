"""The production shape on one machine: server processes sharing a private Redis, a fresh
PostgreSQL database and moto's DynamoDB (optionally behind a forwarder the test can cut), or
PostgreSQL as the message store too."""

import contextlib
import signal
import subprocess
import sys
import time

import boto3

from tests.forwarder import Forwarder
from tests.servers import (
    AWS_TEST_ENV,
    ROOT,
    Daphne,
    MotoServer,
    RedisServer,
    migrated,
    postgres_database,
    server_env,
)


class Cluster:
    def __init__(
        self, tmp, *, servers=(Daphne, Daphne), store="dynamodb", store_forwarder=False, **env
    ):
        self.tmp = tmp
        self.servers = servers
        self.store = store
        self.store_forwarder = store_forwarder
        self.extra_env = env
        self.redis = RedisServer({}, tmp / "redis.log")
        self.moto = MotoServer(dict(AWS_TEST_ENV, PATH="/usr/bin:/bin"), tmp / "moto.log")
        self.forwarder = None
        self.processes: list[Daphne] = []
        self.dynamodb = None

    @contextlib.contextmanager
    def running(self):
        stack = contextlib.ExitStack()
        with stack:
            self.redis.start()
            stack.callback(self.redis.stop)
            if self.store == "dynamodb":
                self.moto.start()
                stack.callback(self.moto.stop)
            store_url = self.moto.url
            if self.store_forwarder:
                self.forwarder = Forwarder(self.moto.port).start()
                stack.callback(self.forwarder.stop)
                store_url = self.forwarder.url
            database_url = stack.enter_context(postgres_database())
            env = server_env(
                database_url,
                REDIS_URL=self.redis.url,
                CHAT_STAGE="dev",
                AWS_ENDPOINT_URL_DYNAMODB=store_url,
                # Per-user limits are tested elsewhere; here two users open a thousand sockets
                # each and send as fast as they like.
                CHAT_RATE_BURST="100000",
                CHAT_RATE_PER_SECOND="100000",
                CHAT_SOCKETS_PER_USER="100000",
                **AWS_TEST_ENV,
            )
            env.update(CHAT_STORE=self.store, **self.extra_env)
            self.env = env
            migrated(env)
            if self.store == "dynamodb":
                subprocess.run(
                    [sys.executable, "manage.py", "create_dynamodb_tables"],
                    cwd=ROOT,
                    env={**env, "AWS_ENDPOINT_URL_DYNAMODB": self.moto.url},
                    check=True,
                    timeout=120,
                )
            for n, server in enumerate(self.servers, 1):
                process = server(env, self.tmp / f"{server.name}-{n}.log").start()
                stack.callback(process.stop)
                self.processes.append(process)
            if self.store == "dynamodb":
                self.dynamodb = boto3.client(
                    "dynamodb",
                    endpoint_url=self.moto.url,
                    region_name=AWS_TEST_ENV["AWS_REGION"],
                    aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
                )
            yield self

    def shell(self, code: str) -> str:
        """Run ``code`` in ``manage.py shell`` with the servers' settings (a third process, as
        a script or a moderator's shell would be); what it printed."""
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def restart_redis(self, *, down_seconds: float = 0) -> None:
        """Kill Redis (SIGKILL: nothing saved) and start an empty one on the same port."""
        self.redis.stop(signal.SIGKILL)
        time.sleep(down_seconds)
        self.redis.start()

    def stored(self, chat_id: str) -> list[dict]:
        """Every message item of the chat, straight from the table, in seq order."""
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName="chat-dev-messages",
            KeyConditionExpression="chatId = :c",
            ExpressionAttributeValues={":c": {"S": chat_id}},
            ConsistentRead=True,
        )
        return [
            {
                "seq": int(item["seq"]["N"]),
                "messageId": item["messageId"]["S"],
                "message": item["message"]["S"],
                "userId": item["userId"]["S"],
            }
            for page in pages
            for item in page["Items"]
        ]

    def registered_sockets(self, *user_ids) -> list[dict]:
        items = self.dynamodb.scan(TableName="chat-dev-connections")["Items"]
        return [item for item in items if item["userId"]["S"] in user_ids]
