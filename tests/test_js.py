"""The page scripts' unit tests (tests/js/, Node's built-in test runner), run with the suite."""

import shutil
import subprocess

from tests.servers import ROOT


def test_the_page_scripts_unit_tests_pass():
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "The page scripts' tests need Node.js (Debian: apt-get install -y nodejs)."
    run = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "js")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout


def test_each_page_script_is_one_small_module():
    """A page script that grows past 500 lines is split by concern (as room.js was into
    delivery, receipts, actions, messages, composer, history and keys)."""
    sizes = {
        path.name: len(path.read_text().splitlines()) for path in (ROOT / "static").rglob("*.js")
    }
    assert sizes and {name: n for name, n in sizes.items() if n > 500} == {}
