"""Turning a run's raw results into the Markdown report, the targets, the chart
and the README section. Pure formatting: no servers, no measuring."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

from benchmarks.load import SCENARIOS

SHORT = {
    "nginx": "nginx",
    "uvicorn-starlette": "uvicorn+Starlette",
    "uvicorn-fastapi": "uvicorn+FastAPI",
    "granian-starlette": "granian+Starlette",
    "granian-fastapi": "granian+FastAPI",
    "socketify": "socketify",
    "pronghorn": "**pronghorn**",
    "pronghorn-asgi-starlette": "pronghorn ASGI+Starlette",
    "pronghorn-asgi-fastapi": "pronghorn ASGI+FastAPI",
}
SCENARIO_TITLE = {sc.key: sc.title for sc in SCENARIOS}


# ---- machine -----------------------------------------------------------------------

def _first_line(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _peer_versions() -> dict[str, str]:
    from benchmarks.servers import peers_python

    code = ("import importlib.metadata as m\n"
            "for n in ('uvicorn','httptools','uvloop','starlette','fastapi','pydantic',"
            "'granian','socketify','msgspec'):\n"
            "    try: print(n, m.version(n))\n"
            "    except Exception: pass\n")
    try:
        out = subprocess.run([peers_python(), "-c", code], capture_output=True, text=True,
                             timeout=30).stdout
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def machine_info() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from benchmarks.servers import PRONGHORN_SRC

    root = PRONGHORN_SRC.parent
    commit = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        commit += " (with uncommitted changes in src/)"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nginx": _first_line(["nginx", "-v"]).replace("nginx version: ", ""),
        "wrk": _first_line(["wrk", "-v"]).split(" Copyright")[0],
        "peers": _peer_versions(),
        "pronghorn_commit": commit,
    }


# ---- numbers -------------------------------------------------------------------------

def _rps(raw: dict, server: str, scenario: str) -> float | None:
    return raw["summary"].get(server, {}).get("scenarios", {}).get(scenario, {}).get("rps")


def _get(raw: dict, server: str, scenario: str, field: str) -> float | None:
    return raw["summary"].get(server, {}).get("scenarios", {}).get(scenario, {}).get(field)


def _ran(raw: dict) -> list[str]:
    return [k for k, v in raw["servers"].items() if not v.get("skip")]


def _fmt_rps(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


# ---- targets ----------------------------------------------------------------------------

def targets(raw: dict) -> list[dict]:
    """The issue's targets, each {"name", "ok" (True/False/None = not measured), "detail"}."""
    out: list[dict] = []

    def ratio_target(name: str, server: str, scenario: str, peer: str, want: float) -> None:
        r = _ratio(_rps(raw, server, scenario), _rps(raw, peer, scenario))
        out.append({"name": name, "ok": None if r is None else r >= want,
                    "detail": "not measured" if r is None else f"{r:.2f}×"})

    for scenario, want in (("plaintext", 0.90), ("json", 0.80), ("params", 0.70)):
        ratio_target(f"{scenario} ≥ {want:.2f} × nginx", "pronghorn", scenario, "nginx", want)
    for scenario in ("plaintext", "json", "params"):
        ratio_target(f"{scenario} ≥ 1.3 × granian+Starlette", "pronghorn", scenario,
                     "granian-starlette", 1.3)
    ratio_target("params ≥ 10 × uvicorn+FastAPI", "pronghorn", "params", "uvicorn-fastapi", 10)
    ratio_target("pipelined plaintext ≥ 1.0 × nginx", "pronghorn", "pipeline", "nginx", 1.0)
    for peer, label, want in (("uvicorn-fastapi", "uvicorn", 1.5),
                              ("granian-fastapi", "granian", 1.1)):
        ratios = [_ratio(_rps(raw, "pronghorn-asgi-fastapi", sc), _rps(raw, peer, sc))
                  for sc in ("plaintext", "json", "params")]
        name = f"pronghorn ASGI on the FastAPI app ≥ {want} × {label} (plaintext, json, params)"
        if any(r is None for r in ratios):
            out.append({"name": name, "ok": None, "detail": "not measured (" + (
                raw["servers"].get("pronghorn-asgi-fastapi", {}).get("skip") or "no data") + ")"})
        else:
            out.append({"name": name, "ok": min(ratios) >= want,
                        "detail": ", ".join(f"{r:.2f}×" for r in ratios)})
    conns = raw["settings"]["connections"]
    mine, ref = _get(raw, "pronghorn", "plaintext", "p99_ms"), _get(raw, "nginx", "plaintext",
                                                                      "p99_ms")
    name = "plaintext p99 at 64 connections ≤ 1.5 × nginx's"
    if conns != 64:
        out.append({"name": name, "ok": None, "detail": f"ran at {conns} connections"})
    elif mine is None or ref is None:
        out.append({"name": name, "ok": None, "detail": "not measured"})
    else:
        out.append({"name": name, "ok": mine <= 1.5 * ref,
                    "detail": f"{mine:.2f} ms vs nginx {ref:.2f} ms ({mine / ref:.2f}×)"})
    idle = raw["servers"].get("pronghorn", {}).get("idle", {})
    want_conns = raw["settings"]["idle_connections"]
    name = f"{want_conns:,} idle keep-alive connections < 4 KiB RSS each"
    per = idle.get("bytes_per_conn")
    if per is None:
        out.append({"name": name, "ok": None,
                    "detail": idle.get("error", "not measured")})
    else:
        held_all = idle["held"] == want_conns
        out.append({"name": name, "ok": per < 4096 and held_all,
                    "detail": f"{per / 1024:.2f} KiB per connection, "
                              f"{idle['held']:,}/{want_conns:,} held"})
    micro = raw.get("micro")
    if micro:
        spread = micro["router_ns"]["spread"]
        for case, want in (("static", 30), ("1-param", 50)):
            out.append({"name": f"router {case} lookup ≤ {want} ns at 1,000 routes",
                        "ok": spread[case] <= want,
                        "detail": f"{spread[case]:.1f} ns (512 paths spread; cache-hot "
                                  f"{micro['router_ns']['hot'][case]:.1f} ns)"})
        ns = micro["parser_ns"].get("chrome navigation")
        out.append({"name": "parser ≤ 200 ns for a typical browser request",
                    "ok": None if ns is None else ns <= 200,
                    "detail": "not measured" if ns is None else
                    f"{ns:.0f} ns (Chrome navigation, 550 bytes)"})
    else:
        for name in ("router static ≤ 30 ns", "router 1-param ≤ 50 ns", "parser ≤ 200 ns"):
            out.append({"name": name, "ok": None, "detail": "micro-benchmarks not run"})
    return out


def _mark(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "SKIP"}[ok]


def targets_text(items: list[dict]) -> str:
    return "\n".join(f"{_mark(t['ok'])}  {t['name']}: {t['detail']}" for t in items)


# ---- markdown -----------------------------------------------------------------------------

def rps_table(raw: dict) -> str:
    keys = _ran(raw)
    lines = ["| scenario | " + " | ".join(SHORT[k] for k in keys) + " |",
             "|---|" + "---:|" * len(keys)]
    for sc in SCENARIOS:
        cells = []
        for k in keys:
            v = _fmt_rps(_rps(raw, k, sc.key))
            if _get(raw, k, sc.key, "errors"):
                v += " ⚠"
            cells.append(f"**{v}**" if k == "pronghorn" and v != "—" else v)
        lines.append(f"| {sc.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_table(raw: dict) -> str:
    peers = [k for k in _ran(raw) if k != "pronghorn"]
    lines = ["| pronghorn ÷ | " + " | ".join(SHORT[k] for k in peers) + " |",
             "|---|" + "---:|" * len(peers)]
    for sc in SCENARIOS:
        mine = _rps(raw, "pronghorn", sc.key)
        cells = [_fmt_ratio(_ratio(mine, _rps(raw, k, sc.key))) for k in peers]
        lines.append(f"| {sc.title} | " + " | ".join(cells) + " |")
    asgi = [k for k in ("pronghorn-asgi-starlette", "pronghorn-asgi-fastapi") if k in _ran(raw)]
    if asgi:
        lines += ["", "| pronghorn's ASGI server ÷ | " + " | ".join(
            f"{SHORT[p]}" for p in ("uvicorn-starlette", "granian-starlette", "uvicorn-fastapi",
                                    "granian-fastapi")) + " |", "|---|---:|---:|---:|---:|"]
        for sc in SCENARIOS:
            cells = []
            for peer in ("uvicorn-starlette", "granian-starlette", "uvicorn-fastapi",
                         "granian-fastapi"):
                mine_key = "pronghorn-asgi-" + peer.split("-")[1]
                cells.append(_fmt_ratio(_ratio(_rps(raw, mine_key, sc.key),
                                               _rps(raw, peer, sc.key))))
            lines.append(f"| {sc.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def latency_table(raw: dict) -> str:
    keys = _ran(raw)
    lines = ["| p50 / p99 (ms) | " + " | ".join(SHORT[k] for k in keys) + " |",
             "|---|" + "---:|" * len(keys)]
    for sc in SCENARIOS:
        cells = []
        for k in keys:
            p50, p99 = _get(raw, k, sc.key, "p50_ms"), _get(raw, k, sc.key, "p99_ms")
            if sc.key == "pipeline":
                cells.append("n/a")  # wrk times a pipelined batch, not each request
            else:
                cells.append("—" if p50 is None else f"{p50:.2f} / {p99:.2f}")
        lines.append(f"| {sc.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memory_table(raw: dict) -> str:
    n = raw["settings"]["idle_connections"]
    lines = [f"| server | peak RSS under load (VmHWM, process tree) | {n:,} idle connections: "
             "held | RSS growth | per connection |", "|---|---:|---:|---:|---:|"]
    for k in _ran(raw):
        peak = raw["summary"].get(k, {}).get("peak_rss_kib")
        idle = raw["servers"][k].get("idle", {})
        if "held" in idle:
            per = idle.get("bytes_per_conn")
            cells = [f"{idle['held']:,}", f"{idle['delta_kib'] / 1024:,.1f} MiB",
                     "—" if per is None else f"{per / 1024:.2f} KiB"]
        else:
            cells = ["—", "—", idle.get("error", "not run")[:60]]
        lines.append(f"| {SHORT[k]} | {'—' if peak is None else f'{peak / 1024:,.1f} MiB'} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def micro_table(micro: dict) -> str:
    from benchmarks.micro import PARSER_REFERENCE, ROUTER_REFERENCE

    ir = micro.get("callgrind_ir", {})
    lines = ["| micro-benchmark | ns (best of runs) | callgrind instructions | reference |",
             "|---|---:|---:|---|"]
    ir_http = {"chrome navigation": ir.get("http1", {}).get("chrome")}
    for name, ns in micro["parser_ns"].items():
        n = ir_http.get(name)
        lines.append(f"| parser: {name} | {ns:.0f} | {'—' if n is None else f'{n:,.0f}'} | "
                     f"{PARSER_REFERENCE} |")
    if "minimal" in ir.get("http1", {}):
        lines.append(f"| parser: wrk's 2-line request | — | {ir['http1']['minimal']:,.0f} | |")
    for case in ("static", "1-param", "3-param", "catch-all"):
        hot = micro["router_ns"]["hot"].get(case)
        spread = micro["router_ns"]["spread"].get(case)
        n = ir.get("router", {}).get(case)
        lines.append(f"| router, 1,000 routes: {case} | {spread:.1f} (hot {hot:.1f}) | "
                     f"{'—' if n is None else f'{n:,.0f}'} | {ROUTER_REFERENCE} |")
    for name, ns in micro["json_ns"].items():
        lines.append(f"| JSON: `{name}` | {ns:.0f} | — | |")
    return "\n".join(lines)


def _header(raw: dict) -> str:
    m, s = raw["machine"], raw["settings"]
    peers = ", ".join(f"{k} {v}" for k, v in m.get("peers", {}).items())
    return (
        f"Run {raw['started']} on {m['cpu']} ({m['cores']} cores), Linux {m['kernel']}, "
        f"Python {m['python']}, pronghorn {m['pronghorn_commit']}; nginx {m['nginx']}, "
        f"{m['wrk']}; {peers}.\n\n"
        f"Command: `make bench` (`{raw['command']}`). Each server runs one worker pinned to "
        f"CPU 0 (`taskset -c 0`); wrk runs 1 thread with {s['connections']} connections "
        f"pinned to CPU 1; {s['rounds']} interleaved round(s) of {s['duration_s']} s per case, "
        f"median reported. Pipelining: wrk with a Lua script writing {s['pipeline_depth']} "
        f"requests per write. Load average before / after: {raw['load_before']} / "
        f"{raw.get('load_after', '?')} (a shared machine: absolute figures are noisy, "
        f"ratios within a round less so).")


def markdown(raw: dict, chart: str | None = None) -> str:
    parts = [f"# pronghorn benchmarks — {raw['started'][:10]}", "", _header(raw), ""]
    if chart:
        parts += [f"![requests per second]({chart})", ""]
    parts += ["## Requests per second (median of rounds; ⚠ = errors or non-2xx answers)", "",
              rps_table(raw), "", "## Ratios", "", ratio_table(raw), "",
              "## Latency", "", latency_table(raw), "", "## Memory", "", memory_table(raw), "",
              "## Targets", ""]
    parts += [f"- **{_mark(t['ok'])}** {t['name']}: {t['detail']}" for t in targets(raw)]
    parts += ["", "## Servers and handlers", "", "| server | handlers | notes |", "|---|---|---|"]
    for k, v in raw["servers"].items():
        notes = list(v["notes"])
        if k == "pronghorn":
            notes += raw.get("pronghorn_notes", [])
        if v.get("skip"):
            notes.insert(0, f"**skipped**: {v['skip']}")
        for mm in v.get("mismatches", []):
            notes.append(f"**mismatch**: {mm}")
        crashes = [c for r in v.get("rounds", []) for c in r.get("crashes", [])]
        for c in crashes:
            notes.append(f"**crashed** (restarted for the next case): {c}")
        for f in v.get("failures", []):
            notes.append(f"**failed**: {f.splitlines()[0]}")
        lines = "<br>".join(n.replace("|", "\\|") for n in notes) or ""
        lines = lines.replace("\n", " ")
        parts.append(f"| {v['label']} | {v['handlers']} | {lines} |")
    parts += ["", "Every server answers the same routes with the same status, content type "
              "and body (checked once per server before measuring; invalid input is checked to "
              "get 422 from every server but nginx); no server caches responses."]
    if raw.get("micro"):
        parts += ["", "## C micro-benchmarks", "", micro_table(raw["micro"])]
    return "\n".join(parts) + "\n"


# ---- chart ----------------------------------------------------------------------------------

def chart(raw: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    keys = _ran(raw)
    labels = [SHORT[k].replace("**", "") for k in keys]
    fig, axes = plt.subplots(2, 4, figsize=(18, 8.5))
    for ax, sc in zip(axes.flat, SCENARIOS):
        values = [_rps(raw, k, sc.key) or 0 for k in keys]
        colors = ["#d9480f" if k == "pronghorn" else "#f08c00" if k.startswith("pronghorn")
                  else "#495057" if k == "nginx" else "#74c0fc" for k in keys]
        ax.barh(range(len(keys)), [v / 1000 for v in values], color=colors)
        ax.set_yticks(range(len(keys)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(sc.title.replace("`", ""), fontsize=10)
        ax.set_xlabel("thousand requests/s", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        top = max(values) / 1000 if any(values) else 1
        for i, v in enumerate(values):
            ax.text(v / 1000 + top * 0.01, i, f"{v / 1000:.1f}k" if v else "—",
                    va="center", fontsize=7)
        ax.set_xlim(0, top * 1.2)
    ax = axes.flat[len(SCENARIOS)]
    per = [raw["servers"][k].get("idle", {}).get("bytes_per_conn") or 0 for k in keys]
    ax.barh(range(len(keys)), [p / 1024 for p in per], color="#868e96")
    ax.axvline(4, color="#d9480f", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(keys)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(f"RSS per idle connection ({raw['settings']['idle_connections']:,} held)",
                 fontsize=10)
    ax.set_xlabel("KiB (dashed: 4 KiB target)", fontsize=8)
    m = raw["machine"]
    fig.suptitle(f"pronghorn vs peers, one worker on CPU 0, wrk on CPU 1 — {raw['started'][:10]}"
                 f", {m['cpu']}, load avg {raw['load_before']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ---- README ------------------------------------------------------------------------------------

def update_readme(readme: Path, raw: dict) -> None:
    """Replace the "## Benchmarks" section of README.md (added at the end when missing);
    sections after it, if any, are kept."""
    text = readme.read_text()
    rest = ""
    m = re.search(r"^## Benchmarks\n", text, re.M)
    if m:
        after = re.search(r"^## ", text[m.end():], re.M)
        rest = "" if after is None else "\n" + text[m.end() + after.start():]
        text = text[:m.start()]
    text = text.rstrip("\n") + "\n\n"
    section = [
        "## Benchmarks", "",
        "`make bench` installs the peers into `benchmarks/.venv-peers` (PyPI) and nginx, wrk "
        "and h2load (Debian) when missing, then runs every server one at a time on this "
        "machine: same routes, same response bytes (checked), one worker each, server on "
        "CPU 0 and load generator on CPU 1, interleaved rounds, medians. `make bench-c` runs "
        "the C micro-benchmarks alone; `python benchmarks/run.py --quick` is a smoke test. "
        "Full report, latency, memory and targets: "
        "[benchmarks/results/latest.md](benchmarks/results/latest.md).", "",
        "WebSocket echo messages/s and SSE events/s against uvicorn and granian "
        "(`make bench-ws`): [benchmarks/results/ws_sse.md](benchmarks/results/ws_sse.md).", "",
        _header(raw), "",
        "![requests per second](benchmarks/results/latest.png)", "",
        "Requests per second:", "", rps_table(raw), "", "pronghorn's ratio to each peer:", "",
        ratio_table(raw), "", "Targets:", "",
    ]
    section += [f"- **{_mark(t['ok'])}** {t['name']}: {t['detail']}" for t in targets(raw)]
    readme.write_text(text + "\n".join(section) + "\n" + rest)
