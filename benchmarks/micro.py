"""C micro-benchmarks (`make bench-c`): parser and router ns per call, their
callgrind instruction counts, and JSON encoding of a small dict from Python.

Timings come from tests/c/bench_http1.c and tests/c/bench_router.c, built with
the extension's optimisation flags (setup.py: -O3, no -march) and pinned to
CPU 1. Instruction counts come from benchmarks/c/callgrind_core.c under
callgrind: they do not move with machine load, so they are the numbers to
compare across commits.

Usage: python benchmarks/micro.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Sources under test: this tree, or the tree whose src/ PRONGHORN_SRC names (see run.py).
TREE = Path(os.environ.get("PRONGHORN_SRC", ROOT / "src")).resolve().parent
CORE = TREE / "src" / "pronghorn" / "_core"
BUILD = ROOT / "benchmarks" / ".build"
CFLAGS = ["-O3", "-std=c11", "-D_GNU_SOURCE", "-DNDEBUG", f"-I{CORE}"]
CALLGRIND_ITERS = 2000

# Published reference classes the issue compares against.
PARSER_REFERENCE = "picohttpparser-class: ≈150–200 ns per browser request"
ROUTER_REFERENCE = "httprouter/matchit-class: ≈20–50 ns per lookup"


def _cc(output: str, sources: list[Path]) -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / output
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, *CFLAGS, "-o", str(exe), *map(str, sources)], check=True)
    return exe


def _pinned(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", "1", *cmd] if shutil.which("taskset") else cmd


def parser_timings(runs: int = 2) -> dict[str, float]:
    """Best of ``runs`` runs of bench_http1 (itself best of 5): the machine may be shared."""
    exe = _cc("bench_http1", [TREE / "tests/c/bench_http1.c", CORE / "http1.c", CORE / "chunked.c"])
    result: dict[str, float] = {}
    for _ in range(runs):
        out = subprocess.run(_pinned([str(exe)]), check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            m = re.match(r"(.+?)\s+(\d+) bytes.*?([\d.]+) ns/request", line)
            if m:
                name, ns = m.group(1).strip(), float(m.group(3))
                result[name] = min(ns, result.get(name, ns))
    return result


def router_timings() -> dict[str, dict[str, float]]:
    """ns per lookup at 1,000 routes: 'hot' (one path per case) and 'spread' (512 paths)."""
    exe = _cc("bench_router", [TREE / "tests/c/bench_router.c", CORE / "router.c"])
    out = subprocess.run(_pinned([str(exe)]), check=True, capture_output=True, text=True).stdout
    tables, names = [], []
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0] == "routes":
            names = cols[1:]
            tables.append({})
        elif len(cols) == len(names) + 1 and cols[0] == "1000":
            tables[-1] = dict(zip(names, map(float, cols[1:])))
    return {"hot": tables[0], "spread": tables[1]}


def callgrind_counts() -> dict[str, dict[str, float]]:
    """Instructions per call (callgrind Ir / iterations); empty when valgrind is missing."""
    if not shutil.which("valgrind"):
        return {}
    exe = _cc("callgrind_core", [ROOT / "benchmarks/c/callgrind_core.c", CORE / "http1.c",
                                 CORE / "chunked.c", CORE / "router.c"])
    counts: dict[str, dict[str, float]] = {"http1": {}, "router": {}}
    cases = [("http1", "chrome"), ("http1", "minimal"), ("router", "static"),
             ("router", "1-param"), ("router", "3-param"), ("router", "catch-all")]
    for kind, case in cases:
        out_file = BUILD / f"callgrind.{kind}.{case}.out"
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                        f"--callgrind-out-file={out_file}", str(exe), kind, case,
                        str(CALLGRIND_ITERS)], check=True, capture_output=True)
        total = re.search(r"^summary:\s+(\d+)", out_file.read_text(), re.M)
        counts[kind][case] = int(total.group(1)) / CALLGRIND_ITERS
    return counts


def json_encode_timings() -> dict[str, float]:
    """ns per call, best of 5 timeit runs, in this interpreter."""
    import msgspec

    small = {"message": "Hello, world!"}
    user = {"user_id": 12345, "q": "hello"}
    encode = msgspec.json.encode
    cases = {
        'msgspec.json.encode({"message": ...})': lambda: encode(small),
        'msgspec.json.encode({"user_id": ..., "q": ...})': lambda: encode(user),
        'json.dumps({"message": ...}) (stdlib, for scale)': lambda: json.dumps(small),
    }
    result = {}
    for name, func in cases.items():
        number = 200_000
        best = min(timeit.repeat(func, number=number, repeat=5))
        result[name] = best / number * 1e9
    return result


def run_all() -> dict:
    return {
        "parser_ns": parser_timings(),
        "router_ns": router_timings(),
        "callgrind_ir": callgrind_counts(),
        "json_ns": json_encode_timings(),
    }


def format_text(micro: dict) -> str:
    lines = ["C micro-benchmarks (best-of runs on CPU 1; ns move with machine load, "
             "callgrind Ir do not)", ""]
    ir = micro.get("callgrind_ir", {})
    lines.append(f"parser, ns per request ({PARSER_REFERENCE}):")
    for name, ns in micro["parser_ns"].items():
        lines.append(f"  {name:<28} {ns:8.1f} ns")
    for case, n in ir.get("http1", {}).items():
        lines.append(f"  callgrind {case:<18} {n:8.0f} instructions/request")
    lines.append(f"router at 1,000 routes, ns per lookup ({ROUTER_REFERENCE}):")
    for mode, row in micro["router_ns"].items():
        cells = ", ".join(f"{k} {v:.1f}" for k, v in row.items())
        lines.append(f"  {mode:<7} {cells}")
    if ir.get("router"):
        cells = ", ".join(f"{k} {v:.0f}" for k, v in ir["router"].items())
        lines.append(f"  callgrind instructions/lookup: {cells}")
    lines.append("JSON encode from Python, ns per call:")
    for name, ns in micro["json_ns"].items():
        lines.append(f"  {name:<50} {ns:8.1f} ns")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/micro.json",
                        help="where to write the raw results")
    args = parser.parse_args()
    micro = run_all()
    print(format_text(micro))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(micro, indent=2) + "\n")
    print(f"\nraw results: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
