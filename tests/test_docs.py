"""The README stays true: its configuration table names every variable the settings read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_documents_every_environment_variable():
    settings = (ROOT / "chatsite" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', settings))
    assert read, "the settings read no variables?"
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("## ")[0]
    assert "make run" in head and "make test" in head


def test_readme_shows_the_procfiles_production_command():
    procfile = (ROOT / "Procfile").read_text().split("web:", 1)[1].split()
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```sh\n(uvicorn .*?)\n```", readme, flags=re.DOTALL).group(1)
    assert shown.replace("\\\n", " ").split() == procfile
