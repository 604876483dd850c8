"""ASGI both ways, differentially: the same apps under uvicorn and under pronghorn.

Direction 1 (pronghorn as an ASGI server): a Starlette app and a FastAPI app
(tests/apps/starlette_app.py, tests/apps/fastapi_app.py) are served by
``uvicorn`` and by ``pronghorn run --interface asgi``. Direction 2 (a
Pronghorn app as an ASGI app): tests/apps/pronghorn_app.py is served by
``uvicorn`` and by ``pronghorn run``. Each server is a subprocess on
127.0.0.1 with ``--port 0`` (the bound port is read from its log) and
``--no-access-log``, killed as a process group by its fixture's finalizer.

The same raw HTTP/1.1 requests go to both servers over plain sockets (one
connection per request) and the responses must agree on status, body and
header multiset, minus ``date`` and ``server``. The only differences
allowed are listed in ``ALLOWED``, each with its reason; a difference not
listed fails, and so does a listed one that no longer happens.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

from tests.test_server_integration import Conn, Resp

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
IO_TIMEOUT = 10.0
VOLATILE = {"date", "server"}

# ---- servers -------------------------------------------------------------------------


class Subprocess:
    """A server subprocess in its own session, its output in a log file."""

    LISTENING = re.compile(r"(?:Listening on|Uvicorn running on|Running on|Listening at:) "
                           r"http://127\.0\.0\.1:([1-9]\d*)")

    def __init__(self, log_dir: Path, argv: list[str], port: int | None = None) -> None:
        self.log_path = log_dir / f"{Path(argv[2]).name}-{time.monotonic_ns()}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONHASHSEED"] = "0"  # Starlette's Allow header comes from a set
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.port = self._wait_listening(port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_listening(self, port: int | None) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if port is not None:  # a server that cannot say which port it got
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return port
                except OSError:
                    pass
            else:
                found = self.LISTENING.search(self.log())
                if found:
                    return int(found.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"server did not start: {self.proc.args}\n{self.log()}")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reference(log_dir: Path, name: str, app: str) -> Subprocess:
    """Another ASGI server serving ``app``: uvicorn, or hypercorn/granian when installed."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")
    if name == "uvicorn":
        return Subprocess(log_dir, [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
                                    "--port", "0", "--no-access-log"])
    if name == "hypercorn":
        return Subprocess(log_dir, [sys.executable, "-m", "hypercorn", app,
                                    "--bind", "127.0.0.1:0"])
    port = free_port()  # granian reports port 0 as 0
    return Subprocess(log_dir, [sys.executable, "-m", "granian", "--interface", "asgi",
                                "--host", "127.0.0.1", "--port", str(port), "--no-ws", app],
                      port=port)


def pronghorn_argv(app: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "pronghorn", "run", app, "--host", "127.0.0.1", "--port", "0",
            "--no-access-log", *flags]


def start_pair(log_dir: Path, app: str, *pronghorn_flags: str,
               other: str = "uvicorn") -> dict[str, Subprocess]:
    """``{"reference": <other server>, "pronghorn": pronghorn run}`` serving ``app``."""
    servers: dict[str, Subprocess] = {}
    try:
        servers["reference"] = reference(log_dir, other, app)
        servers["reference"].name = other
        servers["pronghorn"] = Subprocess(log_dir, pronghorn_argv(app, *pronghorn_flags))
    except BaseException:
        for server in servers.values():
            server.kill()
        raise
    return servers


@pytest.fixture(scope="module")
def starlette_servers(tmp_path_factory):
    servers = start_pair(tmp_path_factory.mktemp("starlette"), "tests.apps.starlette_app:app",
                         "--interface", "asgi")
    yield servers
    for server in servers.values():
        server.kill()


@pytest.fixture(scope="module")
def fastapi_servers(tmp_path_factory):
    servers = start_pair(tmp_path_factory.mktemp("fastapi"), "tests.apps.fastapi_app:app",
                         "--interface", "asgi")
    yield servers
    for server in servers.values():
        server.kill()


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn", "granian"])
def pronghorn_app_servers(request, tmp_path_factory):
    servers = start_pair(tmp_path_factory.mktemp("pronghorn"), "tests.apps.pronghorn_app:app",
                         other=request.param)
    yield servers
    for server in servers.values():
        server.kill()


# ---- requests and responses ------------------------------------------------------------


@dataclass
class Case:
    """One request: ``body`` is sent with Content-Length, ``chunks`` with chunked framing
    (each chunk in its own send)."""

    id: str
    method: str
    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None

    def head(self) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1", "Host: testserver"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        elif self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def exchange(port: int, case: Case) -> Resp:
    with Conn(port, timeout=IO_TIMEOUT) as conn:
        if case.chunks is None:
            conn.send(case.head() + case.body)
        else:
            conn.send(case.head())
            for chunk in case.chunks:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        return conn.read_response(head_only=case.method == "HEAD")


def framing(resp: Resp) -> str:
    if resp.header("transfer-encoding") == "chunked":
        return "chunked"
    return "length" if resp.header("content-length") is not None else "none"


def normalise(resp: Resp) -> Resp:
    """Replace the random boundary of a multipart/byteranges response by a fixed one."""
    found = re.search(r"boundary=(\w+)", resp.header("content-type") or "")
    if found:
        random = found.group(1)
        resp.headers = [(k, v.replace(random, "BOUNDARY")) for k, v in resp.headers]
        resp.body = resp.body.replace(random.encode(), b"BOUNDARY")
    return resp


def differences(a: Resp, b: Resp) -> set[str]:
    """What differs between a (uvicorn) and b (pronghorn), as short tags."""
    found = set()
    if a.status != b.status:
        found.add(f"status {a.status} != {b.status}")
    if a.body != b.body:
        found.add("body")
    ha = Counter((k, v) for k, v in a.headers if k not in VOLATILE)
    hb = Counter((k, v) for k, v in b.headers if k not in VOLATILE)
    if ha != hb:
        if framing(a) != framing(b):
            found.add(f"framing {framing(a)} != {framing(b)}")
        for name in sorted({k for k, _ in (ha - hb) + (hb - ha)}):
            if name not in ("content-length", "transfer-encoding") or framing(a) == framing(b):
                found.add(f"header {name}")
    return found


# Differences between uvicorn (first) and pronghorn (second) that are expected, by case id.
# Keep docs/asgi.md's "What to expect" table in step with this.
ALLOWED: dict[str, set[str]] = {
    # The app sent its whole (empty) body in one message without Content-Length: pronghorn
    # knows the length before writing the head and sends Content-Length: 0; uvicorn writes
    # the head at http.response.start and has to chunk.
    "st-stream-empty": {"framing chunked != length"},
}
# The same for a Pronghorn app under hypercorn and granian (direction 2, when installed),
# by (server, case id).
OTHERS: dict[tuple[str, str], set[str]] = {
    # h11 frames a HEAD response as the GET would be: chunked, since the length is unknown
    # (RFC 9110 §9.3.2 allows it); pronghorn, like uvicorn, sends neither.
    ("hypercorn", "ph-head-stream"): {"framing chunked != none"},
}


def check(servers: dict[str, Subprocess], case: Case) -> tuple[Resp, Resp]:
    a = normalise(exchange(servers["reference"].port, case))
    b = normalise(exchange(servers["pronghorn"].port, case))
    found = differences(a, b)
    other = servers["reference"].name
    expected = ALLOWED.get(case.id, set()) if other == "uvicorn" else OTHERS.get(
        (other, case.id), set())
    assert found == expected, (
        f"{case.id}: {sorted(found)} (allowed {sorted(expected)})\n"
        f"{other}:   {a.status} {a.headers}\n           {a.body[:300]!r}\n"
        f"pronghorn: {b.status} {b.headers}\n           {b.body[:300]!r}")
    return a, b


BIG = os.urandom(5 * 1024 * 1024)
CHUNKS = [os.urandom(n) for n in (1, 100, 65536, 3, 300_000, 7)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- direction 1: Starlette -------------------------------------------------------------

STARLETTE_CASES = [
    Case("st-index", "GET", "/"),
    Case("st-json", "GET", "/json"),
    Case("st-stream", "GET", "/stream?n=20"),
    Case("st-stream-empty", "GET", "/stream?n=0"),
    Case("st-stream-length", "GET", "/stream-length"),
    Case("st-upload-5mb", "POST", "/upload", [("Content-Type", "application/octet-stream")],
         body=BIG),
    Case("st-upload-chunked", "PUT", "/upload", chunks=CHUNKS),
    Case("st-upload-empty", "POST", "/upload"),
    Case("st-echo", "POST", "/echo", body=b"echo \x00\xff body"),
    Case("st-state", "GET", "/state"),
    Case("st-state-again", "GET", "/state"),
    Case("st-error", "GET", "/error"),
    Case("st-http-error", "GET", "/http-error"),
    Case("st-headers", "GET", "/headers",
         [("X-Dup", "one"), ("x-dup", "two"), ("X-Mixed-CASE", "Keep Value Case"),
          ("X-Empty", "")]),
    Case("st-cookies-set", "GET", "/cookies/set"),
    Case("st-cookies-read", "GET", "/cookies/read",
         [("Cookie", "session=abc123; theme=dark"), ("Cookie", "extra=1")]),
    Case("st-query", "GET", "/query?a=1&a=2&b=x%20y&c=x+y&d=%2B%26%3D&e&=f&g=caf%C3%A9"),
    Case("st-query-empty", "GET", "/query?"),
    Case("st-path-space", "GET", "/a%20b"),
    Case("st-path-slash", "GET", "/paths/x%2Fy/z"),
    Case("st-path-utf8", "GET", "/paths/caf%C3%A9/%E2%82%AC"),
    Case("st-path-encoded-slash-param", "GET", "/items/a%2Fb"),
    Case("st-path-plain", "GET", "/items/a+b"),
    Case("st-head", "HEAD", "/"),
    Case("st-head-json", "HEAD", "/json"),
    Case("st-head-stream", "HEAD", "/stream"),
    Case("st-head-file", "HEAD", "/file"),
    Case("st-404", "GET", "/nope"),
    Case("st-405", "POST", "/"),
    Case("st-405-put", "PUT", "/method"),
    Case("st-method-delete", "DELETE", "/method"),
    Case("st-204", "GET", "/no-content"),
    Case("st-304", "GET", "/not-modified"),
    Case("st-redirect", "GET", "/redirect"),
    Case("st-file", "GET", "/file"),
    Case("st-file-range", "GET", "/file", [("Range", "bytes=10-99")]),
    Case("st-file-ranges", "GET", "/file", [("Range", "bytes=0-9,100-109")]),
    Case("st-big", "GET", "/big"),
    Case("st-redirect-slash", "GET", "/json/"),
]


@pytest.mark.parametrize("case", STARLETTE_CASES, ids=lambda c: c.id)
def test_starlette(starlette_servers, case):
    a, b = check(starlette_servers, case)
    if case.id == "st-upload-5mb":
        assert msgspec.json.decode(b.body)["sha256"] == sha(BIG)
    elif case.id == "st-upload-chunked":
        assert msgspec.json.decode(b.body)["sha256"] == sha(b"".join(CHUNKS))


# ---- direction 1: FastAPI ----------------------------------------------------------------

ITEM = b'{"name": "widget", "price": 2.5, "tags": ["a"]}'
MULTIPART_BOUNDARY = "----pronghorn-boundary"
MULTIPART = (
    f"--{MULTIPART_BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="file"; filename="data.bin"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n").encode() + BIG[:2_000_000] + (
    f"\r\n--{MULTIPART_BOUNDARY}--\r\n").encode()

FASTAPI_CASES = [
    Case("fa-index", "GET", "/"),
    Case("fa-item", "GET", "/items/42?q=hello%20world&limit=3"),
    Case("fa-item-422", "GET", "/items/notanint"),
    Case("fa-item-422-query", "GET", "/items/1?limit=many"),
    Case("fa-create", "POST", "/items", [("Content-Type", "application/json")], body=ITEM),
    Case("fa-create-422", "POST", "/items", [("Content-Type", "application/json")],
         body=b'{"name": 1}'),
    Case("fa-create-invalid-json", "POST", "/items", [("Content-Type", "application/json")],
         body=b'{"name": '),
    Case("fa-create-chunked", "POST", "/items", [("Content-Type", "application/json")],
         chunks=[ITEM[:10], ITEM[10:]]),
    Case("fa-replace-sync", "PUT", "/items/7", [("Content-Type", "application/json")],
         body=ITEM),
    Case("fa-delete-204", "DELETE", "/items/7"),
    Case("fa-state", "GET", "/state"),
    Case("fa-404-detail", "GET", "/missing"),
    Case("fa-404", "GET", "/no/such/route"),
    Case("fa-405", "POST", "/"),
    Case("fa-error", "GET", "/error"),
    Case("fa-sync-error", "GET", "/sync-error"),
    Case("fa-stream", "GET", "/stream?n=10"),
    Case("fa-upload-5mb", "POST", "/upload", body=BIG),
    Case("fa-upload-chunked", "POST", "/upload", chunks=CHUNKS),
    Case("fa-multipart", "POST", "/files",
         [("Content-Type", f"multipart/form-data; boundary={MULTIPART_BOUNDARY}")],
         body=MULTIPART),
    Case("fa-headers", "GET", "/headers",
         [("X-Token", "one"), ("x-token", "two"), ("User-Agent", "differential/1.0")]),
    Case("fa-cookies-set", "GET", "/cookies/set"),
    Case("fa-cookies-read", "GET", "/cookies/read", [("Cookie", "session=s1; theme=light")]),
    Case("fa-query", "GET", "/query?tag=a&tag=b&tag=c%20d&other=x+y"),
    Case("fa-path", "GET", "/paths/a%20b/c%2Fd"),
    Case("fa-text", "GET", "/text"),
    Case("fa-head", "HEAD", "/"),
    Case("fa-openapi", "GET", "/openapi.json"),
    Case("fa-docs", "GET", "/docs"),
    Case("fa-redoc", "GET", "/redoc"),
]


@pytest.mark.parametrize("case", FASTAPI_CASES, ids=lambda c: c.id)
def test_fastapi(fastapi_servers, case):
    a, b = check(fastapi_servers, case)
    if case.id == "fa-openapi":
        schema = msgspec.json.decode(b.body)
        assert schema["info"]["title"] == "differential"
        assert "/items/{item_id}" in schema["paths"]
    elif case.id == "fa-item-422":
        detail = msgspec.json.decode(b.body)["detail"]
        assert detail[0]["loc"] == ["path", "item_id"]
    elif case.id == "fa-multipart":
        assert msgspec.json.decode(b.body)["sha256"] == sha(BIG[:2_000_000])


# ---- direction 2: a Pronghorn app under uvicorn vs pronghorn run ---------------------------

PRONGHORN_CASES = [
    Case("ph-index", "GET", "/"),
    Case("ph-json", "GET", "/json"),
    Case("ph-param", "GET", "/users/42"),
    Case("ph-param-422", "GET", "/users/abc"),
    Case("ph-stream", "GET", "/stream?n=20"),
    Case("ph-upload-5mb", "POST", "/upload", body=BIG),
    Case("ph-upload-chunked", "POST", "/upload", chunks=CHUNKS),
    Case("ph-echo", "POST", "/echo", body=b"echo \x00\xff body"),
    Case("ph-state", "GET", "/state"),
    Case("ph-error", "GET", "/error"),
    Case("ph-http-error", "GET", "/http-error"),
    Case("ph-headers", "GET", "/headers", [("X-Dup", "one"), ("x-dup", "two"),
                                           ("X-Mixed-CASE", "Keep Value Case")]),
    Case("ph-cookies-set", "GET", "/cookies/set"),
    Case("ph-cookies-read", "GET", "/cookies/read", [("Cookie", "session=abc123; theme=dark")]),
    Case("ph-query", "GET", "/query?a=1&a=2&b=x%20y&c=x+y&d=%2B%26%3D"),
    Case("ph-path-space", "GET", "/a%20b"),
    Case("ph-path-slash", "GET", "/paths/x%2Fy/z"),
    Case("ph-head", "HEAD", "/"),
    Case("ph-head-stream", "HEAD", "/stream"),
    Case("ph-404", "GET", "/nope"),
    Case("ph-405", "POST", "/"),
    Case("ph-method-delete", "DELETE", "/method"),
    Case("ph-204", "GET", "/no-content"),
    Case("ph-redirect", "GET", "/redirect"),
    Case("ph-redirect-slash", "GET", "/json/"),
    Case("ph-file", "GET", "/file"),
    Case("ph-file-range", "GET", "/file", [("Range", "bytes=10-99")]),
    Case("ph-big", "GET", "/big"),
]


@pytest.mark.parametrize("case", PRONGHORN_CASES, ids=lambda c: c.id)
def test_pronghorn_app(pronghorn_app_servers, case):
    a, b = check(pronghorn_app_servers, case)
    if case.id == "ph-upload-5mb":
        assert msgspec.json.decode(b.body)["sha256"] == sha(BIG)


def test_allowed_differences_name_real_cases():
    ids = {c.id for c in STARLETTE_CASES + FASTAPI_CASES + PRONGHORN_CASES}
    assert set(ALLOWED) <= ids


def test_servers_logged_no_unexpected_errors(starlette_servers, fastapi_servers,
                                             pronghorn_app_servers):
    """Only the deliberate /error routes may log tracebacks (checked after the cases ran)."""
    for servers in (starlette_servers, fastapi_servers, pronghorn_app_servers):
        log = servers["pronghorn"].log()
        for exc in re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception)): (.*)$", log, re.M):
            assert exc[1].startswith("boom"), log
