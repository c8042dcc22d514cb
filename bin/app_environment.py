"""Run manage.py with the environment Elastic Beanstalk gives the app: its variables (from the
platform's get-config) and its secrets (named in the environmentsecrets namespace, read from
Secrets Manager with the instance's role). Used by bin/chat-manage.

``--as-owner`` connects as the database's owner instead of the app's role: the owner's password
is read from the secret DATABASE_OWNER_SECRET names (the app's own environment holds only that
name), and the app role's password is handed on as CHAT_APP_DB_PASSWORD (for db_app_role).
Migrations run this way; the app never holds the owner's password."""

import json
import os
import subprocess
import sys
import urllib.parse

GET_CONFIG = os.environ.get("CHAT_GET_CONFIG", "/opt/elasticbeanstalk/bin/get-config")
SECRETS = "aws:elasticbeanstalk:application:environmentsecrets"


def _config(kind: str) -> dict:
    answer = subprocess.run([GET_CONFIG, kind], capture_output=True, text=True, check=True)
    return json.loads(answer.stdout or "{}")


def app_environment() -> dict:
    env = {**os.environ, **_config("environment")}
    wanted = {
        name: arn
        for name, arn in _config("optionsettings").get(SECRETS, {}).items()
        if not env.get(name)
    }
    for name, arn in wanted.items():
        env[name] = _secret(env, arn)
    return env


def _secret(env: dict, arn: str) -> str:
    import boto3

    client = boto3.client("secretsmanager", region_name=env.get("AWS_REGION"))
    return client.get_secret_value(SecretId=arn)["SecretString"]


def as_owner(env: dict) -> dict:
    arn = env.get("DATABASE_OWNER_SECRET")
    if not arn:
        raise SystemExit("--as-owner: DATABASE_OWNER_SECRET is not set")
    url = urllib.parse.urlsplit(env["DATABASE_URL"])
    host = url.netloc.rpartition("@")[2]
    owner = urllib.parse.quote(env.get("DATABASE_OWNER", "chat"), safe="")
    return {
        **env,
        "CHAT_APP_DB_PASSWORD": env.get("DATABASE_PASSWORD", ""),
        "DATABASE_PASSWORD": _secret(env, arn),
        "DATABASE_URL": urllib.parse.urlunsplit(url._replace(netloc=f"{owner}@{host}")),
    }


def main(arguments: list[str]) -> None:
    env = app_environment()
    if arguments[:1] == ["--as-owner"]:
        env, arguments = as_owner(env), arguments[1:]
    os.execve(sys.executable, [sys.executable, "manage.py", *arguments], env)


if __name__ == "__main__":
    main(sys.argv[1:])
