"""The stack's template (``deploy/chat.yaml``): read with CloudFormation's short tags, and cut
down to the resource types an AWS-API server supports (a local one lacks some)."""

import json
import re
from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parent / "chat.yaml"
# TemplateBody's limit; a larger template goes through S3 (TemplateURL).
BODY_LIMIT = 51_200

_FUNCTIONS = ["Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split",
              "Sub", "And", "Equals", "If", "Not", "Or"]  # fmt: skip


class _Loader(yaml.SafeLoader):
    """YAML with ``!Ref``, ``!GetAtt``, ``!Sub``, ... read as their JSON forms."""


def _construct(tag_name: str):
    key = tag_name if tag_name in ("Ref", "Condition") else f"Fn::{tag_name}"

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag_name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _name in ["Ref", "Condition", "GetAtt", *_FUNCTIONS]:
    _Loader.add_constructor(f"!{_name}", _construct(_name))


def load(path: Path = TEMPLATE) -> dict:
    """The template as a dict in CloudFormation's JSON form."""
    return yaml.load(path.read_text(), Loader=_Loader)  # a SafeLoader with the short tags


def body(template: dict) -> str:
    return json.dumps(template, separators=(",", ":"))


def references(value) -> set[str]:
    """The logical ids ``value`` refers to (``Ref``, ``GetAtt``, ``${...}`` in ``Sub``)."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                if isinstance(inner, list):
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def _placeholder(logical_id: str) -> str:
    # ARN-shaped: it stands where names and ARNs go alike (policies check ARNs).
    return f"arn:aws:placeholder::123456789012:{logical_id.lower()}"


def _replace(value, dropped: set[str]):
    """``value`` with references to ``dropped`` resources made placeholder strings."""
    if isinstance(value, dict):
        if value.get("Ref") in dropped:
            return _placeholder(value["Ref"])
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][0] in dropped:
            return _placeholder(value["Fn::GetAtt"][0])
        if "Fn::Sub" in value:
            inner = value["Fn::Sub"]
            text, variables = (inner[0], inner[1]) if isinstance(inner, list) else (inner, None)

            def swap(match):
                name = match.group(1).split(".")[0]
                return _placeholder(name) if name in dropped else match.group(0)

            text = re.sub(r"\$\{([^!}][^}]*)\}", swap, text)
            if variables is None and "${" not in text:
                return text
            if variables is not None:
                return {"Fn::Sub": [text, _replace(variables, dropped)]}
            return {"Fn::Sub": text}
        return {key: _replace(inner, dropped) for key, inner in value.items()}
    if isinstance(value, list):
        return [_replace(inner, dropped) for inner in value]
    return value


def _dynamic_references(value) -> list:
    """The ``Fn::Sub`` values in ``value`` that hold a ``{{resolve:...}}``."""
    if isinstance(value, dict):
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) else sub
        if isinstance(text, str) and "{{resolve:" in text:
            return [value]
        return [found for inner in value.values() for found in _dynamic_references(inner)]
    if isinstance(value, list):
        return [found for inner in value for found in _dynamic_references(inner)]
    return []


def without(template: dict, resource_types: set[str]) -> dict:
    """The template without resources of ``resource_types`` (those an AWS-API server does not
    implement), and without those reading their secrets: references to them become
    placeholder strings; outputs naming them, and parameters only they used, go."""
    resources = template["Resources"]
    dropped = {name for name, r in resources.items() if r["Type"] in resource_types}
    # A resource reading a left-out secret (a dynamic reference) cannot be made without it.
    while True:
        reading = {
            name
            for name, resource in resources.items()
            if name not in dropped and references(_dynamic_references(resource)) & dropped
        }
        if not reading:
            break
        dropped |= reading
    kept = {}
    for name, resource in resources.items():
        if name in dropped:
            continue
        resource = _replace(resource, dropped)
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [d for d in ([depends] if isinstance(depends, str) else depends)]
            resource["DependsOn"] = [d for d in depends if d not in dropped]
            if not resource["DependsOn"]:
                del resource["DependsOn"]
        kept[name] = resource
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not references(output) & dropped
    }
    conditions = _conditions_kept(template.get("Conditions", {}), [kept, outputs])
    used = references([kept, outputs, conditions])
    parameters = {n: p for n, p in template.get("Parameters", {}).items() if n in used}
    cut = {**template, "Parameters": parameters, "Resources": kept, "Outputs": outputs}
    if conditions:
        cut["Conditions"] = conditions
    else:
        cut.pop("Conditions", None)
    mapped = _mappings_used([kept, outputs, conditions])
    mappings = {n: m for n, m in template.get("Mappings", {}).items() if n in mapped}
    if mappings:
        cut["Mappings"] = mappings
    else:
        cut.pop("Mappings", None)
    return cut


def _mappings_used(value) -> set[str]:
    return {m["Fn::FindInMap"][0] for m in _dicts(value) if "Fn::FindInMap" in m}


def _dicts(value):
    """Every mapping within ``value`` (itself included), at any depth."""
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _dicts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _dicts(inner)


def _condition_names(value) -> set[str]:
    """The conditions ``value`` names (a resource's Condition, Fn::If, a Condition function)."""
    found = set()
    for mapping in _dicts(value):
        if isinstance(mapping.get("Condition"), str):
            found.add(mapping["Condition"])
        if "Fn::If" in mapping:
            found.add(mapping["Fn::If"][0])
    return found


def _conditions_kept(conditions: dict, kept) -> dict:
    """The conditions the kept parts use, with those they use in turn (CloudFormation refuses a
    template with a condition nothing uses)."""
    wanted = _condition_names(kept) & set(conditions)
    while True:
        more = _condition_names([conditions[n] for n in wanted]) & set(conditions) - wanted
        if not more:
            break
        wanted |= more
    return {name: body for name, body in conditions.items() if name in wanted}
