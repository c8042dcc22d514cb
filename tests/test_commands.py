"""Management commands."""

import boto3
import pytest
from django.core.management import call_command

from tests.servers import AWS_TEST_ENV


@pytest.fixture
def moto_settings(settings, moto_server):
    settings.CHAT_DYNAMODB_ENDPOINT = moto_server.url
    settings.CHAT_DYNAMODB_REGION = AWS_TEST_ENV["AWS_REGION"]
    return settings


def test_create_dynamodb_tables_is_idempotent_and_enables_ttl(moto_settings, moto_server, capsys):
    call_command("create_dynamodb_tables", stage="staging")
    first = capsys.readouterr().out.splitlines()
    names = [
        "chat-staging-messages",
        "chat-staging-sequences",
        "chat-staging-send-keys",
        "chat-staging-connections",
    ]
    assert first == [f"{name}: created" for name in names]
    call_command("create_dynamodb_tables", stage="staging")
    assert capsys.readouterr().out.splitlines() == [f"{name}: exists" for name in names]

    client = boto3.client("dynamodb", endpoint_url=moto_server.url, region_name="us-east-1")
    messages = client.describe_table(TableName="chat-staging-messages")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in messages["KeySchema"]} == {
        "chatId": "HASH",
        "seq": "RANGE",
    }
    assert messages["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    connections = client.describe_table(TableName="chat-staging-connections")["Table"]
    (index,) = connections["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "userId-index"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["userId", "connectedAt"]
    for table in ("chat-staging-connections", "chat-staging-send-keys"):
        ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_create_dynamodb_tables_reports_an_unreachable_endpoint(settings):
    from tests.servers import free_port

    settings.CHAT_DYNAMODB_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    settings.CHAT_DYNAMODB_TIMEOUT = 0.5
    settings.CHAT_DYNAMODB_RETRIES = 0
    with pytest.raises(Exception, match="Could not create the tables"):
        call_command("create_dynamodb_tables")
