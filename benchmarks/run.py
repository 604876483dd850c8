"""The side-by-side benchmark suite (`make bench`).

Runs every server of benchmarks/servers.py one at a time, pinned to CPU 0,
with wrk pinned to CPU 1: the same routes (benchmarks/apps/) and the same
response bytes, checked once per server before measuring. Rounds are
interleaved (each round visits every server, in a rotated order) and every
figure reported is the median over rounds. In the last round each server's
session ends with the idle keep-alive connections scenario. Then the C
micro-benchmarks (benchmarks/micro.py).

Writes benchmarks/results/latest.{md,json,png}, a dated copy of the .md and
.json, and the Benchmarks section at the end of README.md; --quick runs write
quick.*, --only runs partial.*, and neither touches README.md.

    python benchmarks/run.py [--quick] [--duration S] [--rounds N] [--connections C]
                             [--idle-connections N] [--only KEY,...] [--no-micro]

BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS and BENCH_IDLE_CONNECTIONS
set the same defaults from the environment. PRONGHORN_SRC=/path/to/tree/src
benchmarks another built tree (e.g. a `git worktree` of a commit, built with
`python setup.py build_ext --inplace`) instead of this one's src/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import load, report, servers  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="pronghorn side-by-side benchmarks")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 s per case, 1 round, 1,000 idle connections, "
                        "no C micro-benchmarks, README untouched")
    p.add_argument("--duration", type=int, default=_env_int("BENCH_DURATION", 3),
                   help="seconds of wrk per case per round (BENCH_DURATION)")
    p.add_argument("--rounds", type=int, default=_env_int("BENCH_ROUNDS", 5),
                   help="interleaved rounds; figures are medians (BENCH_ROUNDS)")
    p.add_argument("--connections", type=int, default=_env_int("BENCH_CONNECTIONS", 64),
                   help="wrk connections (BENCH_CONNECTIONS)")
    p.add_argument("--idle-connections", type=int,
                   default=_env_int("BENCH_IDLE_CONNECTIONS", 10_000),
                   help="idle keep-alive connections held (BENCH_IDLE_CONNECTIONS; 0 skips)")
    p.add_argument("--only", default="", help="comma-separated server keys to run")
    p.add_argument("--no-micro", action="store_true", help="skip the C micro-benchmarks")
    p.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 1, 1
        args.idle_connections = min(args.idle_connections, 1000)
        args.no_micro = args.no_readme = True
    return args


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def _log(message: str) -> None:
    print(message, flush=True)


def measure_round(server: servers.Server, args: argparse.Namespace, entry: dict,
                  check: bool, idle: bool) -> dict:
    """All wrk scenarios against one server (restarted if it dies); figures + peak memory.
    With ``check``, first compare every route's answer with the expected bytes; with
    ``idle``, end with the idle keep-alive connections scenario on the same server."""
    out: dict = {"scenarios": {}, "crashes": []}
    stack = contextlib.ExitStack()
    running = None
    try:
        for sc in load.SCENARIOS:
            if running is None or not running.alive():
                if running is not None:
                    stack.close()
                    stack = contextlib.ExitStack()
                running = stack.enter_context(servers.running(server))
                if check:
                    entry["mismatches"] = load.verify(running.port, server.validates)
                    for m in entry["mismatches"]:
                        _log(f"    MISMATCH {m}")
                    check = False
                load.wrk(running.port, load.SCENARIOS[0], args.connections, 1)  # warm-up
            try:
                r = load.wrk(running.port, sc, args.connections, args.duration)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                r = {"error": str(exc)}
            if not running.alive():
                crash = f"{sc.key}: the server died (exit {running.proc.returncode}): " + \
                    running.log_tail(3).replace("\n", " | ")
                out["crashes"].append(crash)
                r = {"error": crash}
            out["scenarios"][sc.key] = r
            if "rps" in r:
                flag = f"  ({r['errors']} errors)" if r["errors"] else ""
                _log(f"    {sc.key:<10} {r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                     f"p99 {r['p99_ms']:6.2f} ms{flag}")
            else:
                _log(f"    {sc.key:<10} FAILED: {r['error'][:300]}")
        if running is not None and running.alive():
            out["memory"] = servers.tree_memory_kib(running.proc.pid)
            if idle:
                entry["idle"] = measure_idle(running, args.idle_connections)
    finally:
        stack.close()
    return out


def measure_idle(running: servers.Running, count: int) -> dict:
    """RSS growth of the server's process tree while ``count`` idle connections are held
    (after the load scenarios: the server is warm and its heap has settled)."""
    _log(f"    idle connections ({count:,})")
    time.sleep(0.5)
    before = servers.tree_memory_kib(running.proc.pid)
    try:
        r = load.idle_connections(running.port, count,
                                  lambda: servers.tree_memory_kib(running.proc.pid))
    except (TimeoutError, OSError) as exc:
        _log(f"      FAILED: {exc!r}")
        return {"error": repr(exc)}
    delta_kib = r["after"]["rss_kib"] - before["rss_kib"]
    held = r["held"]
    per = delta_kib * 1024 / held if held else None
    _log(f"      held {held:,}/{count:,} (opened in {r['open_seconds']} s, {r['failed']} "
         f"failed), RSS +{delta_kib:,} KiB"
         + (f" = {per / 1024:.2f} KiB per connection" if per is not None else ""))
    return {**r, "before": before, "delta_kib": delta_kib, "bytes_per_conn": per}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(raw: dict) -> dict:
    """Medians over rounds per server and scenario."""
    summary: dict = {}
    for key, data in raw["servers"].items():
        rounds = data.get("rounds", [])
        per: dict = {}
        for sc in load.SCENARIOS:
            ok = [r["scenarios"][sc.key] for r in rounds
                  if "rps" in r.get("scenarios", {}).get(sc.key, {})]
            if not ok:
                continue
            per[sc.key] = {
                "rps": _median([r["rps"] for r in ok]),
                "p50_ms": _median([r["p50_ms"] for r in ok]),
                "p99_ms": _median([r["p99_ms"] for r in ok]),
                "rounds": len(ok),
                "errors": sum(r["errors"] for r in ok),
                "rps_all": [round(r["rps"]) for r in ok],
            }
        hwm = [r["memory"]["hwm_kib"] for r in rounds if "memory" in r]
        summary[key] = {"scenarios": per, "peak_rss_kib": max(hwm) if hwm else None}
    return summary


def run(args: argparse.Namespace) -> dict:
    os.sched_setaffinity(0, {int(load.CLIENT_CPU)})
    _raise_fd_limit(args.idle_connections + 1000)
    all_servers = servers.all_servers()
    only = {k for k in args.only.split(",") if k}
    if only:
        for s in all_servers:
            if s.key not in only and not s.skip:
                s.skip = "not selected (--only)"
    active = [s for s in all_servers if not s.skip]
    for s in all_servers:
        if s.skip:
            _log(f"skip {s.label}: {s.skip}")
    notes = servers.pronghorn_notes()
    raw: dict = {
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(([f"PRONGHORN_SRC={os.environ['PRONGHORN_SRC']}"]
                             if os.environ.get("PRONGHORN_SRC") else [])
                            + ["python", "benchmarks/run.py", *map(shlex.quote, sys.argv[1:])]),
        "settings": {"duration_s": args.duration, "rounds": args.rounds,
                     "connections": args.connections,
                     "idle_connections": args.idle_connections,
                     "pipeline_depth": load.PIPELINE_DEPTH, "quick": args.quick},
        "machine": report.machine_info(),
        "load_before": _load_average(),
        "pronghorn_notes": notes,
        "servers": {s.key: {"label": s.label, "handlers": s.handlers, "notes": s.notes,
                            "pronghorn": s.pronghorn, "skip": s.skip, "rounds": [],
                            "mismatches": []} for s in all_servers},
    }
    _log(f"load average before: {raw['load_before']}")
    for rnd in range(args.rounds):
        shift = rnd % max(1, len(active))
        order = active[shift:] + active[:shift]
        for s in order:
            entry = raw["servers"][s.key]
            _log(f"round {rnd + 1}/{args.rounds}: {s.label}")
            try:
                last = rnd == args.rounds - 1
                entry["rounds"].append(measure_round(
                    s, args, entry, check=rnd == 0, idle=last and args.idle_connections > 0))
            except servers.ServerFailed as exc:
                _log(f"    FAILED to start: {exc}")
                entry.setdefault("failures", []).append(str(exc))
    if not args.no_micro:
        from benchmarks import micro

        _log("C micro-benchmarks")
        raw["micro"] = micro.run_all()
        _log(micro.format_text(raw["micro"]))
    raw["load_after"] = _load_average()
    raw["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    _log(f"load average after: {raw['load_after']}")
    raw["summary"] = summarize(raw)
    return raw


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raw = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    full = not args.quick and not args.only
    prefix = "quick" if args.quick else "latest" if full else "partial"
    markdown = report.markdown(raw, chart=f"{prefix}.png")
    targets = report.targets(raw)
    (RESULTS / f"{prefix}.json").write_text(json.dumps(raw, indent=1) + "\n")
    (RESULTS / f"{prefix}.md").write_text(markdown)
    if full:
        (RESULTS / f"{stamp}.json").write_text(json.dumps(raw, indent=1) + "\n")
        (RESULTS / f"{stamp}.md").write_text(markdown)
    chart = report.chart(raw, RESULTS / f"{prefix}.png")
    if full and not args.no_readme:
        report.update_readme(ROOT / "README.md", raw)
    print()
    print(report.targets_text(targets))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}/{prefix}.md, {prefix}.json"
          + (f", {chart.name}" if chart else " (no chart: matplotlib missing)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
