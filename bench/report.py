"""Render a benchmark report (bench/results/latest.json) as docs/benchmarks.md."""

import json
import sys
from pathlib import Path

HEADER = """# Benchmarks

Measured by the project's own load tool (`bench/`), every row in the same run on the same
machine: the server under test pinned to core 0 (`taskset -c 0`), the load generator on core 1.
Each member holds a real WebSocket; for the chat, members are real users with sessions, and
every message goes through authentication, the membership check, the durable store, the ack and
the fan-out. Latency is measured at every receiver (the sender included) from the moment the
message was sent. `lost` = deliveries expected at receivers that never arrived.

Sockets open and join all at once, as a crowd reconnecting after a deploy does; each row says
how long it took until every socket had joined, and the slowest joins.

Reproduce: `make bench` (about 25 minutes; writes `bench/results/latest.json` and this file).
Part of it: `.venv/bin/python -m bench.run --only S1 --targets app-uvicorn-prod` (writes only
the JSON).

Machine: {cpu}, {cores} cores, Python {python}. Run took {seconds} s.
"""

SCENARIO_TITLES = {
    "S1": "S1: 100 chats x 10 members, 5 msg/s per chat (5,000 deliveries/s offered)",
    "S2": "S2: capacity (rate raised until loss > 0 or p99 > 250 ms)",
    "S3": "S3: one chat of 500 members at 2 msg/s (1,000 deliveries/s offered)",
    "S4": "S4: memory per idle connection (2,000 sockets)",
    "S5": "S5: a 50-message history page (ORM store on PostgreSQL)",
    "S6": "S6: reconnect storm (2,000 sockets over 200 chats connect and join at once, 1 msg/s "
    "per chat meanwhile)",
    "S7": "S7: one instance as deployed — the bundle's nginx in front of one or two uvicorn "
    "workers, both cores shared with the load (S1, then S2, on the same server)",
}


def _names():
    from bench.run import TARGETS

    return {key: target.name for key, target in TARGETS.items()}


def _cell(value):
    return "—" if value is None else f"{value}"


def load_table(rows: dict) -> list[str]:
    names = _names()
    lines = [
        "| server | delivered/s | lost | p50 ms | p95 ms | p99 ms | max ms | CPU s/1k "
        "| sockets joined in s (join p99 ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in rows.items():
        joins = r.get("joins")
        joined = f"{joins['all_joined_s']} ({_cell(joins['join_p99_ms'])})" if joins else "—"
        lines.append(
            f"| {names.get(key, key)} | {r['deliveries_per_s']} | {r['lost']} ({r['lost_pct']}%) "
            f"| {_cell(r['p50_ms'])} | {_cell(r['p95_ms'])} | {_cell(r['p99_ms'])} "
            f"| {_cell(r['max_ms'])} | {_cell(r['cpu_s_per_1000'])} | {joined} |"
        )
    return lines


def capacity_table(rows: dict) -> list[str]:
    names = _names()
    lines = [
        "| server | highest sustained deliveries/s | steps (offered/s: lost, p99 ms) |",
        "|---|---|---|",
    ]
    for key, r in rows.items():
        steps = "; ".join(
            f"{int(s['rate_per_chat'] * 1000)}: {s['lost']}, {_cell(s['p99_ms'])}"
            for s in r["steps"]
        )
        lines.append(
            f"| {names.get(key, key)} | {_cell(r['sustained_deliveries_per_s'])} | {steps} |"
        )
    return lines


def instance_table(rows: dict) -> list[str]:
    names = _names()
    lines = [
        "| instance | S1 lost | S1 p50 ms | S1 p99 ms | S1 CPU s / 1,000 deliveries "
        "| S2 highest sustained deliveries/s |",
        "|---|---|---|---|---|---|",
    ]
    for key, r in rows.items():
        s1, s2 = r["S1"], r["S2"] or {}
        lines.append(
            f"| {names.get(key, key)} | {s1['lost']} | {_cell(s1['p50_ms'])} "
            f"| {_cell(s1['p99_ms'])} | {_cell(s1['cpu_s_per_1000'])} "
            f"| {_cell(s2.get('sustained_deliveries_per_s'))} |"
        )
    return lines


def memory_table(rows: dict) -> list[str]:
    names = _names()
    lines = [
        "| server | sockets | RSS before KiB | RSS after KiB | KiB per socket |",
        "|---|---|---|---|---|",
    ]
    for key, r in rows.items():
        lines.append(
            f"| {names.get(key, key)} | {r['sockets']} | {r['rss_before_kib']} "
            f"| {r['rss_after_kib']} | {r['kib_per_socket']} |"
        )
    return lines


def history_table(rows: dict) -> list[str]:
    names = _names()
    lines = ["| server | messages in chat | requests | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for key, r in rows.items():
        for count in ("10000", "1000000"):
            c = r[count]
            lines.append(
                f"| {names.get(key, key)} | {int(count):,} | {c['requests']} "
                f"| {c['p50_ms']} | {c['p99_ms']} |"
            )
        lines.append(f"| | p99 ratio 1M / 10k | | | {r['ratio_1m_to_10k_p99']} |")
    return lines


STORM_PHASES = {"running": "server running", "after_restart": "right after a restart"}


def storm_table(rows: dict) -> list[str]:
    names = _names()
    lines = [
        "| server | storm | all joined s | join p50 ms | join p99 ms | join retries "
        "| handshakes retried | server CPU ms per socket | sent | lost | out of order |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, phases in rows.items():
        for phase, r in phases.items():
            lines.append(
                f"| {names.get(key, key)} | {STORM_PHASES[phase]} | {r['all_joined_s']} "
                f"| {_cell(r['join_p50_ms'])} | {_cell(r['join_p99_ms'])} | {r['join_retries']} "
                f"| {r['reconnects']} | {_cell(r.get('server_cpu_ms_per_socket'))} | {r['sent']} "
                f"| {r['lost']} of {r['expected']} "
                f"| {r['out_of_order']} |"
            )
    return lines


def _storm_met(r: dict) -> bool:
    return (
        r["sockets"] == 2000
        and r["all_joined_s"] <= 5
        and (r["join_p99_ms"] or 0) <= 1000
        and r["lost"] == 0
        and r["out_of_order"] == 0
    )


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _load_figure(r: dict) -> str:
    return f"{r['lost']} lost, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"


def targets_table(results: dict) -> list[str]:
    """The issue's targets against this run's figures (rows for scenarios that ran)."""
    names = _names()
    ok = {s: {k: r for k, r in rows.items() if "error" not in r} for s, rows in results.items()}
    lines = ["| target | figure in this run | met? |", "|---|---|---|"]
    s1 = ok.get("S1", {})
    if "app-uvicorn-prod" in s1:
        r = s1["app-uvicorn-prod"]
        met = r["lost"] == 0 and r["p50_ms"] <= 20 and r["p99_ms"] <= 100
        lines.append(
            "| S1 on the production server (uvicorn, PostgreSQL + Redis), sockets opened in a "
            f"burst: nothing lost, p50 ≤ 20 ms, p99 ≤ 50 ms | {_load_figure(r)} "
            f"| {_yes(met and r['p99_ms'] <= 50)} |"
        )
        cpu = r["cpu_s_per_1000"]
        lines.append(
            "| S1, CPU per 1,000 deliveries on the production server ≤ 0.09 s (raw websockets: "
            f"{s1.get('raw', {}).get('cpu_s_per_1000', '—')}) | {cpu} s "
            f"| {_yes(cpu is not None and cpu <= 0.09)} |"
        )
    if "app-uvicorn" in s1:
        r = s1["app-uvicorn"]
        met = r["lost"] == 0 and r["p50_ms"] <= 20 and r["p99_ms"] <= 100
        lines.append(f"| S1, the same on the embedded defaults | {_load_figure(r)} | {_yes(met)} |")
    daphne = {k: r for k, r in s1.items() if k.startswith("app-daphne")}
    if daphne:
        met = all(r["lost"] == 0 and r["p99_ms"] <= 200 for r in daphne.values())
        figure = "; ".join(f"{names[k]}: {_load_figure(r)}" for k, r in daphne.items())
        lines.append(f"| S1 on daphne: nothing lost, p99 ≤ 200 ms | {figure} | {_yes(met)} |")
    s2 = ok.get("S2", {})
    baselines = [r["sustained_deliveries_per_s"] or 0 for k, r in s2.items() if k.startswith("ch-")]
    chat = {k: r["sustained_deliveries_per_s"] or 0 for k, r in s2.items() if k.startswith("app-")}
    if baselines and chat:
        best = max(baselines)
        figure = "; ".join(
            f"{names[k]}: {v:,.0f} ({v / best:.2f}x)" if best else f"{names[k]}: {v:,.0f}"
            for k, v in chat.items()
        )
        production = [v for k, v in chat.items() if k.startswith("app-uvicorn")]
        met = bool(best) and all(v >= 2 * best for v in production)
        lines.append(
            "| S2: highest sustained deliveries/s ≥ 2x the best minimal-Channels baseline "
            f"({best:,.0f}/s) on the production server | {figure} | {_yes(met)} |"
        )
    s3 = {k: r for k, r in ok.get("S3", {}).items() if k.startswith("app-")}
    if s3:
        met = all(r["lost"] == 0 and r["p99_ms"] <= 250 for r in s3.values())
        figure = "; ".join(f"{names[k]}: {_load_figure(r)}" for k, r in s3.items())
        lines.append(f"| S3: nothing lost, p99 ≤ 250 ms | {figure} | {_yes(met)} |")
    s4 = {k: r for k, r in ok.get("S4", {}).items() if k.startswith("app-")}
    if s4:
        met = all(r["kib_per_socket"] <= 40 for r in s4.values())
        figure = "; ".join(f"{names[k]}: {r['kib_per_socket']} KiB" for k, r in s4.items())
        lines.append(f"| S4: ≤ 40 KiB per idle connection | {figure} | {_yes(met)} |")
    for r in ok.get("S5", {}).values():
        big, ratio = r["1000000"]["p99_ms"], r["ratio_1m_to_10k_p99"]
        met = big <= 15 and ratio <= 1.2
        lines.append(
            "| S5: p99 ≤ 15 ms at 1M messages, and 1M no slower than 1.2x 10k "
            f"| p99 {big} ms at 1M; ratio {ratio} | {_yes(met)} |"
        )
    s6 = ok.get("S6", {})
    if "app-uvicorn-prod" in s6:
        phases = s6["app-uvicorn-prod"]
        figure = "; ".join(
            f"{STORM_PHASES[phase]}: all joined in {r['all_joined_s']} s, join p99 "
            f"{r['join_p99_ms']} ms, {r['lost']} lost, {r['out_of_order']} out of order"
            for phase, r in phases.items()
        )
        lines.append(
            "| S6 on the production server: every socket joined within 5 s, join p99 ≤ 1 s, "
            f"nothing lost, nothing out of order | {figure} "
            f"| {_yes(all(_storm_met(r) for r in phases.values()))} |"
        )
    s7 = ok.get("S7", {})
    if {"instance-1", "instance-2"} <= set(s7):
        one, two = s7["instance-1"], s7["instance-2"]
        capacity = [(r["S2"] or {}).get("sustained_deliveries_per_s") or 0 for r in (one, two)]
        better = 2 if capacity[1] > capacity[0] * 1.1 else 1
        lines.append(
            "| S7: workers per 2-core instance chosen by measurement (the Procfile's count) "
            f"| 1 worker: {capacity[0]:,.0f}/s, p99 {one['S1']['p99_ms']} ms; 2 workers: "
            f"{capacity[1]:,.0f}/s, p99 {two['S1']['p99_ms']} ms → {better} "
            f"| {_yes(_procfile_workers() == better)} |"
        )
    return lines


def _procfile_workers() -> int:
    from tests.servers import procfile_web_command

    command = procfile_web_command()
    return int(command[command.index("--workers") + 1]) if "--workers" in command else 1


TABLES = {
    "S1": load_table,
    "S2": capacity_table,
    "S3": load_table,
    "S4": memory_table,
    "S5": history_table,
    "S6": storm_table,
    "S7": instance_table,
}


# The report is this run's figures only; what profiles showed and what past runs measured are
# dated notes of their own (docs/benchmarks-notes.md), which a run never rewrites.
NOTES_LINK = """## Notes

What profiles showed, what was changed or tried, and the figures of the runs that measured
each change are in [benchmarks-notes.md](benchmarks-notes.md): dated notes of past runs. The
tables above are this run's.
"""


def render(report: dict) -> str:
    out = [HEADER.format(seconds=report["seconds"], **report["machine"])]
    for scenario, rows in report["results"].items():
        failed = {key: row for key, row in rows.items() if "error" in row}
        measured = {key: row for key, row in rows.items() if "error" not in row}
        out += [f"## {SCENARIO_TITLES[scenario]}", "", *TABLES[scenario](measured), ""]
        out += [f"- {key}: the run failed: {row['error']}" for key, row in failed.items()]
    out += ["## Targets, as measured in this run", "", *targets_table(report["results"]), ""]
    out += [NOTES_LINK]
    return "\n".join(out)


def write_markdown(report: dict, path: Path) -> None:
    path.write_text(render(report))


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/results/latest.json")
    write_markdown(json.loads(source.read_text()), Path("docs/benchmarks.md"))
