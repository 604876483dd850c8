"""Load generation and checks: wrk runs, the one-off correctness fetches, and the
idle keep-alive connections client. Everything here runs on CPU 1."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WRK_DIR = BENCH / "wrk"
CLIENT_CPU = "1"
ITEM_JSON = (WRK_DIR / "item.json").read_bytes()
PIPELINE_DEPTH = 16

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    method: str
    path: str
    script: str            # wrk Lua script in benchmarks/wrk/
    status: int
    content_type: str
    body: bytes


SCENARIOS = [
    Scenario("plaintext", "plaintext `GET /`", "GET", "/", "report.lua", 200, TEXT,
             b"Hello, world!"),
    Scenario("json", "JSON `GET /json` (async)", "GET", "/json", "report.lua", 200, JSON,
             b'{"message":"Hello, world!"}'),
    Scenario("params", "typed params `GET /users/{id}?q=`", "GET", "/users/12345?q=hello",
             "report.lua", 200, JSON, b'{"user_id":12345,"q":"hello"}'),
    Scenario("post", "`POST /items` 1 KB JSON into a model", "POST", "/items", "post.lua", 200,
             JSON, b'{"name":"Ergonomic steel widget","quantity":12,"tags":24}'),
    Scenario("pipeline", f"plaintext pipelined ×{PIPELINE_DEPTH} (wrk + Lua)", "GET", "/",
             "pipeline.lua", 200, TEXT, b"Hello, world!"),
    Scenario("sleep", "`await asyncio.sleep(0)`", "GET", "/sleep", "report.lua", 200, TEXT,
             b"Hello, world!"),
    Scenario("routes", "1,000 routes, param route hit", "GET", "/route501/42", "report.lua", 200,
             JSON, b'{"route":501,"item_id":42}'),
]

# Invalid input must be refused with 422 by every server that validates (not nginx).
NEGATIVE_CHECKS = [
    ("GET", "/users/abc?q=hello", None, 422),
    ("GET", "/users/12345", None, 422),
    ("POST", "/items", b'{"name":"x","price":"cheap"}', 422),
]


def fetch(port: int, method: str, path: str, body: bytes | None = None
          ) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type", ""), resp.read()
    finally:
        conn.close()


def _norm_ctype(value: str) -> str:
    return ";".join(part.strip().lower() for part in value.split(";"))


def verify(port: int, validates: bool) -> list[str]:
    """Fetch every scenario once; the differences from the expected answers."""
    problems = []
    for sc in SCENARIOS:
        if sc.key == "pipeline":
            continue
        body = ITEM_JSON if sc.method == "POST" else None
        try:
            status, ctype, got = fetch(port, sc.method, sc.path, body)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"{sc.method} {sc.path}: {exc!r}")
            continue
        if status != sc.status:
            problems.append(f"{sc.method} {sc.path}: status {status}, expected {sc.status}")
        if _norm_ctype(ctype) != _norm_ctype(sc.content_type):
            problems.append(f"{sc.method} {sc.path}: content-type {ctype!r}, "
                            f"expected {sc.content_type!r}")
        if got != sc.body:
            problems.append(f"{sc.method} {sc.path}: body {got[:120]!r}, expected {sc.body!r}")
    if validates:
        for method, path, body, want in NEGATIVE_CHECKS:
            try:
                status, _, _ = fetch(port, method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                problems.append(f"{method} {path}: {exc!r}")
                continue
            if status != want:
                problems.append(f"{method} {path} (invalid input): status {status}, "
                                f"expected {want}")
    return problems


# ---- wrk -------------------------------------------------------------------------

def wrk(port: int, scenario: Scenario, connections: int, seconds: int) -> dict:
    """One wrk run (1 thread, pinned to CPU 1); requests/s and latency percentiles."""
    cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "--latency", "--timeout", "5s", "-s", scenario.script,
           f"http://127.0.0.1:{port}{scenario.path}"]
    env = {"BENCH_PIPELINE_DEPTH": str(PIPELINE_DEPTH), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, cwd=WRK_DIR, capture_output=True, text=True, env=env,
                          timeout=seconds + 30)
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    r = json.loads(line[len("BENCH_JSON "):])
    errors = (r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
              + r["status_errors"])
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "requests": r["requests"],
        "errors": errors,
        "status_errors": r["status_errors"],
        "p50_ms": r["p50_us"] / 1000,
        "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["max_us"] / 1000,
    }


# ---- idle keep-alive connections -------------------------------------------------------

async def _open_one(port: int, request: bytes):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return reader, writer


async def _idle(port: int, count: int, batch: int, settle: float, measure) -> dict:
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    conns, failures = [], 0
    started = time.monotonic()
    for first in range(0, count, batch):
        results = await asyncio.gather(
            *(_open_one(port, request) for _ in range(min(batch, count - first))),
            return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                failures += 1
            else:
                conns.append(r)
    opened_in = time.monotonic() - started
    await asyncio.sleep(settle)
    after = measure()
    held = sum(1 for reader, _ in conns if not reader.at_eof())
    for _, writer in conns:
        writer.close()
    await asyncio.sleep(0.2)
    return {"opened": len(conns), "failed": failures, "held": held, "after": after,
            "open_seconds": round(opened_in, 2)}


def idle_connections(port: int, count: int, measure, timeout: float = 120.0) -> dict:
    """Open ``count`` keep-alive connections, one request each, leave them idle; ``measure()``
    (the server's memory) is called once they are all open. Bounded by ``timeout``."""
    return asyncio.run(asyncio.wait_for(_idle(port, count, 250, 1.0, measure), timeout))
