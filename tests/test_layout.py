"""The suite's own layout: tests mirror ``chat/``'s packages, and helpers live in helper
modules, so no test module imports another (running one would then collect or set up the
other's fixtures and marks)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_modules(path)
            if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")
        )
        for path in TESTS.rglob("test_*.py")
    }  # fmt: skip
    assert {path: names for path, names in offenders.items() if names} == {}


def test_tests_mirror_the_packages_of_chat():
    packages = {p.parent.name for p in (ROOT / "chat").glob("*/__init__.py")}
    packages -= {"management", "migrations"}  # commands are tested by test_commands.py
    assert packages <= {p.parent.name for p in TESTS.glob("*/__init__.py")}
