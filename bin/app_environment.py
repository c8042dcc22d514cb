"""Run manage.py with the environment Elastic Beanstalk gives the app: its variables (from the
platform's get-config) and its secrets (named in the environmentsecrets namespace, read from
Secrets Manager with the instance's role). Used by bin/chat-manage."""

import json
import os
import subprocess
import sys

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
    if wanted:
        import boto3

        client = boto3.client("secretsmanager", region_name=env.get("AWS_REGION"))
        for name, arn in wanted.items():
            env[name] = client.get_secret_value(SecretId=arn)["SecretString"]
    return env


def main(arguments: list[str]) -> None:
    env = app_environment()
    os.execve(sys.executable, [sys.executable, "manage.py", *arguments], env)


if __name__ == "__main__":
    main(sys.argv[1:])
