"""The real server over real loopback sockets.

Each server is ``python -m pronghorn run tests.apps.basic:app --port 0`` in
a subprocess (its own session, killed as a group by the finalizer); the
port is read from its "Listening on" log line. The client is a raw socket
so that what is checked is exactly what is on the wire. Every socket
operation and every wait has a timeout.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_TIMEOUT = 5.0
START_TIMEOUT = 20.0

# Small limits so that the limit tests send little data.
LIMIT_FLAGS = [
    "--max-body-size", "1000", "--max-request-line", "1024", "--max-head-size", "4096",
    "--max-headers", "20", "--header-timeout", "1", "--keep-alive-timeout", "1",
]


class ServerProcess:
    """A ``pronghorn run`` subprocess writing its log to a file."""

    def __init__(self, tmp_dir: Path, *args: str, app: str = "tests.apps.basic:app") -> None:
        self.log_path = tmp_dir / f"server-{time.monotonic_ns()}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pronghorn", "run", app, "--port", "0", *args],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.port = self._wait_listening()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_listening(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"Listening on http://(\S+):(\d+)", self.log())
            if found:
                self.host = found.group(1).strip("[]")
                return int(found.group(2))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"server did not start; log:\n{self.log()}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill the whole process group (master and workers); never blocks long."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        else:
            try:  # orphaned workers of a master that died
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@dataclass
class Resp:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"duplicate {name} header"
        return values[0] if values else None


class Conn:
    """A raw HTTP/1.1 client connection with a receive buffer (for pipelining)."""

    def __init__(self, port: int, timeout: float = IO_TIMEOUT, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the server")
        self.buf += data

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, head_only: bool = False) -> Resp:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (status_line.split(" ", 2) + [""])[:3]
        assert version == "HTTP/1.1", status_line
        headers = []
        for line in lines:
            name, _, value = line.partition(":")
            headers.append((name.lower(), value.strip()))
        resp = Resp(int(status), reason, headers, raw=head)
        if head_only or resp.status < 200 or resp.status in (204, 304):
            return resp
        length = resp.header("content-length")
        if length is not None:
            resp.body = self._take(int(length))
        elif resp.header("transfer-encoding") == "chunked":
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                resp.body += self._take(size)
                self._take(2)
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, method: str = "GET", path: str = "/", headers: dict | None = None,
                body: bytes = b"") -> Resp:
        self.send(http_request(method, path, headers, body))
        return self.read_response(head_only=method == "HEAD")

    def closed_within(self, seconds: float) -> bool:
        """True if the server closes the connection within ``seconds`` (data is discarded)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                try:
                    if not self.sock.recv(65536):
                        return True
                except (ConnectionResetError, BrokenPipeError):
                    return True
        return False


def http_request(method: str = "GET", path: str = "/", headers: dict | None = None,
                 body: bytes = b"", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: test"]
    all_headers = dict(headers or {})
    if body and not any(k.lower() in ("content-length", "transfer-encoding")
                        for k in all_headers):
        all_headers["Content-Length"] = str(len(body))
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get(port: int, path: str = "/") -> Resp:
    with Conn(port) as conn:
        return conn.request("GET", path)


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def server(request, tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("srv"), "--loop", request.param, *LIMIT_FLAGS)
    yield proc
    proc.kill()


@pytest.fixture()
def new_server(tmp_path):
    """Start dedicated servers (for tests that stop or kill them)."""
    started: list[ServerProcess] = []

    def start(*args: str, app: str = "tests.apps.basic:app") -> ServerProcess:
        proc = ServerProcess(tmp_path, *args, app=app)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


# ---- basic behaviour --------------------------------------------------------


def test_hello_world(server):
    resp = get(server.port)
    assert resp.status == 200
    assert resp.body == b"Hello, world!"
    assert resp.header("content-type") == "text/plain; charset=utf-8"
    assert resp.header("content-length") == "13"
    assert resp.header("date")


def test_json(server):
    resp = get(server.port, "/json")
    assert resp.status == 200
    assert resp.header("content-type") == "application/json"
    assert resp.body == b'{"hello":"world","n":[1,2,3]}'


def test_sync_and_async_handlers_with_params(server):
    assert get(server.port, "/sync/abc").body == b'{"sync":"abc"}'
    assert get(server.port, "/async/x%20y").body == b'{"async":"x y"}'


def test_404(server):
    resp = get(server.port, "/does/not/exist")
    assert resp.status == 404
    assert resp.body == b'{"detail":"Not Found"}'


def test_405_with_allow(server):
    with Conn(server.port) as conn:
        resp = conn.request("POST", "/", body=b"x")
    assert resp.status == 405
    assert resp.body == b'{"detail":"Method Not Allowed"}'
    assert resp.header("allow") == "GET, HEAD"


def test_head_has_no_body(server):
    with Conn(server.port) as conn:
        resp = conn.request("HEAD", "/")
        assert resp.status == 200
        assert resp.header("content-length") == "13"
        # The next response on the connection must start right after the head.
        assert conn.request("GET", "/json").status == 200


def test_handler_exception_is_500(server):
    resp = get(server.port, "/boom")
    assert resp.status == 500
    assert resp.body == b"Internal Server Error"
    assert "RuntimeError: boom" in server.log()


def test_large_response(server):
    resp = get(server.port, "/big")
    assert len(resp.body) == 1_000_000


def test_post_body_echo(server):
    with Conn(server.port) as conn:
        resp = conn.request("POST", "/echo", body=b"hello body")
    assert resp.status == 200
    assert resp.body == b"hello body"


def test_keep_alive_two_requests_one_socket(server):
    with Conn(server.port) as conn:
        first = conn.request("GET", "/")
        second = conn.request("GET", "/json")
    assert (first.status, second.status) == (200, 200)
    assert first.header("connection") != "close"
    assert second.body.startswith(b'{"hello"')


def test_pipelining_keeps_order(server):
    with Conn(server.port) as conn:
        conn.send(http_request("GET", "/async/1") + http_request("GET", "/sync/2")
                  + http_request("POST", "/echo", body=b"three"))
        bodies = [conn.read_response().body for _ in range(3)]
    assert bodies == [b'{"async":"1"}', b'{"sync":"2"}', b"three"]


# /sync/{name} answers inside the epoll batch, whose sends wait for the batch's end;
# /async/{name} suspends once, so its answer is written on a later loop turn, whose sends
# wait for that turn's flush callback. Either way every connection gets its own answer.
@pytest.mark.parametrize("kind, count", [("sync", 64), ("async", 32)])
def test_many_ready_connections_each_get_their_own_response(server, kind, count):
    conns = [Conn(server.port) for _ in range(count)]
    try:
        for round_ in range(3):
            for i, conn in enumerate(conns):
                conn.send(http_request("GET", f"/{kind}/{round_}-{i}"))
            for i, conn in enumerate(conns):
                assert conn.read_response().body == f'{{"{kind}":"{round_}-{i}"}}'.encode()
    finally:
        for conn in conns:
            conn.sock.close()


def test_half_closed_client_gets_its_response_then_close(server):
    with Conn(server.port) as conn:
        conn.send(http_request("GET", "/"))
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.read_response().body == b"Hello, world!"
        assert conn.closed_within(IO_TIMEOUT)


def test_http_1_0_closes_after_response(server):
    with Conn(server.port) as conn:
        conn.send(http_request("GET", "/", version="1.0"))
        resp = conn.read_response()
        assert resp.body == b"Hello, world!"
        assert conn.closed_within(IO_TIMEOUT)


def test_connection_close_honoured(server):
    with Conn(server.port) as conn:
        resp = conn.request("GET", "/", headers={"Connection": "close"})
        assert resp.header("connection") == "close"
        assert conn.closed_within(IO_TIMEOUT)


def test_chunked_request_body(server):
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    with Conn(server.port) as conn:
        resp = conn.request("POST", "/echo", headers={"Transfer-Encoding": "chunked"}, body=body)
    assert resp.status == 200
    assert resp.body == b"hello world"


def test_chunked_request_streamed(server):
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/chunks", {"Transfer-Encoding": "chunked"}))
        for piece in (b"a" * 10, b"b" * 20):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.05)
        conn.send(b"0\r\n\r\n")
        resp = conn.read_response()
    assert resp.status == 200
    assert resp.body == b'{"total":30}'


def test_expect_100_continue(server):
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/echo", {"Content-Length": "4",
                                                 "Expect": "100-continue"}))
        interim = conn.read_response()
        assert interim.status == 100
        conn.send(b"ping")
        final = conn.read_response()
    assert final.status == 200
    assert final.body == b"ping"


def test_expect_100_continue_body_too_large_gets_413_without_100(server):
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/echo", {"Content-Length": "5000",
                                                 "Expect": "100-continue"}))
        resp = conn.read_response()
    assert resp.status == 413
    assert b"100 Continue" not in resp.raw


# ---- limits -----------------------------------------------------------------


def test_request_line_too_long_414(server):
    with Conn(server.port) as conn:
        resp = conn.request("GET", "/" + "a" * 2000)
    assert resp.status == 414


def test_too_many_headers_431(server):
    headers = {f"X-H{i}": "v" for i in range(30)}
    with Conn(server.port) as conn:
        resp = conn.request("GET", "/", headers=headers)
    assert resp.status == 431


def test_head_too_large_431(server):
    with Conn(server.port) as conn:
        resp = conn.request("GET", "/", headers={"X-Big": "v" * 5000})
    assert resp.status == 431


def test_body_too_large_413(server):
    with Conn(server.port) as conn:
        resp = conn.request("POST", "/echo", body=b"x" * 2000)
    assert resp.status == 413


def test_chunked_body_too_large_413(server):
    chunk = b"x" * 600
    body = b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n"
    with Conn(server.port) as conn:
        resp = conn.request("POST", "/echo", headers={"Transfer-Encoding": "chunked"}, body=body)
    assert resp.status == 413


# ---- timeouts ---------------------------------------------------------------


def test_header_timeout_disconnects_slowloris(server):
    trickle = b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 100
    start = time.monotonic()
    disconnected_after = None
    with Conn(server.port) as conn:
        for byte in trickle:
            try:
                conn.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                disconnected_after = time.monotonic() - start
                break
            if conn.closed_within(0.2):
                disconnected_after = time.monotonic() - start
                break
            if time.monotonic() - start > 6:
                break
    assert disconnected_after is not None, "slow client was never disconnected"
    assert 0.8 <= disconnected_after <= 4.0


def test_head_timeout_answers_408_before_closing(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=6.0)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n")  # the head never ends
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 408 ")


def test_keep_alive_timeout_closes_idle_connection(server):
    with Conn(server.port) as conn:
        assert conn.request("GET", "/").status == 200
        start = time.monotonic()
        assert conn.closed_within(4.0)
        assert time.monotonic() - start >= 0.5


# ---- logging ----------------------------------------------------------------


def test_access_log_and_startup_hook(server):
    get(server.port, "/json")
    deadline = time.monotonic() + IO_TIMEOUT
    pattern = re.compile(r'127\.0\.0\.1:\d+ - "GET /json HTTP/1\.1" 200 29')
    while not pattern.search(server.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log()
    assert pattern.search(log), log
    assert "app startup hook ran" in log
    assert re.search(r"Listening on http://127\.0\.0\.1:\d+ \(pid \d+\)", log)


# ---- graceful shutdown ------------------------------------------------------


def _wait_refused(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_graceful_shutdown_finishes_in_flight_request(new_server, loop):
    srv = new_server("--loop", loop, "--no-access-log")
    with Conn(srv.port) as conn:
        conn.send(http_request("GET", "/slow"))
        time.sleep(0.3)  # the handler is now sleeping
        srv.signal(signal.SIGTERM)
        assert _wait_refused(srv.port, 0.6), "new connections still accepted after SIGTERM"
        resp = conn.read_response()
        assert resp.status == 200
        assert resp.body == b"slow done"
        assert resp.header("connection") == "close"
        assert conn.closed_within(IO_TIMEOUT)
    assert srv.wait() == 0
    log = srv.log()
    assert "app shutdown hook ran" in log
    assert '"GET /slow' not in log  # --no-access-log


def test_graceful_timeout_bounds_shutdown(new_server):
    srv = new_server("--graceful-timeout", "0.2")
    with Conn(srv.port) as conn:
        conn.send(http_request("GET", "/sleep/30"))
        time.sleep(0.2)
        start = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait() == 0
        assert time.monotonic() - start < 5.0  # did not wait for the 30 s handler
        with pytest.raises(EOFError):
            conn.read_response()


def test_idle_keep_alive_connection_closed_on_shutdown(new_server):
    srv = new_server()
    with Conn(srv.port) as conn:
        assert conn.request("GET", "/").status == 200
        start = time.monotonic()
        srv.signal(signal.SIGINT)
        assert conn.closed_within(IO_TIMEOUT)
        assert srv.wait() == 0
        assert time.monotonic() - start < 2.0


def _run_to_exit(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return subprocess.run([sys.executable, "-m", "pronghorn", "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(("app", "reason"), [
    ("tests.apps.failing_startup:app", "database unreachable"),  # an on_startup hook
    ("tests.apps.failing_lifespan:app", "cache unreachable"),  # a lifespan= context
])
def test_startup_failure_exits_3(workers, app, reason):
    proc = _run_to_exit(app, "--port", "0", "--workers", workers)
    assert proc.returncode == 3, proc.stderr
    assert "Application startup failed" in proc.stderr
    assert reason in proc.stderr


def test_factory(new_server):
    srv = new_server("--factory", app="tests.apps.basic:create_app")
    assert get(srv.port).body == b"Hello, world!"


def test_ipv6_loopback(new_server):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    srv = new_server("--host", "::1")
    assert srv.host == "::1"
    with Conn(srv.port, host="::1") as conn:
        assert conn.request("GET", "/").body == b"Hello, world!"


def test_port_in_use_fails_fast(new_server):
    srv = new_server()
    for workers in ("1", "2"):
        proc = _run_to_exit("tests.apps.basic:app", "--port", str(srv.port), "--workers", workers)
        assert proc.returncode == 1
        assert "Address already in use" in proc.stderr


# ---- workers ----------------------------------------------------------------


def _pid_of_response(port: int) -> int | None:
    try:
        resp = get(port, "/pid")
    except (OSError, EOFError):
        return None  # a connection queued on a worker that just died
    return int(resp.body) if resp.status == 200 else None


def _collect_pids(port: int, want, seconds: float = 30.0) -> set[int]:
    """Request /pid on new connections until ``want(seen)`` holds or time runs out."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not want(seen):
        pid = _pid_of_response(port)
        if pid is not None:
            seen.add(pid)
        else:
            time.sleep(0.05)
    return seen


def _gone(pid: int, seconds: float) -> bool:
    """True once ``pid`` has exited (a zombie left to an init that does not reap counts)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_workers_replace_dead_worker_and_stop_cleanly(new_server):
    srv = new_server("--workers", "2")
    pids = _collect_pids(srv.port, lambda seen: len(seen) >= 2)
    assert len(pids) == 2, f"responses came from {pids}"
    assert srv.proc.pid not in pids

    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    fresh = _collect_pids(srv.port, lambda seen: bool(seen - pids))
    assert fresh - pids, "the killed worker was not replaced"
    assert re.search(rf"pid {victim}\) died unexpectedly", srv.log())

    srv.signal(signal.SIGTERM)
    assert srv.wait(timeout=40) == 0
    for pid in pids | fresh:
        assert _gone(pid, 5.0), f"worker {pid} still running after the master exited"


def test_workers_rolling_restart_on_sighup(new_server):
    srv = new_server("--workers", "2")
    old = _collect_pids(srv.port, lambda seen: len(seen) >= 2)
    assert len(old) == 2
    srv.signal(signal.SIGHUP)
    for pid in old:
        assert _gone(pid, 20.0), f"old worker {pid} was not stopped"
    new = _collect_pids(srv.port, lambda seen: len(seen) >= 2)
    assert len(new) == 2 and not new & old
    assert "Rolling restart complete" in srv.log()
    srv.signal(signal.SIGTERM)
    assert srv.wait(timeout=40) == 0


def test_workers_exit_when_master_is_killed(new_server):
    srv = new_server("--workers", "2")
    pids = _collect_pids(srv.port, lambda seen: len(seen) >= 2)
    assert len(pids) == 2
    os.kill(srv.proc.pid, signal.SIGKILL)
    assert srv.wait() == -signal.SIGKILL
    for pid in pids:
        assert _gone(pid, 10.0), f"worker {pid} outlived its master"
