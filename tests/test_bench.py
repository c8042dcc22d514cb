"""The load tool works end to end (a few seconds' run; figures are for `make bench`)."""

import json
import subprocess
import sys

import pytest

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
    results = json.loads(out.read_text())["results"]
    s1 = results["S1"]["app-daphne"]
    assert s1["sent"] > 0 and s1["delivered"] == s1["expected"] > 0
    assert s1["lost"] == 0 and s1["p50_ms"] is not None and s1["cpu_s_per_1000"] is not None
    assert s1["joins"]["sockets"] == 6
    # The storm, before and after a restart: every socket joined, every message delivered.
    for storm in results["S6"]["app-uvicorn"].values():
        assert storm["sockets"] == 20 and storm["join_failures"] == 0
        assert storm["expected"] > 0 and storm["lost"] == 0 and storm["out_of_order"] == 0


def test_the_report_judges_each_target_from_the_run():
    from bench.report import targets_table

    def load(p50, p99, lost=0, cpu=0.1):
        return {"lost": lost, "p50_ms": p50, "p99_ms": p99, "cpu_s_per_1000": cpu}

    def storm(joined_s, p99, lost=0, out_of_order=0):
        return {"sockets": 2000, "all_joined_s": joined_s, "join_p99_ms": p99, "lost": lost,
                "out_of_order": out_of_order}  # fmt: skip

    results = {
        "S1": {"app-uvicorn-prod": load(4, 30, cpu=0.08), "app-daphne-prod": load(9, 250)},
        "S2": {
            "ch-pubsub": {"sustained_deliveries_per_s": 3000},
            "app-uvicorn-prod": {"sustained_deliveries_per_s": 6100},
        },
        "S4": {"app-uvicorn-prod": {"kib_per_socket": 41.0}},
        "S5": {"app-uvicorn-prod": {"1000000": {"p99_ms": 9.0}, "ratio_1m_to_10k_p99": 1.1}},
        "S6": {"app-uvicorn-prod": {"running": storm(4.2, 60), "after_restart": storm(5.5, 80)}},
    }

    def verdicts():
        rows = targets_table(results)[2:]
        return {prefix: next(r for r in rows if r.startswith(f"| {prefix}")) for prefix in (
            "S1 on the production", "S1, CPU", "S1 on daphne", "S2", "S4", "S5", "S6",
        )}, len(rows)  # fmt: skip

    rows, count = verdicts()
    assert rows["S1 on the production"].endswith("| yes |")  # p99 30 ms <= 50
    assert rows["S1, CPU"].endswith("| yes |")  # 0.08 s <= 0.09
    assert rows["S1 on daphne"].endswith("| **no** |")  # p99 250 ms
    assert rows["S2"].endswith("| yes |")
    assert "(2.03x)" in rows["S2"]
    assert rows["S4"].endswith("| **no** |")
    assert rows["S5"].endswith("| yes |")
    assert rows["S6"].endswith("| **no** |")  # 5.5 s after the restart
    assert count == 7

    results["S1"]["app-uvicorn-prod"] = load(4, 60, cpu=0.1)
    results["S6"]["app-uvicorn-prod"]["after_restart"] = storm(4.9, 80)
    rows, count = verdicts()
    assert rows["S1 on the production"].endswith("| **no** |")  # p99 60 ms
    assert rows["S1, CPU"].endswith("| **no** |")  # 0.1 s
    assert rows["S6"].endswith("| yes |")


@pytest.mark.cluster
def test_an_instance_as_deployed_serves_sockets_through_the_bundle_s_nginx(tmp_path):
    """The bundle's nginx.conf (as rendered for loopback) passes nginx's own check, and S7's
    instance — nginx in front of two uvicorn workers on PostgreSQL and Redis — delivers every
    message of a short load."""
    import asyncio

    from bench.nginx import render
    from bench.run import TARGETS, Deployment, s7

    main = render(tmp_path / "checked", 18080, 18000)
    checked = subprocess.run(["nginx", "-t", "-p", str(tmp_path / "checked"), "-c", str(main)],
                             capture_output=True, text=True, timeout=30,
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})  # fmt: skip
    assert checked.returncode == 0, checked.stderr

    async def run():
        with Deployment(TARGETS["instance-2"], tmp_path / "instance") as deployment:
            assert deployment.server is not deployment.app  # the load goes through nginx
            return await s7(deployment, quick=True)

    (tmp_path / "instance").mkdir()
    result = asyncio.run(run())["S1"]
    assert result["delivered"] == result["expected"] > 0 and result["lost"] == 0
