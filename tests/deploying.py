"""The stack's template as tests read it, and running ``python -m deploy`` in tests with a
stage's own values (stages.toml ships examples, which ``up`` refuses)."""

import os
import subprocess
import sys

from deploy import template
from tests.servers import AWS_TEST_ENV, ROOT

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/3f2a9c1e-0b6d-4c1e-9a51-7d2b8e6f4a10"
SITE = [f"CertificateArn={CERTIFICATE}", "DomainName=chat-dev.chat-project.net"]
NETWORK = [
    "VpcId=vpc-0a1b2c3d4e5f60718",
    "PublicSubnets=subnet-0aa11bb22cc33dd44,subnet-0ee55ff66aa77bb88",
    "PrivateSubnets=subnet-0cc99dd00ee11ff22,subnet-0bb33cc44dd55ee66",
]


TEMPLATE = template.load()
RESOURCES = TEMPLATE["Resources"]


def of_type(resource_type) -> dict:
    """The template's resources of ``resource_type``: their properties, by logical name."""
    return {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == resource_type}


def environment_options(environment, *, cognito=False) -> dict:
    """The environment's option settings; those under ``!If [UseCognito, …]`` when ``cognito``."""
    options = {}
    for option in environment["OptionSettings"]:
        if "Fn::If" in option:
            condition, when_on, _ = option["Fn::If"]
            assert condition == "UseCognito"
            if not cognito:
                continue
            option = when_on
        options[(option["Namespace"], option["OptionName"])] = option["Value"]
    return options


def sets(*settings):
    return [a for s in settings for a in ("--set", s)]


def run_deploy(*args, env=None, stdin=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "deploy", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, input=stdin, env={**os.environ, **AWS_TEST_ENV, **(env or {})},
    )  # fmt: skip
