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


def test_the_report_judges_each_target_from_the_run():
    from bench.report import targets_table

    def load(p50, p99, lost=0):
        return {"lost": lost, "p50_ms": p50, "p99_ms": p99}

    results = {
        "S1": {"app-uvicorn-prod": load(4, 30), "app-daphne-prod": load(9, 250)},
        "S2": {
            "ch-pubsub": {"sustained_deliveries_per_s": 3000},
            "app-uvicorn-prod": {"sustained_deliveries_per_s": 6100},
        },
        "S4": {"app-uvicorn-prod": {"kib_per_socket": 41.0}},
        "S5": {"app-uvicorn-prod": {"1000000": {"p99_ms": 9.0}, "ratio_1m_to_10k_p99": 1.1}},
    }
    rows = {line[2:14]: line for line in targets_table(results)[2:]}
    assert rows["S1 on the pr"].endswith("| yes |") and "stretch" in rows["S1 on the pr"]
    assert rows["S1 on daphne"].endswith("| **no** |")  # p99 250 ms
    assert rows["S2: highest "].endswith("| yes |") and "(2.03x)" in rows["S2: highest "]
    assert rows["S4: ≤ 40 KiB"].endswith("| **no** |")
    assert rows["S5: p99 ≤ 15"].endswith("| yes |")
    assert sorted(rows) == ["S1 on daphne", "S1 on the pr", "S2: highest ", "S4: ≤ 40 KiB",
                            "S5: p99 ≤ 15"]  # fmt: skip
