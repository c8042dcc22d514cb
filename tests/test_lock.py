"""The lock files: every install (make run, make test, the Elastic Beanstalk bundle) takes exact
versions with hashes from them; they must say what requirements*.txt ask for."""

import re
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.servers import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", re.MULTILINE)


def _locked(name: str) -> dict[str, dict]:
    """Each pinned package: its version, its hashes, and what asked for it (# via)."""
    text = (ROOT / name).read_text()
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if not match:
            continue
        found[canonicalize_name(match.group(1))] = {
            "version": match.group(2),
            "hashes": re.findall(r"--hash=sha256:[0-9a-f]{64}", block),
            "direct": "-r requirements" in block,
        }
    return found


def _asked(name: str) -> list[Requirement]:
    lines = (ROOT / name).read_text().splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-"))]


def _problems(requirements: str, lock: str) -> list[str]:
    locked, asked = _locked(lock), _asked(requirements)
    problems = []
    for requirement in asked:
        pin = locked.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is not in {lock}")
        elif not requirement.specifier.contains(pin["version"], prereleases=True):
            problems.append(f"{requirement.name}=={pin['version']} is outside {requirement}")
    for name, pin in locked.items():
        if not pin["hashes"]:
            problems.append(f"{name} has no hash in {lock}")
    return problems


def test_the_runtime_lock_says_what_requirements_txt_asks_for():
    assert _problems("requirements.txt", "requirements.lock") == [], "run `make lock`"
    asked = {canonicalize_name(r.name) for r in _asked("requirements.txt")}
    direct = {n for n, pin in _locked("requirements.lock").items() if pin["direct"]}
    assert direct == asked, "a package left requirements.txt but not the lock: run `make lock`"


def test_the_dev_lock_says_what_requirements_dev_txt_asks_for_with_the_runtime_s_versions():
    assert _problems("requirements-dev.txt", "requirements-dev.lock") == [], "run `make lock`"
    assert _problems("requirements.txt", "requirements-dev.lock") == [], "run `make lock`"
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    differ = {n: (p["version"], dev[n]["version"]) for n, p in runtime.items()
              if n in dev and dev[n]["version"] != p["version"]}  # fmt: skip
    assert differ == {}
    assert set(runtime) <= set(dev)


def test_the_suite_runs_on_the_locked_versions():
    """What is installed is what the lock says (make installs from it with --require-hashes)."""
    wrong = {}
    for name, pin in _locked("requirements-dev.lock").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (pin["version"], None)
            continue
        if Version(installed) != Version(pin["version"]):
            wrong[name] = (pin["version"], installed)
    assert wrong == {}


def test_a_stale_lock_is_found(tmp_path, monkeypatch):
    """The check above fails when requirements.txt moves on without the lock."""
    (tmp_path / "requirements.txt").write_text("Django>=6.0,<6.1\nnot-a-real-package>=1\n")
    (tmp_path / "requirements.lock").write_text((ROOT / "requirements.lock").read_text())
    monkeypatch.setattr("tests.test_lock.ROOT", tmp_path)
    problems = _problems("requirements.txt", "requirements.lock")
    assert any(p.startswith("django==5.2") or "Django==5.2" in p for p in problems), problems
    assert "not-a-real-package is not in requirements.lock" in problems
