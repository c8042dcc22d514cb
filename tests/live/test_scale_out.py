"""Two daphne processes sharing Redis, PostgreSQL and DynamoDB behave as one chat service."""

import asyncio
import json
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from websockets.asyncio.client import connect

from tests.live.users import LiveUser
from tests.servers import (
    AWS_TEST_ENV,
    ROOT,
    Daphne,
    MotoServer,
    RedisServer,
    migrate,
    postgres_database,
    server_env,
)

pytestmark = pytest.mark.live


class Cluster:
    def __init__(self, processes, moto):
        self.processes = processes
        self.dynamodb = boto3.client("dynamodb", endpoint_url=moto.url, **_boto_args())


def _boto_args():
    return {
        "region_name": AWS_TEST_ENV["AWS_REGION"],
        "aws_access_key_id": AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    redis = RedisServer({}, tmp / "redis.log").start()
    moto = MotoServer(dict(AWS_TEST_ENV, PATH="/usr/bin:/bin"), tmp / "moto.log").start()
    processes = []
    try:
        with postgres_database() as database_url:
            env = server_env(
                database_url,
                REDIS_URL=redis.url,
                CHAT_STORE="dynamodb",
                CHAT_STAGE="dev",
                AWS_ENDPOINT_URL_DYNAMODB=moto.url,
                **AWS_TEST_ENV,
            )
            migrate(env)
            subprocess.run(
                [sys.executable, "manage.py", "create_dynamodb_tables"],
                cwd=ROOT,
                env=env,
                check=True,
                timeout=120,
            )
            for n in (1, 2):
                processes.append(Daphne(env, tmp / f"daphne-{n}.log").start())
            yield Cluster(processes, moto)
    finally:
        for process in processes:
            process.stop()
        moto.stop()
        redis.stop()


def user_on(server):
    return LiveUser(server.url, f"u{uuid.uuid4().hex[:10]}").sign_up().log_in()


async def open_socket(server, user):
    return await connect(server.ws_url, origin=server.url, additional_headers=user.socket_headers())


def stored_count(cluster, chat_id):
    pages = cluster.dynamodb.get_paginator("query").paginate(
        TableName="chat-dev-messages",
        KeyConditionExpression="chatId = :c",
        ExpressionAttributeValues={":c": {"S": chat_id}},
        Select="COUNT",
    )
    return sum(page["Count"] for page in pages)


def registered_sockets(cluster, *user_ids):
    items = cluster.dynamodb.scan(TableName="chat-dev-connections")["Items"]
    return [item for item in items if item["userId"]["S"] in user_ids]


async def test_users_on_two_processes_chat_with_every_message_once_in_seq_order(cluster):
    p1, p2 = cluster.processes
    alice, bob = user_on(p1), user_on(p2)
    chat_id = alice.api(
        "POST", "/api/chats", json={"chatType": "direct", "participants": [bob.user_id]}
    ).json()["chatId"]
    a, b = await open_socket(p1, alice), await open_socket(p2, bob)
    for ws in (a, b):
        await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "joined"
    assert len(registered_sockets(cluster, alice.user_id, bob.user_id)) == 2

    received = {a: [], b: []}
    acks = []

    async def read_until(ws, seq):
        while not received[ws] or received[ws][-1]["seq"] < seq:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["type"] == "message":
                received[ws].append(frame["message"])
            elif frame["type"] == "ack":
                acks.append(frame)
            else:
                raise AssertionError(frame)

    # 200 each, taking turns: A on process 1, then B on process 2, and so on.
    for n in range(400):
        sender = a if n % 2 == 0 else b
        await sender.send(
            json.dumps(
                {
                    "action": "sendMessage",
                    "chatId": chat_id,
                    "message": f"message {n}",
                    "clientMessageId": f"c-{n}",
                }
            )
        )
        await asyncio.gather(read_until(a, n + 1), read_until(b, n + 1))

    for ws in (a, b):
        assert [m["seq"] for m in received[ws]] == list(range(1, 401))
        assert [m["message"] for m in received[ws]] == [f"message {n}" for n in range(400)]
        assert len({m["messageId"] for m in received[ws]}) == 400
    assert sorted(ack["seq"] for ack in acks) == list(range(1, 401))
    assert stored_count(cluster, chat_id) == 400

    await a.close()
    await b.close()
    deadline = time.monotonic() + 10
    while registered_sockets(cluster, alice.user_id, bob.user_id) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert registered_sockets(cluster, alice.user_id, bob.user_id) == []


async def test_a_thousand_sockets_on_one_process_share_the_redis_layer(cluster):
    p1, p2 = cluster.processes
    alice, bob = user_on(p1), user_on(p2)
    chat_id = alice.api(
        "POST", "/api/chats", json={"chatType": "direct", "participants": [bob.user_id]}
    ).json()["chatId"]
    gate = asyncio.Semaphore(50)

    async def member_socket(user):
        async with gate:
            ws = await open_socket(p1, user)
            await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "joined"
            return ws

    sockets = await asyncio.wait_for(
        asyncio.gather(*(member_socket(alice if n % 2 else bob) for n in range(1000))), 240
    )
    sender = await open_socket(p2, alice)
    await sender.send(
        json.dumps(
            {
                "action": "sendMessage",
                "chatId": chat_id,
                "message": "to all",
                "clientMessageId": "x",
            }
        )
    )
    assert json.loads(await asyncio.wait_for(sender.recv(), 10))["type"] == "ack"

    async def delivered(ws):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        return frame["type"] == "message" and frame["message"]["message"] == "to all"

    results = await asyncio.gather(*(delivered(ws) for ws in sockets))
    assert sum(results) == 1000
    await sender.close()
    await asyncio.gather(*(ws.close() for ws in sockets))
    assert "Too many connections" not in p1.log()
    assert "Traceback" not in p1.log()
