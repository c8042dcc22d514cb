"""What `python -m deploy up` checks before it makes or uploads anything: each problem is one
line naming the parameter and what to do, so a stage's first deploy does not fail halfway
inside CloudFormation."""

import contextlib
import re

# Values stages.toml ships with: an operator replaces them with the account's.
_PLACEHOLDER = re.compile(r"replace-with-yours|^subnet-(public|private)-[a-z]$|^vpc-replace")
# Domains reserved for examples and tests (RFC 2606, RFC 6761): never a real site.
_RESERVED_DOMAIN = re.compile(r"(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$")
_ID_PATTERNS = {
    "AWS::EC2::VPC::Id": re.compile(r"^vpc-[0-9a-f]{8,17}$"),
    "AWS::EC2::Subnet::Id": re.compile(r"^subnet-[0-9a-f]{8,17}$"),
}
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/[0-9a-f-]+$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):[A-Za-z0-9_-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Refused(SystemExit):
    """A deploy refused before it changed anything; its message is one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"refused: {p}" for p in problems))


def problems(
    parameters: dict, declared: dict, *, stage: str, region: str, allow_no_alarms: bool = False
) -> list[str]:
    """What is wrong with ``parameters`` (from stages.toml and --set) for the template's
    ``declared`` parameters, deploying ``stage`` to ``region``."""
    found = []
    for name in sorted(set(parameters) - set(declared)):
        found.append(f"{name} is not a parameter of the stack (stages.toml [{stage}] or --set)")
    for name, value in sorted(parameters.items()):
        spec = declared.get(name)
        if spec is None:
            continue
        found.extend(_value_problems(name, value, spec, stage))
    certificate = parameters.get("CertificateArn", "")
    matched = _ACM_ARN.match(certificate)
    if matched and matched.group(1) != region:
        found.append(
            f"CertificateArn is in {matched.group(1)} but the stack deploys to {region}: the "
            f"load balancer needs an ACM certificate in {region}"
        )
    topic = parameters.get("AlarmTopicArn", "").strip()
    matched = _SNS_ARN.match(topic)
    if topic and not matched:
        found.append("AlarmTopicArn is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    elif matched and matched.group(1) != region:
        found.append(
            f"AlarmTopicArn is in {matched.group(1)} but the stack deploys to {region}: "
            "alarms notify topics in their own region"
        )
    email = parameters.get("AlarmEmail", "").strip()
    if email and not _EMAIL.match(email) and "replace-with-yours" not in email:
        found.append(f"AlarmEmail {email!r} is not an email address")
    counts = {}
    for name in ("MinInstances", "MaxInstances"):
        with contextlib.suppress(ValueError):  # (not a number: said above)
            counts[name] = float(parameters.get(name, declared.get(name, {}).get("Default", 1)))
    if len(counts) == 2 and counts["MinInstances"] > counts["MaxInstances"]:
        found.append("MinInstances is above MaxInstances")
    for name in ("PublicSubnets", "PrivateSubnets"):
        listed = [item for item in parameters.get(name, "").split(",") if item]
        if name in parameters and len(set(listed)) < 2:
            found.append(f"{name} needs two subnets (in different zones), not {len(set(listed))}")
    if stage == "prod" and not allow_no_alarms and not email and not topic:
        found.append(
            "prod has no alarm destination: set AlarmEmail or AlarmTopicArn in stages.toml "
            "(or pass --no-alarm-destination to deploy without anyone being paged)"
        )
    return found


def _value_problems(name: str, value: str, spec: dict, stage: str) -> list[str]:
    kind = spec.get("Type", "String")
    items = value.split(",") if kind.startswith("List<") else [value]
    where = f"stages.toml [{stage}]"
    if any(_PLACEHOLDER.search(item) for item in items):
        return [f"{name} is still the example value {value!r}: put your account's in {where}"]
    if name == "DomainName" and _RESERVED_DOMAIN.search(value):
        return [f"DomainName {value!r} is an example domain: put your site's in {where}"]
    inner = kind[5:-1] if kind.startswith("List<") else kind
    pattern = _ID_PATTERNS.get(inner)
    if pattern and not all(pattern.match(item) for item in items):
        return [f"{name} {value!r} is not a {inner} ({where})"]
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        allowed = ", ".join(str(v) for v in spec["AllowedValues"])
        return [f"{name} {value!r} is not one of {allowed}"]
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return [f"{name} {value!r} does not match {spec['AllowedPattern']}"]
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return [f"{name} {value!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return [f"{name} {value} is below its minimum {spec['MinValue']}"]
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return [f"{name} {value} is above its maximum {spec['MaxValue']}"]
        if not number.is_integer():
            return [f"{name} {value} is not a whole number"]
    return []
