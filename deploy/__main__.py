"""Deploy and operate a stage (docs/operations.md).

    python -m deploy up dev|staging|prod [--dry-run] [--set Name=value ...]
    python -m deploy down STAGE [--dry-run] [--yes]
    python -m deploy smoke STAGE [--url URL]
    python -m deploy manage STAGE -- <manage.py arguments>
    python -m deploy superuser STAGE USERNAME [--email ADDRESS] [--password-stdin]
    python -m deploy versions STAGE
    python -m deploy rollback STAGE [VERSION]
    python -m deploy rotate-secret STAGE

``up`` checks the stage's settings (no example values, no unknown parameters, the certificate
in the stack's region, an alarm destination on prod), validates the template, finds the newest
platform version, builds the Elastic Beanstalk bundle, uploads it to the stage's deploy bucket,
creates or updates the stack (the bundle's key makes a new application version, which the
environment then runs), waits, and prints the site's URL. ``down`` asks for the stage's name,
empties the stage's buckets (S3 refuses to delete a bucket with objects in it), deletes the
stack and then the deploy bucket. ``--dry-run`` prints every AWS call it would make and makes
none. ``--endpoint-url`` points every call at another AWS-API server (a local one);
``--without-types`` leaves out resource types that server does not implement.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from deploy import bundle, checks, ops, template

STAGES = ("dev", "staging", "prod")
STAGES_FILE = Path(__file__).resolve().parent / "stages.toml"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
DRY_ACCOUNT = "123456789012"


class Aws:
    """AWS calls, printed (``dry_run``: printed only) and made with boto3."""

    def __init__(self, *, region: str, endpoint_url: str | None, dry_run: bool, out=sys.stdout):
        self.region = region
        self.endpoint_url = endpoint_url
        self.dry_run = dry_run
        self.out = out
        self._clients = {}

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def call(self, service: str, operation: str, *, dry_answer=None, **params):
        shown = {k: "<secret, not shown>" if k in SECRET_PARAMETERS else _shown(v)
                 for k, v in params.items()}  # fmt: skip
        self.say(f"{'would call' if self.dry_run else 'call'} {service}.{operation} "
                 f"{json.dumps(shown, default=str, sort_keys=True)}")  # fmt: skip
        if self.dry_run:
            return dry_answer if dry_answer is not None else {}
        return getattr(self.client(service), operation)(**params)

    def client(self, service: str):
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

    def missing(self, error) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        return code in {"404", "NoSuchBucket", "NotFound", "ValidationError"}


# Parameters whose values are never printed, whatever their length.
SECRET_PARAMETERS = {"SecretString", "SecretBinary"}


def _shown(value):
    """A parameter as printed: bodies and templates by their size, not their bytes."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, str) and len(value) > 200:
        return f"<{len(value)} characters>"
    return value


def stage_parameters(stage: str, overrides: list[str], path: Path = STAGES_FILE) -> dict:
    """The stack's parameters for ``stage`` from stages.toml, with ``Name=value`` overrides."""
    settings = tomllib.loads(path.read_text()).get(stage, {})
    for override in overrides:
        name, _, value = override.partition("=")
        settings[name] = value.split(",") if name.endswith("Subnets") else value
    return {
        name: ",".join(value) if isinstance(value, list) else str(value)
        for name, value in settings.items()
    }


def stack_name(stage: str) -> str:
    return f"chat-{stage}"


def deploy_bucket(stage: str, account: str, region: str) -> str:
    return f"chat-{stage}-deploy-{account}-{region}"


def _account(aws: Aws) -> str:
    answer = aws.call("sts", "get_caller_identity", dry_answer={"Account": DRY_ACCOUNT})
    return answer["Account"]


def _ensure_bucket(aws: Aws, bucket: str) -> None:
    """The deploy bucket: private, encrypted, made once."""
    if not aws.dry_run:
        try:
            aws.client("s3").head_bucket(Bucket=bucket)
            aws.say(f"deploy bucket {bucket} exists")
            return
        except Exception as error:
            if not aws.missing(error):
                raise
    create = {"Bucket": bucket}
    if aws.region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    aws.call("s3", "create_bucket", **create)
    aws.call(
        "s3", "put_public_access_block", Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )  # fmt: skip
    aws.call(
        "s3", "put_bucket_encryption", Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )  # fmt: skip


def media_key_secret(stage: str) -> str:
    return f"chat/{stage}/media-signing-key"


def _public_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _media_signing_key(aws: Aws, stage: str) -> tuple[str, str]:
    """The stage's CloudFront key pair for members' files: its secret's ARN and the public key
    (PEM). Made on the stage's first deploy (RSA 2048, as CloudFront takes), the private key
    kept in Secrets Manager only: never printed, never a stack parameter."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    name = media_key_secret(stage)
    if aws.dry_run:
        aws.say(f"would use or make the secret {name} (the media signing key)")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()  # fmt: skip
        return f"arn:aws:secretsmanager:{aws.region}:{DRY_ACCOUNT}:secret:{name}", _public_pem(pem)
    client = aws.client("secretsmanager")
    try:
        found = client.get_secret_value(SecretId=name)
    except client.exceptions.ResourceNotFoundException:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()  # fmt: skip
        made = aws.call(
            "secretsmanager", "create_secret", Name=name, SecretString=pem,
            Description="CloudFront key pair of members' files (private key, PEM)",
            Tags=[{"Key": "chat:stage", "Value": stage}],
        )  # fmt: skip
        aws.say(f"made the media signing key {name}")
        return made["ARN"], _public_pem(pem)
    return found["ARN"], _public_pem(found["SecretString"])


def _stack_status(aws: Aws, name: str) -> str | None:
    """The stack's status, or None if there is none."""
    if aws.dry_run:
        return None
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except Exception as error:
        if aws.missing(error):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else "DELETE_COMPLETE"
    return None if status == "DELETE_COMPLETE" else status


def _stack_exists(aws: Aws, name: str) -> bool:
    return _stack_status(aws, name) is not None


def _wait(aws: Aws, waiter: str, name: str) -> None:
    aws.say(f"waiting for {name}: {waiter.replace('_', ' ')}")
    if aws.dry_run:
        return
    try:
        aws.client("cloudformation").get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 240}
        )
    except Exception:
        _explain_failure(aws, name)
        raise


def _explain_failure(aws: Aws, name: str) -> None:
    """What failed, from the stack's events (the first failures are the causes)."""
    try:
        events = aws.client("cloudformation").describe_stack_events(StackName=name)
    except Exception:
        return
    for event in reversed(events.get("StackEvents", [])):
        if event.get("ResourceStatus", "").endswith("FAILED"):
            aws.say(f"  {event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}")


def _template_argument(aws: Aws, body: str, bucket: str) -> dict:
    """The template as CloudFormation takes it: inline up to its size limit, else from the
    deploy bucket (for validate_template as for create/update_stack)."""
    if len(body.encode()) <= template.BODY_LIMIT:
        return {"TemplateBody": body}
    import hashlib

    key = f"templates/{hashlib.sha256(body.encode()).hexdigest()[:12]}.json"
    aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=body.encode())
    host = aws.endpoint_url or f"https://{bucket}.s3.{aws.region}.amazonaws.com"
    url = f"{host}/{bucket}/{key}" if aws.endpoint_url else f"{host}/{key}"
    return {"TemplateURL": url}


# Parameters the deploy command gives the stack itself.
SUPPLIED = ("Stage", "BundleBucket", "BundleKey", "MediaSigningKeySecret", "MediaSigningPublicKey",
            "PlatformArn", "CanaryKey")  # fmt: skip


def up(
    aws: Aws, stage: str, parameters: dict, *, without_types: set[str],
    allow_no_alarms: bool = False,
) -> dict:  # fmt: skip
    """Deploy ``stage``; the stack's outputs."""
    tpl = template.load()
    parameters = dict(parameters)
    # stages.toml's Platform is the deploy command's own setting, not a stack parameter.
    platform = parameters.pop("Platform", ops.PLATFORM_PATTERN)
    declared = {n: p for n, p in tpl.get("Parameters", {}).items() if n not in SUPPLIED}
    refused = checks.problems(
        parameters, declared, stage=stage, region=aws.region, allow_no_alarms=allow_no_alarms
    )
    refused += [f"{n} is set by the deploy command, not stages.toml" for n in SUPPLIED
                if n in parameters]  # fmt: skip
    if refused:
        raise checks.Refused(refused)
    if without_types:
        tpl = template.without(tpl, without_types)
        aws.say(f"leaving out {', '.join(sorted(without_types))}")
    body = template.body(tpl)
    resolved = {}
    if "PlatformArn" in tpl["Parameters"]:
        resolved["PlatformArn"] = ops.resolve_platform(aws, platform)
    if "CanaryRuntime" in tpl["Parameters"] and "CanaryRuntime" not in parameters:
        resolved["CanaryRuntime"] = ops.resolve_canary_runtime(aws)
    account = _account(aws)
    bucket = deploy_bucket(stage, account, aws.region)
    _ensure_bucket(aws, bucket)
    template_argument = _template_argument(aws, body, bucket)
    aws.call("cloudformation", "validate_template", **template_argument)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bundle.zip"
        digest = bundle.build(path)
        label = f"{stage}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{digest}"
        key = f"bundles/{label}.zip"
        aws.say(f"bundle {key}: {path.stat().st_size} bytes")
        aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=path.read_bytes())
    if "CanaryKey" in tpl["Parameters"]:
        code, digest = ops.canary_zip()
        resolved["CanaryKey"] = f"canary/{digest}.zip"
        aws.call("s3", "put_object", Bucket=bucket, Key=resolved["CanaryKey"], Body=code)
    name = stack_name(stage)
    secret, public_key = _media_signing_key(aws, stage)
    params = {
        **parameters, **resolved, "Stage": stage, "BundleBucket": bucket, "BundleKey": key,
        "MediaSigningKeySecret": secret, "MediaSigningPublicKey": public_key,
    }  # fmt: skip
    # Parameters only the left-out resources used are left out with them.
    params = {name: value for name, value in params.items() if name in tpl["Parameters"]}
    arguments = {
        "StackName": name,
        **template_argument,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": "chat:stage", "Value": stage}],
    }
    if _stack_status(aws, name) == "ROLLBACK_COMPLETE":
        # A first create that failed and was rolled back cannot be updated, only replaced.
        aws.say(f"{name} failed to create before; deleting it to create it again")
        aws.call("cloudformation", "delete_stack", StackName=name)
        _wait(aws, "stack_delete_complete", name)
    if _stack_exists(aws, name):
        try:
            aws.call("cloudformation", "update_stack", **arguments)
        except Exception as error:
            if "No updates are to be performed" not in str(error):
                raise
            aws.say("the stack is up to date")
        else:
            _wait(aws, "stack_update_complete", name)
    else:
        aws.call("cloudformation", "create_stack", OnFailure="ROLLBACK", **arguments)
        _wait(aws, "stack_create_complete", name)
    outputs = _outputs(aws, name)
    if aws.dry_run:
        aws.say("dry run: nothing was changed")
    else:
        aws.say(f"{name} is up: {outputs.get('Url', '(no URL output)')}")
    return outputs


def _outputs(aws: Aws, name: str) -> dict:
    if aws.dry_run:
        return {}
    stack = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _empty_bucket(aws: Aws, bucket: str) -> None:
    """Delete every object (and every version of it) in ``bucket``."""
    if aws.dry_run:
        aws.call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": "<every object>"})
        return
    s3 = aws.client("s3")
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except Exception as error:
        if aws.missing(error):
            return
        raise
    keys = [
        {"Key": item["Key"], "VersionId": item["VersionId"]}
        for page in pages
        for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
    ]
    # Printed by their count: a bucket's keys are members' file names.
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        aws.say(f'call s3.delete_objects {{"Bucket": "{bucket}"}} ({len(batch)} objects)')
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    aws.say(f"emptied {bucket}: {len(keys)} objects")


def _stack_buckets(aws: Aws, name: str) -> list[str]:
    """The S3 buckets the stack made (from its resources: also after a failed create)."""
    if aws.dry_run:
        return [f"<{name} media and static buckets>"]
    resources = aws.client("cloudformation").describe_stack_resources(StackName=name)
    return [
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("ResourceType") == "AWS::S3::Bucket"
        and r.get("PhysicalResourceId", "").startswith(f"{name}-")
    ]


def _code(error) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def _protected(aws: Aws, name: str) -> list[str]:
    """What of the stage has deletion protection on (prod's database and load balancer). Only
    "there is none" counts as unprotected: a refusal to say (AccessDenied) stops ``down``."""
    if aws.dry_run:
        return []
    found = []
    try:
        databases = aws.client("rds").describe_db_instances(DBInstanceIdentifier=name)
    except Exception as error:
        if _code(error) not in {"DBInstanceNotFound", "DBInstanceNotFoundFault"}:
            raise
        databases = {}
    if any(db.get("DeletionProtection") for db in databases.get("DBInstances", [])):
        found.append("database (RDS)")
    elbv2 = aws.client("elbv2")
    try:
        balancers = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    except Exception as error:
        if _code(error) != "LoadBalancerNotFound":
            raise
        balancers = []
    for balancer in balancers:
        attributes = elbv2.describe_load_balancer_attributes(
            LoadBalancerArn=balancer["LoadBalancerArn"]
        )["Attributes"]
        if {"Key": "deletion_protection.enabled", "Value": "true"} in attributes:
            found.append("load balancer (EC2)")
    return found


def down(aws: Aws, stage: str, *, confirmed: bool, ask=input) -> None:
    name = stack_name(stage)
    if not aws.dry_run and not confirmed:
        try:
            answer = ask(
                f"This deletes {name} in {aws.region}: its history, files and database (a "
                f"final snapshot of PostgreSQL is kept). Type {stage!r} to go on: "
            )
        except EOFError:
            raise SystemExit("No answer (no terminal): pass --yes. Nothing deleted.") from None
        if answer.strip() != stage:
            raise SystemExit("Nothing deleted.")
    protected = _protected(aws, name)
    if protected:
        # Checked first: emptying the buckets and then failing on the database would lose the
        # files and keep the stack.
        raise SystemExit(
            f"{name}'s {' and '.join(protected)} has deletion protection on (prod's have): "
            "turn it off first if you mean to delete this stage. Nothing deleted."
        )
    if not aws.dry_run and not _stack_exists(aws, name):
        aws.say(f"{name} does not exist in {aws.region}")
    else:
        buckets = _stack_buckets(aws, name)
        for bucket in buckets:
            _empty_bucket(aws, bucket)
        aws.call("cloudformation", "delete_stack", StackName=name)
        try:
            _wait(aws, "stack_delete_complete", name)
        except Exception:
            # Files uploaded while the stack was being deleted: empty again, delete again.
            for bucket in buckets:
                _empty_bucket(aws, bucket)
            aws.call("cloudformation", "delete_stack", StackName=name)
            _wait(aws, "stack_delete_complete", name)
    bucket = deploy_bucket(stage, _account(aws), aws.region)
    _empty_bucket(aws, bucket)
    try:
        aws.call("s3", "delete_bucket", Bucket=bucket)
    except Exception as error:
        if not aws.missing(error):
            raise
    try:
        aws.call(
            "secretsmanager", "delete_secret", SecretId=media_key_secret(stage),
            ForceDeleteWithoutRecovery=True,
        )  # fmt: skip
    except Exception as error:
        if "ResourceNotFound" not in str(error):
            raise
    aws.say("dry run: nothing was changed" if aws.dry_run else f"{name} is gone")


def _profile_region() -> str | None:
    """The region of the AWS configuration (AWS_DEFAULT_REGION, the profile)."""
    import boto3

    return boto3.session.Session().region_name


COMMANDS = ("up", "down", "manage", "superuser", "versions", "rollback", "smoke", "rotate-secret")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy", description=__doc__.split("\n")[0],
        epilog="manage: python -m deploy manage STAGE -- <manage.py arguments>",
    )  # fmt: skip
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument(
        "names", nargs="*", metavar="ARG",
        help="superuser: USERNAME; rollback: [VERSION]; manage: manage.py's arguments after --",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print the calls, make none")
    parser.add_argument(
        "--region", default=None, help="default: AWS_REGION, the AWS profile's, else us-east-1"
    )
    parser.add_argument("--endpoint-url", default=None, help="another AWS-API server")
    parser.add_argument(
        "--without-types", default="", help="resource types to leave out, comma-separated"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a stack parameter"
    )
    parser.add_argument("--yes", action="store_true", help="down: do not ask")
    parser.add_argument(
        "--no-alarm-destination", action="store_true",
        help="up: deploy prod although no one receives its alarms",
    )  # fmt: skip
    parser.add_argument("--email", default="", help="superuser: the admin's email address")
    parser.add_argument(
        "--password-stdin", action="store_true",
        help="superuser: read the password from standard input (one line), not a prompt",
    )  # fmt: skip
    parser.add_argument("--url", default=None, help="smoke: the site (default: the stack's Url)")
    argv = list(sys.argv[1:] if argv is None else argv)
    # manage.py's own arguments follow "--" and are passed on untouched.
    passed = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args = parser.parse_intermixed_args(argv)
    args.passed = passed
    try:
        return _run(args)
    except checks.Refused as refused:
        print(refused, file=sys.stderr)
        return 2
    except Exception as error:
        reason = _one_line(error)
        if reason is None:
            raise
        print(f"python -m deploy: {reason}", file=sys.stderr)
        return 1


def _one_line(error: Exception) -> str | None:
    """A known failure (no credentials, an AWS refusal) as one line; None for a bug."""
    from botocore import exceptions

    if isinstance(error, (exceptions.NoCredentialsError, exceptions.PartialCredentialsError)):
        return (
            "no AWS credentials: set AWS_PROFILE (aws configure sso / aws configure) or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(error, exceptions.ProfileNotFound):
        return f"{error} (see aws configure list-profiles)"
    if isinstance(error, (exceptions.SSOError, exceptions.TokenRetrievalError)):
        return f"the AWS sign-in has expired or never happened: run aws sso login ({error})"
    if isinstance(error, exceptions.WaiterError):
        stacks = (error.last_response or {}).get("Stacks") or [{}]
        status = stacks[0].get("StackStatus", error)
        return f"CloudFormation did not finish: {status} (the causes are listed above)"
    if isinstance(error, exceptions.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, exceptions.EndpointConnectionError):
        return f"cannot reach AWS: {error}"
    if isinstance(error, exceptions.ClientError):
        info = error.response.get("Error", {})
        return f"{error.operation_name} refused: {info.get('Code')}: {info.get('Message')}"
    return None


def _run(args) -> int:
    region = args.region or os.environ.get("AWS_REGION") or _profile_region() or "us-east-1"
    aws = Aws(region=region, endpoint_url=args.endpoint_url, dry_run=args.dry_run)
    if args.command == "up":
        without = {t for t in args.without_types.split(",") if t}
        up(
            aws, args.stage, stage_parameters(args.stage, args.set), without_types=without,
            allow_no_alarms=args.no_alarm_destination,
        )  # fmt: skip
    elif args.command == "down":
        down(aws, args.stage, confirmed=args.yes)
    elif args.command == "manage":
        return ops.manage(aws, args.stage, args.names + args.passed)
    elif args.command == "superuser":
        if len(args.names) != 1:
            raise SystemExit("python -m deploy superuser STAGE USERNAME")
        return ops.superuser(
            aws, args.stage, args.names[0], _password(args.password_stdin), args.email
        )
    elif args.command == "versions":
        ops.versions(aws, args.stage)
    elif args.command == "rollback":
        ops.rollback(aws, args.stage, args.names[0] if args.names else None)
    elif args.command == "smoke":
        return ops.smoke(aws, args.url or _site(aws, args.stage))
    elif args.command == "rotate-secret":
        ops.rotate_secret(aws, args.stage)
    return 0


def _password(from_stdin: bool) -> str:
    """The new admin's password: typed twice at a prompt that does not echo it, or one line
    of standard input (for scripts). Never an argument: arguments show in process lists."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise SystemExit("No terminal to ask the password at: pass --password-stdin.")
    else:
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise SystemExit("The passwords differ; nothing was created.")
    if not password:
        raise SystemExit("An empty password; nothing was created.")
    return password


def _site(aws: Aws, stage: str) -> str:
    outputs = _outputs(aws, stack_name(stage))
    if "Url" not in outputs:
        raise SystemExit(f"{stack_name(stage)} has no Url output: pass --url")
    return outputs["Url"]


if __name__ == "__main__":
    sys.exit(main())
