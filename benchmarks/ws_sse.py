"""WebSocket echo messages/s and SSE events/s, pronghorn vs uvicorn, granian (`make bench-ws`).

Servers (one worker each, pinned to CPU 0 by benchmarks/servers.py's `running`):
pronghorn native (benchmarks/apps/ws_sse_pronghorn.py), pronghorn's ASGI server,
uvicorn (websockets implementation) and granian, the last three running the same
Starlette app (benchmarks/apps/ws_sse_starlette.py). This process is the load
generator, pinned to CPU 1, with raw sockets and an epoll loop:

- ws: K connections, each sending one pre-masked 32-byte text frame, waiting for
  the 34-byte unmasked echo, and sending it again, for D seconds. Messages/s.
- sse: S concurrent GET /sse?n=N streams (Connection: close), read to EOF;
  events/s = S*N / time from the first request to the last EOF; the event
  count is checked by de-chunking and counting "\\n\\n".

Rounds are interleaved (a rotated server order per round); medians are reported.
Writes benchmarks/results/ws_sse.md (and .json).

    python benchmarks/ws_sse.py [--duration S] [--rounds R] [--connections K]
                                [--events N] [--streams S] [--only KEY,...]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import select
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import servers  # noqa: E402
from benchmarks.servers import Server  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LOAD_CPU = 1
PAYLOAD = b"0123456789abcdef0123456789abcdef"  # 32 bytes of text
MASK = b"\x11\x22\x33\x44"
FRAME = (bytes([0x81, 0x80 | len(PAYLOAD)]) + MASK
         + bytes(b ^ MASK[i % 4] for i, b in enumerate(PAYLOAD)))
ECHO = bytes([0x81, len(PAYLOAD)]) + PAYLOAD


# ---- servers -------------------------------------------------------------------------------

def _pronghorn(target: str, *extra: str):
    def command(port: int, tmp: Path) -> list[str]:
        return [servers.peers_python(), "-m", "pronghorn", "run", target, "--host", "127.0.0.1",
                "--port", str(port), "--workers", "1", "--no-access-log",
                "--log-level", "warning", "--backlog", "4096", *extra]
    return command


def _uvicorn(port: int, tmp: Path) -> list[str]:
    return [servers.peers_python(), "-m", "uvicorn", "benchmarks.apps.ws_sse_starlette:app",
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--ws", "websockets", "--no-access-log",
            "--log-level", "warning", "--backlog", "4096"]


def _granian(port: int, tmp: Path) -> list[str]:
    return [str(servers.PEERS_VENV / "bin" / "granian"), "--interface", "asgi",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--runtime-threads", "1", "--loop", "uvloop", "--http", "1", "--ws",
            "--log-level", "warning", "--backlog", "4096",
            "benchmarks.apps.ws_sse_starlette:app"]


def all_servers() -> list[Server]:
    env = servers._pronghorn_env()
    out = [
        Server("pronghorn", "pronghorn", _pronghorn("benchmarks.apps.ws_sse_pronghorn:app"),
               "native", pronghorn=True, env=env),
        Server("pronghorn-asgi-starlette", "pronghorn ASGI + Starlette",
               _pronghorn("benchmarks.apps.ws_sse_starlette:app", "--interface", "asgi"),
               "ASGI", pronghorn=True, env=env),
        Server("uvicorn-starlette", "uvicorn + Starlette (websockets)", _uvicorn, "ASGI"),
        Server("granian-starlette", "granian + Starlette", _granian, "ASGI"),
    ]
    for s in out:
        if s.key.startswith("pronghorn"):
            s.skip = servers._peers_can_import("pronghorn._core", "starlette")
        elif s.key.startswith("uvicorn"):
            s.skip = servers._peers_can_import("uvicorn", "httptools", "uvloop", "websockets",
                                               "starlette")
        else:
            s.skip = servers._peers_can_import("granian", "starlette")
    return out


# ---- load: WebSocket echo ------------------------------------------------------------------

def _ws_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the WebSocket handshake")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    if rest:
        raise RuntimeError("unexpected bytes after the handshake")
    # one checked echo before measuring
    sock.sendall(FRAME)
    got = b""
    while len(got) < len(ECHO):
        got += sock.recv(4096)
    if got != ECHO:
        raise RuntimeError(f"bad echo frame {got[:40]!r}")
    sock.setblocking(False)
    return sock


def ws_echo(port: int, connections: int, duration: float) -> float:
    socks = [_ws_connect(port) for _ in range(connections)]
    ep = select.epoll()
    pending = {}
    by_fd = {}
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN)
        by_fd[s.fileno()] = s
        pending[s.fileno()] = 0
    frame, need = FRAME, len(ECHO)
    count = 0
    start = time.perf_counter()
    end = start + duration
    for s in socks:
        s.send(frame)
    try:
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            for fd, _ in ep.poll(end - now):
                s = by_fd[fd]
                data = s.recv(65536)
                if not data:
                    raise RuntimeError("server closed a WebSocket connection")
                got = pending[fd] + len(data)
                if got >= need:  # one message in flight per connection: a full echo
                    if got != need:
                        raise RuntimeError(f"unexpected {got} bytes for one echo")
                    count += 1
                    got = 0
                    s.send(frame)
                pending[fd] = got
        elapsed = time.perf_counter() - start
    finally:
        ep.close()
        for s in socks:
            s.close()
    return count / elapsed


# ---- load: SSE --------------------------------------------------------------------------------

def _dechunk(body: bytes) -> bytes:
    out, i = [], 0
    while True:
        j = body.index(b"\r\n", i)
        size = int(body[i:j].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[j + 2:j + 2 + size])
        i = j + 2 + size + 2


def sse_stream(port: int, events: int, streams: int) -> float:
    request = (f"GET /sse?n={events} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Accept: text/event-stream\r\nConnection: close\r\n\r\n").encode()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(streams)]
    ep = select.epoll()
    bufs: dict[int, list[bytes]] = {}
    by_fd = {}
    for s in socks:
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLIN)
        by_fd[s.fileno()] = s
        bufs[s.fileno()] = []
    start = time.perf_counter()
    for s in socks:
        s.send(request)
    open_ = len(socks)
    deadline = start + 300
    try:
        while open_:
            if time.perf_counter() > deadline:
                raise RuntimeError("SSE stream did not finish in 300 s")
            for fd, _ in ep.poll(1.0):
                data = by_fd[fd].recv(1 << 20)
                if data:
                    bufs[fd].append(data)
                else:
                    ep.unregister(fd)
                    open_ -= 1
        elapsed = time.perf_counter() - start
    finally:
        ep.close()
        for s in socks:
            s.close()
    for chunks in bufs.values():
        raw = b"".join(chunks)
        head, body = raw.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"SSE status {head[:60]!r}")
        if b"chunked" in head.lower():
            body = _dechunk(body)
        got = body.count(b"\n\n")
        if got != events:
            raise RuntimeError(f"SSE stream had {got} events, expected {events}")
    return events * streams / elapsed


# ---- report ---------------------------------------------------------------------------------

def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _versions() -> str:
    code = ("import importlib.metadata as m\n"
            "for p in ('uvicorn','uvloop','httptools','websockets','starlette','granian'):\n"
            "    print(p + ' ' + m.version(p))")
    done = subprocess.run([servers.peers_python(), "-c", code], capture_output=True, text=True)
    return ", ".join(done.stdout.split("\n")[:-1]) if done.returncode == 0 else "?"


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def write_report(raw: dict) -> Path:
    rows = raw["results"]
    ours = rows.get("pronghorn", {})
    lines = [
        "# WebSocket echo and SSE: pronghorn vs uvicorn, granian", "",
        f"Run {raw['date']} on {raw['cpu']} ({os.cpu_count()} cores), Linux "
        f"{platform.release()}, Python {platform.python_version()}, pronghorn {raw['commit']}; "
        f"{raw['versions']}.", "",
        f"Command: `{raw['command']}`. Each server runs one worker pinned to CPU 0 "
        f"(`taskset -c 0`); the load generator (this script: raw sockets, epoll, one Python "
        f"process) is pinned to CPU 1. {raw['rounds']} interleaved round(s), median reported.",
        "",
        f"- **ws echo**: {raw['connections']} connections, each sending a pre-masked 32-byte "
        f"text frame and waiting for its echo before the next (one message in flight per "
        f"connection), {raw['duration']} s per round. Messages (round trips) per second.",
        f"- **sse**: {raw['streams']} concurrent stream(s) of GET /sse?n={raw['events']:,} "
        f"(`data: 0123456789abcdef` events), read to EOF; events/s = events received / time "
        f"from request to EOF (event count checked).", "",
        "Load average before / after: " + raw["load_before"] + " / " + raw["load_after"] +
        f" (`uptime`: {raw['uptime_before']} / {raw['uptime_after']}). A shared, loaded "
        "machine: absolute figures are noisy, and the Python load generator on one core may "
        "cap the fastest server; ratios within a round are more telling.", "",
        "| server | ws echo msg/s | sse events/s | pronghorn / this (ws) | pronghorn / this (sse) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, r in rows.items():
        label = r["label"] if key != "pronghorn" else f"**{r['label']}**"
        if r.get("skip"):
            lines.append(f"| {label} | skipped: {r['skip']} | | | |")
            continue
        ratios = []
        for m in ("ws", "sse"):
            a, b = ours.get(m), r.get(m)
            ratios.append("—" if not a or not b else f"{a / b:.2f}×")
        lines.append(f"| {label} | {_fmt(r.get('ws'))} | {_fmt(r.get('sse'))} | "
                     f"{ratios[0]} | {ratios[1]} |")
    lines += ["", "Per-round figures (ws msg/s; sse events/s):", ""]
    for key, r in rows.items():
        if not r.get("skip"):
            lines.append(f"- {r['label']}: ws {', '.join(_fmt(x) for x in r['ws_rounds'])}; "
                         f"sse {', '.join(_fmt(x) for x in r['sse_rounds'])}")
    lines += ["", "Notes:", "",
              "- Starlette has no EventSourceResponse (that is the separate sse-starlette "
              "package): its /sse is a `StreamingResponse` of pre-encoded events, the same bytes "
              "pronghorn's `EventSourceResponse(..., ping=None)` encodes per item.",
              "- uvicorn runs `--ws websockets --loop uvloop --http httptools`; granian "
              "`--interface asgi --ws --loop uvloop --runtime-threads 1`."]
    for key, r in rows.items():
        for err in r.get("errors", []):
            lines.append(f"- {r['label']}: {err}")
    path = RESULTS / "ws_sse.md"
    path.write_text("\n".join(lines) + "\n")
    (RESULTS / "ws_sse.json").write_text(json.dumps(raw, indent=2) + "\n")
    return path


# ---- main -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--only", default="")
    args = p.parse_args(argv)
    if sys.platform != "linux":
        raise SystemExit("needs Linux (taskset, epoll)")
    os.sched_setaffinity(0, {LOAD_CPU})
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    load_before = _loadavg()
    todo = all_servers()
    if args.only:
        keys = set(args.only.split(","))
        todo = [s for s in todo if s.key in keys]
    results: dict[str, dict] = {}
    for s in todo:
        results[s.key] = {"label": s.label, "ws_rounds": [], "sse_rounds": [], "errors": []}
        if s.skip:
            results[s.key]["skip"] = s.skip
            print(f"skip {s.label}: {s.skip}", flush=True)
    live = [s for s in todo if not s.skip]
    for rnd in range(args.rounds):
        order = live[rnd % len(live):] + live[:rnd % len(live)] if live else []
        for s in order:
            r = results[s.key]
            try:
                with servers.running(s) as run:
                    ws = ws_echo(run.port, args.connections, args.duration)
                    r["ws_rounds"].append(ws)
                    sse = sse_stream(run.port, args.events, args.streams)
                    r["sse_rounds"].append(sse)
                    print(f"round {rnd + 1} {s.label}: ws {ws:,.0f} msg/s, sse {sse:,.0f} ev/s",
                          flush=True)
            except Exception as exc:  # noqa: BLE001 - report it and go on
                msg = f"round {rnd + 1}: {type(exc).__name__}: {str(exc)[:300]}"
                r["errors"].append(msg)
                print(f"{s.label}: {msg}", flush=True)
    for r in results.values():
        r["ws"] = statistics.median(r["ws_rounds"]) if r["ws_rounds"] else None
        r["sse"] = statistics.median(r["sse_rounds"]) if r["sse_rounds"] else None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src/"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    raw = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu(), "commit": commit + (" (with uncommitted changes in src/)" if dirty else ""),
        "versions": _versions(),
        "command": os.environ.get("BENCH_WS_COMMAND") or "python benchmarks/ws_sse.py "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "duration": args.duration, "rounds": args.rounds, "connections": args.connections,
        "events": args.events, "streams": args.streams,
        "load_before": load_before, "load_after": _loadavg(),
        "uptime_before": uptime_before,
        "uptime_after": subprocess.run(["uptime"], capture_output=True,
                                       text=True).stdout.strip(),
        "results": results,
    }
    path = write_report(raw)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
