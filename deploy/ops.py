"""Day-to-day operation of a deployed stage: the platform and canary runtime a deploy uses,
one-off manage.py commands on an instance (Run Command), the first admin, application versions
and rollback, and the smoke test."""

import contextlib
import fnmatch
import io
import re
import secrets
import shlex
import time
import zipfile
from pathlib import Path

from deploy import probe

# stages.toml's default: the newest Python 3.11 platform on Amazon Linux 2023.
PLATFORM_PATTERN = "Python 3.11 running on 64bit Amazon Linux 2023"
CANARY_RUNTIME_PREFIX = "syn-python-selenium-"
# Where the bundle lands on an instance, and the wrapper running manage.py there as the app.
APP_MANAGE = "/var/app/current/bin/chat-manage"
DONE = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}


def _version_key(text: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def resolve_platform(aws, pattern: str = PLATFORM_PATTERN) -> str:
    """The ARN of the newest ready AWS platform version whose branch matches ``pattern`` (a
    shell-style pattern, e.g. "Python 3.1* running on 64bit Amazon Linux 2023")."""
    dry = {"PlatformSummaryList": [{
        "PlatformArn": f"arn:aws:elasticbeanstalk:{aws.region}::platform/{pattern}/4.0.0",
        "PlatformBranchName": pattern, "PlatformVersion": "4.0.0", "PlatformStatus": "Ready",
    }]}  # fmt: skip
    found, token = [], None
    while True:
        page = aws.call(
            "elasticbeanstalk", "list_platform_versions", dry_answer=dry,
            Filters=[
                {"Type": "PlatformOwner", "Operator": "=", "Values": ["AWSElasticBeanstalk"]},
                {"Type": "PlatformStatus", "Operator": "=", "Values": ["Ready"]},
            ],
            **({"NextToken": token} if token else {}),
        )  # fmt: skip
        found += [
            p for p in page.get("PlatformSummaryList", [])
            if fnmatch.fnmatchcase(p.get("PlatformBranchName", ""), pattern)
        ]  # fmt: skip
        token = page.get("NextToken")
        if not token:
            break
    if not found:
        raise SystemExit(f"no ready Elastic Beanstalk platform matches {pattern!r} in {aws.region}")
    newest = max(found, key=lambda p: _version_key(p["PlatformVersion"]))
    aws.say(f"platform: {newest['PlatformArn']}")
    return newest["PlatformArn"]


def resolve_canary_runtime(aws) -> str:
    """The newest Python Synthetics runtime that is not deprecated."""
    dry = {"RuntimeVersions": [{"VersionName": f"{CANARY_RUNTIME_PREFIX}6.0"}]}
    answer = aws.call("synthetics", "describe_runtime_versions", dry_answer=dry)
    now = time.time()
    usable = [
        r["VersionName"] for r in answer.get("RuntimeVersions", [])
        if r["VersionName"].startswith(CANARY_RUNTIME_PREFIX)
        and not (r.get("DeprecationDate") and r["DeprecationDate"].timestamp() <= now)
    ]  # fmt: skip
    if not usable:
        raise SystemExit(f"no Synthetics runtime {CANARY_RUNTIME_PREFIX}* in {aws.region}")
    newest = max(usable, key=_version_key)
    aws.say(f"canary runtime: {newest}")
    return newest


def canary_zip() -> tuple[bytes, str]:
    """The canary's code as Synthetics takes it for Python (python/canary.py), and a digest."""
    import hashlib

    source = (Path(__file__).resolve().parent / "probe.py").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("python/canary.py", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, source)
    return buffer.getvalue(), hashlib.sha256(source).hexdigest()[:12]


# -- One-off commands on an instance -----------------------------------------------------------


def environment_name(stage: str) -> str:
    return f"chat-{stage}"


def instance(aws, stage: str) -> str:
    """One running instance of the stage's environment (the oldest: the one least likely to be
    replaced while the command runs)."""
    answer = aws.call(
        "ec2", "describe_instances",
        dry_answer={"Reservations": [{"Instances": [{"InstanceId": "i-0dry0run0"}]}]},
        Filters=[
            {"Name": "tag:elasticbeanstalk:environment-name", "Values": [environment_name(stage)]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ],
    )  # fmt: skip
    found = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
    if not found:
        raise SystemExit(f"{environment_name(stage)} has no running instance in {aws.region}")
    return min(found, key=lambda i: str(i.get("LaunchTime", "")))["InstanceId"]


def output_group(stage: str) -> str:
    return f"/aws/ssm/chat-{stage}"


def manage(aws, stage: str, arguments: list[str], *, comment: str | None = None) -> int:
    """Run ``manage.py ARGUMENTS`` on one instance with the app's code, virtualenv and
    environment; print its output as it comes; return its exit code."""
    if not arguments:
        raise SystemExit("nothing to run: python -m deploy manage STAGE -- <manage.py arguments>")
    target = instance(aws, stage)
    command = f"{APP_MANAGE} {shlex.join(arguments)}"
    sent = aws.call(
        "ssm", "send_command", dry_answer={"Command": {"CommandId": "dry-run"}},
        InstanceIds=[target], DocumentName="AWS-RunShellScript",
        Comment=(comment or f"manage.py {arguments[0]}")[:100],
        Parameters={"commands": [command], "executionTimeout": ["3600"]},
        CloudWatchOutputConfig={
            "CloudWatchLogGroupName": output_group(stage), "CloudWatchOutputEnabled": True,
        },
    )  # fmt: skip
    if aws.dry_run:
        aws.say("dry run: nothing was run")
        return 0
    command_id = sent["Command"]["CommandId"]
    aws.say(f"running on {target} (command {command_id}): manage.py {shlex.join(arguments)}")
    return _follow(aws, stage, command_id, target)


def _follow(aws, stage: str, command_id: str, target: str, poll: float = 2.0) -> int:
    """Print the command's output from CloudWatch Logs while it runs; its exit code."""
    ssm, logs = aws.client("ssm"), aws.client("logs")
    tokens: dict[str, str | None] = {"stdout": None, "stderr": None}
    printed = False

    def drain() -> bool:
        shown = False
        for stream, token in tokens.items():
            name = f"{command_id}/{target}/aws-runShellScript/{stream}"
            try:
                page = logs.get_log_events(
                    logGroupName=output_group(stage), logStreamName=name, startFromHead=True,
                    **({"nextToken": token} if token else {}),
                )  # fmt: skip
            except Exception:
                continue  # the stream appears with the first line
            for event in page.get("events", []):
                aws.say(event["message"].rstrip("\n"))
                shown = True
            tokens[stream] = page.get("nextForwardToken", token)
        return shown

    while True:
        try:
            result = ssm.get_command_invocation(CommandId=command_id, InstanceId=target)
        except ssm.exceptions.InvocationDoesNotExist:
            result = {"Status": "Pending"}
        printed = drain() or printed
        if result["Status"] in DONE:
            break
        time.sleep(poll)
    printed = drain() or printed
    if not printed:  # CloudWatch not (yet) there: Run Command's own copy (its last 24,000 chars)
        for key in ("StandardOutputContent", "StandardErrorContent"):
            if result.get(key):
                aws.say(result[key].rstrip("\n"))
    code = result.get("ResponseCode", 1 if result["Status"] != "Success" else 0)
    aws.say(f"manage.py finished: {result['Status']}, exit code {code}")
    return code if isinstance(code, int) and code >= 0 else 1


def one_time_secret(stage: str) -> str:
    return f"chat/{stage}/one-time/superuser-{secrets.token_hex(6)}"


def superuser(aws, stage: str, username: str, password: str, email: str = "") -> int:
    """Create the stage's first admin. The password goes to the instance in a one-time secret
    (read and deleted there): never in a command line, Run Command's history or a log."""
    name = one_time_secret(stage)
    aws.call(
        "secretsmanager", "create_secret", Name=name, SecretString=password,
        Description="A new admin's password, read once by the instance and deleted",
        Tags=[{"Key": "chat:stage", "Value": stage}],
    )  # fmt: skip
    try:
        arguments = ["create_admin", username, "--password-secret", name]
        if email:
            arguments += ["--email", email]
        return manage(aws, stage, arguments, comment=f"create admin {username}")
    finally:
        if not aws.dry_run:
            client = aws.client("secretsmanager")
            # The instance deleted it already, as it should; this is for a run that failed.
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


# -- Versions and rollback ---------------------------------------------------------------------


def _current_version(aws, stage: str) -> str | None:
    answer = aws.call(
        "elasticbeanstalk", "describe_environments",
        dry_answer={"Environments": [{"VersionLabel": "dry-run-current"}]},
        EnvironmentNames=[environment_name(stage)], IncludeDeleted=False,
    )  # fmt: skip
    found = answer.get("Environments", [])
    return found[0].get("VersionLabel") if found else None


def application_versions(aws, stage: str) -> list[dict]:
    """The stage's application versions, newest first."""
    answer = aws.call(
        "elasticbeanstalk", "describe_application_versions",
        dry_answer={"ApplicationVersions": []}, ApplicationName=environment_name(stage),
    )  # fmt: skip
    return sorted(answer.get("ApplicationVersions", []), key=lambda v: str(v.get("DateCreated")),
                  reverse=True)  # fmt: skip


def versions(aws, stage: str) -> list[dict]:
    found = application_versions(aws, stage)
    current = _current_version(aws, stage)
    for version in found:
        mark = "*" if version["VersionLabel"] == current else " "
        created = version.get("DateCreated")
        when = created.strftime("%Y-%m-%d %H:%M UTC") if hasattr(created, "strftime") else created
        aws.say(f"{mark} {version['VersionLabel']}  {when}  {version.get('Description', '')}")
    if not found:
        aws.say(f"{environment_name(stage)} has no application versions")
    else:
        aws.say("(* the version the environment runs)")
    return found


def rollback(aws, stage: str, label: str | None = None, *, timeout: float = 3600) -> str:
    """Deploy ``label`` (default: the version before the one running) and wait until the
    environment is ready and healthy again."""
    found = application_versions(aws, stage)
    labels = [v["VersionLabel"] for v in found]
    current = _current_version(aws, stage)
    if label is None:
        older = labels[labels.index(current) + 1 :] if current in labels else []
        if not older:
            raise SystemExit(f"no version older than {current} to roll back to")
        label = older[0]
    elif label not in labels and not aws.dry_run:
        raise SystemExit(f"{label} is not a version of {environment_name(stage)}: see versions")
    if label == current:
        raise SystemExit(f"{environment_name(stage)} already runs {label}")
    aws.say(f"rolling {environment_name(stage)} back from {current} to {label}")
    aws.call(
        "elasticbeanstalk", "update_environment",
        EnvironmentName=environment_name(stage), VersionLabel=label,
    )  # fmt: skip
    if aws.dry_run:
        return label
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (environment,) = aws.client("elasticbeanstalk").describe_environments(
            EnvironmentNames=[environment_name(stage)]
        )["Environments"]
        if environment["Status"] == "Ready":
            running = environment.get("VersionLabel")
            if running != label:
                raise SystemExit(f"the rollback did not take: the environment runs {running}")
            if environment.get("Health") != "Green":
                raise SystemExit(f"{label} runs but the environment is {environment.get('Health')}")
            aws.say(f"{environment_name(stage)} runs {label} and is healthy")
            return label
        time.sleep(10)
    raise SystemExit(f"{environment_name(stage)} was not ready within {timeout:.0f} s")


# -- Smoke test --------------------------------------------------------------------------------


def smoke(aws, site: str) -> int:
    import http.client
    import urllib.parse

    try:
        url = urllib.parse.urlsplit(site)
        valid = url.scheme in ("http", "https") and bool(url.hostname) and url.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise SystemExit(f"not a site address: {site!r} (https://host or http://host:port)")
    aws.say(f"smoke test of {site}")
    try:
        for name, detail in probe.steps(site):
            aws.say(f"  ok   {name}: {detail}")
    except (probe.ProbeFailed, OSError, http.client.HTTPException) as failure:
        aws.say(f"  FAIL {failure}")
        return 1
    aws.say("the site is up")
    return 0


# -- Secret key rotation ------------------------------------------------------------------------


def secret_key_name(stage: str) -> str:
    return f"chat/{stage}/django-secret-key"


def fallbacks_name(stage: str) -> str:
    return f"chat/{stage}/django-secret-key-fallbacks"


def rotate_secret(aws, stage: str) -> None:
    """A new Django secret key; the one before becomes the fallback (sessions and signed values
    made with it stay valid; the fallback before it is dropped), then the app restarts to read
    both. Neither key is printed."""
    current = aws.call(
        "secretsmanager", "get_secret_value", SecretId=secret_key_name(stage),
        dry_answer={"SecretString": "<the current key>"},
    )["SecretString"]  # fmt: skip
    # The fallback first: an instance restarting between the two steps knows both keys.
    aws.call("secretsmanager", "put_secret_value", SecretId=fallbacks_name(stage),
             SecretString=current)  # fmt: skip
    aws.call("secretsmanager", "put_secret_value", SecretId=secret_key_name(stage),
             SecretString=secrets.token_hex(32))  # fmt: skip
    # Elastic Beanstalk reads secrets when the app server starts.
    aws.call("elasticbeanstalk", "restart_app_server", EnvironmentName=environment_name(stage))
    if not aws.dry_run:
        aws.say(f"{environment_name(stage)} restarts with the new key; the old one is its fallback")
