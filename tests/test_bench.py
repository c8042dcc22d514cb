"""The load tool works end to end (a few seconds' run; figures are for `make bench`)."""

import json
import subprocess
import sys

from tests.servers import ROOT


def test_quick_benchmark_run_delivers_every_message(tmp_path):
    out = tmp_path / "quick.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    s1 = json.loads(out.read_text())["results"]["S1"]["app-daphne"]
    assert s1["sent"] > 0 and s1["delivered"] == s1["expected"] > 0
    assert s1["lost"] == 0 and s1["p50_ms"] is not None and s1["cpu_s_per_1000"] is not None
