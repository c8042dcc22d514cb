"""The Elastic Beanstalk source bundle: a zip of the app with, at its root, what the platform
reads — ``Procfile`` (the web process), ``requirements.txt`` (installed into the platform's
virtualenv: the lock file, so every instance, and each one a scale-out launches, installs the
same versions, each file checked by its hash), ``.platform/`` (nginx, hooks) and
``.ebextensions/`` (commands run once per deploy on the leader: migrations, collectstatic)."""

import hashlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the app needs at run time, relative to the repository's root.
CONTENTS = [
    "Procfile",
    "requirements.lock",
    "manage.py",
    "bin",
    ".platform",
    ".ebextensions",
    "chat",
    "chatsite",
    "templates",
    "static",
]
# Files stored under another name in the bundle.
RENAMED = {"requirements.lock": "requirements.txt"}
SKIPPED_PARTS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
# Files that must run: their mode is kept in the zip (Elastic Beanstalk runs hooks directly).
EXECUTABLE = 0o755


def _files(root: Path):
    for entry in CONTENTS:
        path = root / entry
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*")):
            parts = set(file.relative_to(root).parts)
            if file.is_file() and not parts & SKIPPED_PARTS and file.suffix not in SKIPPED_SUFFIXES:
                yield file


def build(target: Path, root: Path = ROOT) -> str:
    """Write the bundle to ``target``; return a short digest of its contents (the same sources
    give the same digest, whatever the time)."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for file in _files(root):
            name = file.relative_to(root).as_posix()
            name = RENAMED.get(name, name)
            data = file.read_bytes()
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = EXECUTABLE if file.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            bundle.writestr(info, data)
            digest.update(name.encode() + b"\0" + data)
    return digest.hexdigest()[:12]
