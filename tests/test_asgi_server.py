"""pronghorn as an ASGI server: the spec (ASGI 3.0, HTTP spec 2.4, lifespan 2.0).

Most tests serve a plain ASGI callable in this process exactly as
``pronghorn run --interface asgi`` does (``server.Serving`` + ``_core.Server``
on an event loop in a background thread, listening on 127.0.0.1:0) and talk
to it over raw sockets. What needs the CLI (exit codes, workers, signals)
runs ``python -m pronghorn run`` in a subprocess. Every wait is bounded.

Covered: each message-order violation (client sees a 500 when nothing was
sent yet, an aborted connection otherwise; the error is logged once; the
server keeps serving), disconnects, the scope, bodyless responses,
``http.response.pathsend``, lifespan, proxy headers, workers and graceful
shutdown.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pronghorn import _core
from pronghorn.asgi import Lifespan, LifespanFailure, ProxyHeaders
from pronghorn.config import ServerConfig
from pronghorn.server import Serving
from tests.conftest import run_markdown_examples
from tests.test_server_integration import Conn, ServerProcess, _run_to_exit, http_request

IO_TIMEOUT = 5.0
STATIC = Path(__file__).parent / "apps" / "static.txt"


# ---- an ASGI app served in this process ----------------------------------------------------


class InProcessServer:
    """``pronghorn run --interface asgi`` in this process: Serving + the engine on a loop
    thread, listening on 127.0.0.1:<free port>."""

    def __init__(self, app: Any, *, run_forever: bool = False, **config: Any) -> None:
        config.setdefault("interface", "asgi")
        self.config = ServerConfig(app=app, access_log=False, **config)
        self.serving = Serving(app, self.config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.run_forever = run_forever
        self.stopped: asyncio.Event | None = None
        ready = threading.Event()
        # As under `pronghorn run` (asyncio.Runner): a main task run_until_complete'd; or a
        # loop embedded elsewhere, run_forever with no main task.
        if run_forever:
            self.loop.call_soon(lambda: self.loop.create_task(self._main(ready)))
            self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        else:
            self.thread = threading.Thread(target=self.loop.run_until_complete,
                                           args=(self._main(ready),), daemon=True)
        self.thread.start()
        ready.wait(IO_TIMEOUT)
        self.engine = None
        self.closed = False
        try:
            self.engine = self.call(self._start())
        except BaseException:
            self._stop_loop()
            raise

    async def _main(self, ready: threading.Event) -> None:
        self.stopped = asyncio.Event()
        ready.set()
        await self.stopped.wait()
        if self.run_forever:
            self.loop.stop()

    def call(self, coro: Any, timeout: float = IO_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> Any:
        await self.serving.startup()
        engine = _core.Server(self.serving.handler, **self.serving.options,
                              **self.config.core_options())
        engine.listen(self.sock.fileno())
        engine.start(asyncio.get_running_loop())
        return engine

    async def _stop(self) -> None:
        if self.engine is not None:
            self.engine.close_all()
        await self.serving.shutdown()

    def _stop_loop(self) -> None:
        self.closed = True
        assert self.stopped is not None
        self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(IO_TIMEOUT)
        if not self.loop.is_running():
            self.loop.close()
        self.sock.close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.call(self._stop())
        finally:
            self._stop_loop()

    def get(self, path: str = "/", **kwargs: Any):
        with Conn(self.port) as conn:
            return conn.request("GET", path, **kwargs)


@pytest.fixture
def serve():
    """serve(app, **ServerConfig fields) -> a running InProcessServer, closed afterwards."""
    servers: list[InProcessServer] = []

    def start(app: Any, **config: Any) -> InProcessServer:
        server = InProcessServer(app, **config)  # run_forever=True: a loop without a main task
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


class Records(logging.Handler):
    """The records of the ``pronghorn.error`` logger (whatever its propagation)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock_:
            self.records.append(record)

    def errors(self) -> list[logging.LogRecord]:
        with self.lock_:
            return [r for r in self.records if r.levelno >= logging.ERROR]

    def wait_errors(self, count: int = 1, timeout: float = IO_TIMEOUT) -> list[logging.LogRecord]:
        deadline = time.monotonic() + timeout
        while len(self.errors()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.errors()


@pytest.fixture
def log():
    logger = logging.getLogger("pronghorn.error")
    handler = Records()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


class Seen:
    """What the app observed, handed to the test thread."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.cond = threading.Condition()

    def put(self, key: str, value: Any) -> None:
        with self.cond:
            self.items[key] = value
            self.cond.notify_all()

    def get(self, key: str, timeout: float = IO_TIMEOUT) -> Any:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.items, timeout):
                raise TimeoutError(f"the app never reported {key!r}; saw {self.items}")
            return self.items[key]


async def respond(send: Any, status: int = 200, body: bytes = b"ok",
                  headers: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers if headers is not None else [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Any) -> tuple[bytes, list[dict]]:
    messages = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return body, messages
        body += message["body"]
        if not message["more_body"]:
            return body, messages


# ---- message-order violations ------------------------------------------------------------

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}


def start_with(headers: list, status: Any = 200) -> dict:
    return {"type": "http.response.start", "status": status, "headers": headers}


def body(data: bytes = b"ok", more: bool = False) -> dict:
    return {"type": "http.response.body", "body": data, "more_body": more}


def cl(n: int) -> list:
    return [(b"content-length", str(n).encode())]


SUSPEND = {"type": "test.suspend"}  # not sent: the app awaits something between messages

# name -> (messages the app sends, then what it does: "return" or "raise"; expected outcome)
# "500": the client gets a 500; "abort": the connection closes before the response is
# complete; "complete": the response arrives whole (the violation came after it).
# The head is written with the first body message, or as soon as the app suspends after
# http.response.start: from then on a violation can only abort the connection.
VIOLATIONS: dict[str, tuple[list[dict], str, str]] = {
    "body-before-start": ([body()], "return", "500"),
    "double-start": ([START, START], "return", "500"),
    "double-start-after-body": ([START, body(b"x", True), START], "return", "abort"),
    "double-start-after-suspending": ([START, SUSPEND, START], "return", "abort"),
    "message-after-final-body": ([START, body(), body(b"more")], "return", "complete"),
    "start-after-final-body": ([START, body(), START], "return", "complete"),
    "status-str": ([start_with([], "200"), body()], "return", "500"),
    "status-too-small": ([start_with([], 99), body()], "return", "500"),
    "status-too-large": ([start_with([], 1000), body()], "return", "500"),
    "status-informational": ([start_with([], 103), body()], "return", "500"),
    "status-missing": ([{"type": "http.response.start"}, body()], "return", "500"),
    "header-value-crlf": ([start_with([(b"x-a", b"v\r\nx-injected: 1")]), body()], "return",
                          "500"),
    "header-value-lf": ([start_with([(b"x-a", b"v\nx")]), body()], "return", "500"),
    "header-value-nul": ([start_with([(b"x-a", b"v\x00")]), body()], "return", "500"),
    "header-name-crlf": ([start_with([(b"x-a\r\nx-b", b"v")]), body()], "return", "500"),
    "header-name-space": ([start_with([(b"x a", b"v")]), body()], "return", "500"),
    "header-name-empty": ([start_with([(b"", b"v")]), body()], "return", "500"),
    "header-name-str": ([start_with([("x-a", b"v")]), body()], "return", "500"),
    "header-value-str": ([start_with([(b"x-a", "v")]), body()], "return", "500"),
    "header-name-int": ([start_with([(5, b"v")]), body()], "return", "500"),
    "header-not-pair": ([start_with([(b"x-a", b"v", b"w")]), body()], "return", "500"),
    "headers-not-iterable": ([start_with(5), body()], "return", "500"),
    "unknown-type": ([{"type": "http.response.nonsense"}], "return", "500"),
    "unknown-type-after-start": ([START, {"type": "http.response.trailers"}], "return", "500"),
    "unknown-type-mid-body": ([START, body(b"x", True), {"type": "nonsense"}], "return",
                              "abort"),
    "no-send": ([], "return", "500"),
    "start-only": ([START], "return", "500"),
    "start-only-after-suspending": ([START, SUSPEND], "return", "abort"),
    "partial-body": ([START, body(b"x", True)], "return", "abort"),
    "raise-before-start": ([], "raise", "500"),
    "raise-after-start": ([START], "raise", "500"),
    "raise-after-start-and-suspending": ([START, SUSPEND], "raise", "abort"),
    "raise-mid-body": ([START, body(b"x", True)], "raise", "abort"),
    "raise-after-response": ([START, body()], "raise", "complete"),
    "content-length-shorter": ([start_with(cl(10)), body(b"12345")], "return", "500"),
    "content-length-longer": ([start_with(cl(2)), body(b"12345")], "return", "500"),
    "content-length-invalid": ([start_with([(b"content-length", b"abc")]), body()], "return",
                               "500"),
    "content-length-shorter-streamed": ([start_with(cl(10)), body(b"123", True), body(b"45")],
                                        "return", "abort"),
    "content-length-longer-streamed": ([start_with(cl(4)), body(b"123", True), body(b"45")],
                                       "return", "abort"),
    "content-length-longer-first-piece": ([start_with(cl(2)), body(b"12345", True), body(b"")],
                                          "return", "abort"),
    "pathsend-before-start": ([{"type": "http.response.pathsend", "path": str(STATIC)}],
                              "return", "500"),
    "pathsend-after-body": ([START, body(b"x", True),
                             {"type": "http.response.pathsend", "path": str(STATIC)}],
                            "return", "abort"),
    "pathsend-missing-file": ([START, {"type": "http.response.pathsend",
                                       "path": "/no/such/file"}], "return", "500"),
}


async def violating_app(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/ok":
        await respond(send)
        return
    messages, then, _ = VIOLATIONS[scope["path"].strip("/")]
    for message in messages:
        if message is SUSPEND:
            await asyncio.sleep(0.01)
        else:
            await send(message)
    if then == "raise":
        raise RuntimeError("the app failed")


@pytest.fixture(scope="module")
def violations_server():
    server = InProcessServer(violating_app, lifespan="off")
    yield server
    server.close()


@pytest.mark.parametrize("name", list(VIOLATIONS))
def test_message_order_violation(violations_server, log, name):
    _, _, outcome = VIOLATIONS[name]
    with Conn(violations_server.port) as conn:
        conn.send(http_request("GET", f"/{name}"))
        if outcome == "abort":
            with pytest.raises((EOFError, ConnectionResetError)):
                conn.read_response()
        else:
            resp = conn.read_response()
            if outcome == "500":
                assert resp.status == 500
                assert resp.body == b"Internal Server Error"
                assert not any(k == "x-injected" for k, _ in resp.headers)
            else:
                assert resp.status == 200
                assert resp.body == b"ok"
    errors = log.wait_errors()
    time.sleep(0.05)  # a second record would arrive by now
    assert len(log.errors()) == 1, [r.getMessage() for r in log.errors()]
    # The server keeps serving, on new connections and on a kept-alive one.
    with Conn(violations_server.port) as conn:
        assert conn.request("GET", "/ok").body == b"ok"
        assert conn.request("GET", "/ok").body == b"ok"
    assert errors[0].name == "pronghorn.error"


def test_violation_after_complete_response_keeps_the_connection(violations_server, log):
    """The response went out whole before the app misbehaved: the connection stays usable."""
    with Conn(violations_server.port) as conn:
        resp = conn.request("GET", "/message-after-final-body")
        assert (resp.status, resp.body) == (200, b"ok")
        assert conn.request("GET", "/ok").body == b"ok"
    assert "after the response was complete" in str(log.wait_errors()[0].exc_info[1])


# ---- disconnects ----------------------------------------------------------------------------


def disconnect_app(seen: Seen):
    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/mid-body":
            _, messages = await read_body(receive)
            seen.put("mid-body", [m["type"] for m in messages])
            try:
                await respond(send)
            except OSError as exc:
                seen.put("send-after-disconnect", exc)
            else:
                seen.put("send-after-disconnect", None)
        elif path == "/after-response":
            await read_body(receive)
            await respond(send)
            message = await asyncio.wait_for(receive(), IO_TIMEOUT)
            seen.put("after-response", message)
        elif path == "/waiting-receive":
            # A concurrent receive() pending while the response completes is woken by it.
            await read_body(receive)
            waiter = asyncio.ensure_future(receive())
            await asyncio.sleep(0.01)
            await respond(send)
            seen.put("waiting-receive", await asyncio.wait_for(waiter, IO_TIMEOUT))
        elif path == "/long-poll":
            await read_body(receive)
            seen.put("long-poll-waiting", True)
            message = await receive()  # nothing to send until the client goes away
            seen.put("long-poll", message)
            try:
                await respond(send)
            except OSError as exc:
                seen.put("long-poll-send", exc)
        elif path == "/stream-forever":
            await send(START)
            try:
                while True:
                    await send(body(b"x" * 65536, True))
            except OSError as exc:
                seen.put("stream-forever", exc)
        else:
            await respond(send)

    return app


@pytest.fixture
def disconnect_server(serve):
    seen = Seen()
    server = serve(disconnect_app(seen), lifespan="off")
    server.seen = seen
    return server


def test_disconnect_mid_body(disconnect_server, log):
    with Conn(disconnect_server.port) as conn:
        conn.send(http_request("POST", "/mid-body", {"Content-Length": "100000"}) + b"x" * 10)
        time.sleep(0.05)
    assert disconnect_server.seen.get("mid-body")[-1] == "http.disconnect"
    exc = disconnect_server.seen.get("send-after-disconnect")
    assert isinstance(exc, OSError), exc
    assert not log.errors()


def test_disconnect_after_the_response(disconnect_server, log):
    with Conn(disconnect_server.port) as conn:
        assert conn.request("GET", "/after-response").body == b"ok"
        assert disconnect_server.seen.get("after-response") == {"type": "http.disconnect"}
        assert conn.request("GET", "/ok").body == b"ok"  # still kept alive
    assert not log.errors()


def test_pending_receive_wakes_when_the_response_completes(disconnect_server, log):
    with Conn(disconnect_server.port) as conn:
        assert conn.request("GET", "/waiting-receive").body == b"ok"
        assert disconnect_server.seen.get("waiting-receive") == {"type": "http.disconnect"}
    assert not log.errors()


def test_long_poll_wakes_when_the_client_resets(disconnect_server, log):
    conn = Conn(disconnect_server.port)
    conn.send(http_request("GET", "/long-poll"))
    assert disconnect_server.seen.get("long-poll-waiting")
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()  # RST
    assert disconnect_server.seen.get("long-poll") == {"type": "http.disconnect"}
    assert isinstance(disconnect_server.seen.get("long-poll-send"), OSError)
    assert not log.errors()


def test_long_poll_wakes_when_the_client_closes(disconnect_server):
    conn = Conn(disconnect_server.port)
    conn.send(http_request("GET", "/long-poll"))
    assert disconnect_server.seen.get("long-poll-waiting")
    conn.sock.close()  # FIN
    assert disconnect_server.seen.get("long-poll", timeout=2.0) == {"type": "http.disconnect"}


def test_send_raises_oserror_once_a_streaming_client_is_gone(disconnect_server, log):
    conn = Conn(disconnect_server.port)
    conn.send(http_request("GET", "/stream-forever"))
    conn.sock.recv(65536)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()
    exc = disconnect_server.seen.get("stream-forever")
    assert isinstance(exc, OSError) and isinstance(exc, _core.ClientDisconnect)
    assert not log.errors()


def test_oversized_body_is_answered_by_the_engine_and_the_app_sees_a_disconnect(serve, log):
    seen = Seen()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        _, messages = await read_body(receive)
        seen.put("messages", [m["type"] for m in messages])
        try:
            await respond(send)
        except OSError:
            pass

    server = serve(app, lifespan="off", max_body_size=1000)
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/", {"Transfer-Encoding": "chunked"})
                  + b"800\r\n" + b"x" * 0x800 + b"\r\n0\r\n\r\n")
        resp = conn.read_response()
    assert resp.status == 413
    assert seen.get("messages")[-1] == "http.disconnect"
    assert not log.errors()


# ---- request bodies ----------------------------------------------------------------------


def test_request_body_streams_in_messages_with_more_body(serve):
    seen = Seen()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        data, messages = await read_body(receive)
        seen.put("messages", messages)
        await respond(send, body=str(len(data)).encode())

    server = serve(app, lifespan="off")
    pieces = [os.urandom(n) for n in (10, 70_000, 1, 200_000)]
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/", {"Transfer-Encoding": "chunked"}))
        for piece in pieces:
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.01)
        conn.send(b"0\r\n\r\n")
        assert conn.read_response().body == str(sum(map(len, pieces))).encode()
        messages = seen.get("messages")
        assert len(messages) > 1
        assert all(m["type"] == "http.request" for m in messages)
        assert [m["more_body"] for m in messages] == [True] * (len(messages) - 1) + [False]
        assert b"".join(m["body"] for m in messages) == b"".join(pieces)
        # No body: one message, empty, more_body False.
        del seen.items["messages"]
        assert conn.request("GET", "/").body == b"0"
        assert seen.get("messages") == [{"type": "http.request", "body": b"",
                                         "more_body": False}]


def test_expect_100_continue_is_sent_when_the_app_reads_the_body(serve):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/read":
            data, _ = await read_body(receive)
            await respond(send, body=data)
        else:
            await respond(send, status=403, body=b"no")

    server = serve(app, lifespan="off")
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/read", {"Content-Length": "5",
                                                 "Expect": "100-continue"}))
        interim = conn.read_response(head_only=True)
        assert interim.status == 100
        conn.send(b"hello")
        assert conn.read_response().body == b"hello"
    with Conn(server.port) as conn:
        conn.send(http_request("POST", "/refuse", {"Content-Length": "5",
                                                   "Expect": "100-continue"}))
        resp = conn.read_response()
        assert (resp.status, resp.body) == (403, b"no")  # no 100: the body is never wanted
        assert resp.header("connection") == "close"


# ---- the scope -------------------------------------------------------------------------------


def scope_app(seen: Seen, state_seen: list | None = None):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.put(scope["path"], dict(scope, state=dict(scope.get("state") or {})))
        if "state" in scope:
            scope["state"]["leaked"] = True  # must not reach the next request
        await respond(send)

    return app


def test_scope(serve):
    seen = Seen()
    server = serve(scope_app(seen))
    with Conn(server.port) as conn:
        conn.send(b"GET /scope/a%20b%2Fc/caf%C3%A9?x=1&y=%20+z&x=2 HTTP/1.1\r\n"
                  b"Host: example.com:8080\r\nX-Dup: 1\r\nX-UPPER: Value\r\nx-dup: 2\r\n\r\n")
        assert conn.read_response().status == 200
        client_port = conn.sock.getsockname()[1]
    scope = seen.get("/scope/a b/c/café")
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope/a b/c/café"
    assert scope["raw_path"] == b"/scope/a%20b%2Fc/caf%C3%A9"
    assert scope["query_string"] == b"x=1&y=%20+z&x=2"
    assert scope["root_path"] == ""
    assert scope["headers"] == [(b"host", b"example.com:8080"), (b"x-dup", b"1"),
                                (b"x-upper", b"Value"), (b"x-dup", b"2")]
    assert all(type(k) is bytes and type(v) is bytes for k, v in scope["headers"])
    assert scope["client"] == ("127.0.0.1", client_port)
    assert scope["server"] == ("127.0.0.1", server.port)
    assert scope["state"] == {"db": "connected"}
    assert "http.response.pathsend" in scope["extensions"]


def test_scope_state_is_a_copy_per_request(serve):
    seen = Seen()
    server = serve(scope_app(seen))
    server.get("/one")
    server.get("/two")
    assert seen.get("/one")["state"] == {"db": "connected"}
    assert seen.get("/two")["state"] == {"db": "connected"}  # "leaked" did not leak


def test_scope_http_1_0_and_other_methods(serve):
    seen = Seen()
    server = serve(scope_app(seen))
    with Conn(server.port) as conn:
        conn.send(b"GET /ten HTTP/1.0\r\n\r\n")
        assert conn.read_response().status == 200
    with Conn(server.port) as conn:
        assert conn.request("PATCH", "/patch", body=b"x").status == 200
    assert seen.get("/ten")["http_version"] == "1.0"
    assert seen.get("/ten")["query_string"] == b""
    assert seen.get("/patch")["method"] == "PATCH"


def test_response_headers_lowercased_and_bytearray_accepted(serve):
    async def app(scope, receive, send):
        await respond(send, headers=[(b"X-Mixed-Case", bytearray(b"one")),
                                     (bytearray(b"x-from-bytearray"), b"two"),
                                     [b"x-list-pair", b"three"]])

    resp = serve(app, lifespan="off").get("/")
    assert resp.status == 200
    assert ("x-mixed-case", "one") in resp.headers
    assert ("x-from-bytearray", "two") in resp.headers
    assert ("x-list-pair", "three") in resp.headers


def test_receive_and_send_work_with_asyncio_helpers_and_under_a_tracer(serve):
    # receive()/send() return awaitables made in C, not coroutines: asyncio's helpers must
    # take them, and so must an interpreter with a tracer set (coverage, debuggers), which
    # drives awaitables through the iterator protocol instead of am_send.
    seen = Seen()

    async def app(scope, receive, send):
        # (Called, they do their work at once, as granian's do: the message is taken now.)
        pending = receive()
        seen.put("awaitable", inspect.isawaitable(pending) and not inspect.iscoroutine(pending))
        tracer = lambda frame, event, arg: tracer  # noqa: E731
        sys.settrace(tracer)
        try:
            first = await pending
            # The body is done: this one waits for the end of the exchange.
            after = asyncio.ensure_future(receive())
            await asyncio.gather(send({"type": "http.response.start", "status": 200,
                                       "headers": [(b"content-length", b"5")]}))
            await send({"type": "http.response.body", "body": first["body"]})
            seen.put("after", await after)
        finally:
            sys.settrace(None)

    server = serve(app, lifespan="off")
    with Conn(server.port) as conn:
        resp = conn.request("POST", "/", body=b"hello")
    assert (resp.status, resp.body) == (200, b"hello")
    assert seen.get("awaitable") is True
    assert seen.get("after") == {"type": "http.disconnect"}


def test_client_address_per_connection(serve):
    seen = Seen()

    async def app(scope, receive, send):
        seen.put(scope["client"][1], scope["client"])
        await respond(send)

    server = serve(app, lifespan="off")
    ports = []
    for _ in range(2):
        with Conn(server.port) as conn:
            assert conn.request("GET", "/").status == 200
            assert conn.request("GET", "/").status == 200
            ports.append(conn.sock.getsockname()[1])
    for port in ports:
        assert seen.get(port) == ("127.0.0.1", port)


def test_scope_root_path(serve):
    seen = Seen()
    server = serve(scope_app(seen), root_path="/api")
    server.get("/items/a%20b?q=1")
    scope = seen.get("/api/items/a b")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/items/a b"
    assert scope["raw_path"] == b"/api/items/a%20b"  # as uvicorn: root_path included
    assert scope["query_string"] == b"q=1"


def test_root_path_with_starlette(serve):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def where(request):
        return JSONResponse({"url": str(request.url), "for": str(request.url_for("where"))})

    server = serve(Starlette(routes=[Route("/where", where, name="where")]), root_path="/api")
    resp = server.get("/where")
    assert resp.status == 200
    assert json.loads(resp.body) == {"url": "http://test/api/where",
                                     "for": "http://test/api/where"}


# ---- bodyless responses ----------------------------------------------------------------------


def bodyless_app(scope, receive, send):
    async def run():
        if scope["type"] != "http":
            return
        status = int(scope["path"].strip("/") or 200)
        headers = [(b"content-type", b"text/plain")]
        if scope["query_string"] == b"declared":
            headers.append((b"content-length", b"17"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"body of 17 bytes!"})

    return run()


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304),
                                                ("HEAD", 204), ("POST", 304)])
@pytest.mark.parametrize("declared", [False, True])
def test_head_204_304_carry_no_body(serve, method, status, declared):
    server = serve(bodyless_app, lifespan="off")
    with Conn(server.port) as conn:
        conn.send(http_request(method, f"/{status}" + ("?declared" if declared else "")))
        resp = conn.read_response(head_only=True)
        assert resp.status == status
        length = resp.header("content-length")
        if declared and status != 204:
            assert length == "17"
        else:
            assert length is None  # nothing the app did not say
        assert resp.header("transfer-encoding") is None
        # No stray body bytes: the next response on the connection parses.
        second = conn.request("GET", "/200")
        assert (second.status, second.body) == (200, b"body of 17 bytes!")


# ---- streaming responses -----------------------------------------------------------------------


def test_streamed_response_is_chunked_and_head_goes_out_before_a_slow_first_piece(serve):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send(START)
        await asyncio.sleep(0.5)
        await send(body(b"first", True))
        await send(body(b"last"))

    server = serve(app, lifespan="off")
    with Conn(server.port) as conn:
        conn.send(http_request("GET", "/"))
        started = time.monotonic()
        conn.sock.settimeout(0.3)
        head = conn.sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
        assert time.monotonic() - started < 0.3
        conn.sock.settimeout(IO_TIMEOUT)
        conn.buf = head
        resp = conn.read_response()
    assert resp.header("transfer-encoding") == "chunked"
    assert resp.body == b"firstlast"


def test_large_streamed_response_to_a_slow_reader(serve):
    piece = os.urandom(256 * 1024)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send(start_with(cl(len(piece) * 40)))
        for _ in range(40):
            await send(body(piece, True))
        await send(body(b""))

    server = serve(app, lifespan="off")
    with Conn(server.port) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        conn.send(http_request("GET", "/"))
        time.sleep(0.2)  # let the server hit backpressure
        resp = conn.read_response()
    assert resp.body == piece * 40


# ---- http.response.pathsend ----------------------------------------------------------------


def test_pathsend(serve, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 7))

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        assert "http.response.pathsend" in scope["extensions"]
        path = big if scope["path"] == "/big" else STATIC
        headers = [(b"content-type", b"application/octet-stream")]
        if scope["query_string"] == b"declared":
            headers.append((b"content-length", str(path.stat().st_size).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": str(path)})

    server = serve(app, lifespan="off")
    with Conn(server.port) as conn:
        resp = conn.request("GET", "/small")
        assert resp.body == STATIC.read_bytes()
        assert resp.header("content-length") == str(STATIC.stat().st_size)
        resp = conn.request("GET", "/big?declared")
        assert resp.body == big.read_bytes()
        resp = conn.request("HEAD", "/big?declared")
        assert resp.header("content-length") == str(big.stat().st_size)
        assert conn.request("GET", "/small").body == STATIC.read_bytes()


def test_anyio_worker_threads_on_a_run_forever_loop(serve):
    import anyio

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        value = await anyio.to_thread.run_sync(lambda: 42)
        await respond(send, body=str(value).encode())

    server = serve(app, lifespan="off", run_forever=True)
    assert server.get("/").body == b"42"


def test_starlette_file_response_uses_pathsend(serve):
    from starlette.responses import FileResponse

    sent: list[str] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return

        async def spy(message):
            sent.append(message["type"])
            await send(message)

        await FileResponse(STATIC)(scope, receive, spy)

    server = serve(app, lifespan="off")
    assert server.get("/").body == STATIC.read_bytes()
    assert sent == ["http.response.start", "http.response.pathsend"]


# ---- lifespan --------------------------------------------------------------------------------


def recording_lifespan_app(events: list[str], *, fail: str | None = None,
                           return_after_startup: bool = False, crash: bool = False):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            events.append(message["type"])
            if crash:
                raise RuntimeError("lifespan crashed")
            if fail == "startup":
                await send({"type": "lifespan.startup.failed", "message": "no database"})
                return
            scope["state"]["ready"] = True
            await send({"type": "lifespan.startup.complete"})
            if return_after_startup:
                return
            message = await receive()
            events.append(message["type"])
            if fail == "shutdown":
                await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
            return
        events.append(f"request {scope['path']} state={scope.get('state')}")
        await respond(send)

    return app


def test_lifespan_startup_then_requests_then_shutdown(serve):
    events: list[str] = []
    server = serve(recording_lifespan_app(events))
    assert events == ["lifespan.startup"]
    server.get("/x")
    server.close()
    assert events == ["lifespan.startup", "request /x state={'ready': True}",
                      "lifespan.shutdown"]


def test_lifespan_startup_failed_raises_with_the_message():
    events: list[str] = []
    lifespan = Lifespan(recording_lifespan_app(events, fail="startup"), "auto")
    with pytest.raises(LifespanFailure, match="no database"):
        asyncio.run(lifespan.startup())


def test_lifespan_shutdown_failed_is_logged(log):
    events: list[str] = []
    lifespan = Lifespan(recording_lifespan_app(events, fail="shutdown"), "on")

    async def run():
        await lifespan.startup()
        await asyncio.wait_for(lifespan.shutdown(), IO_TIMEOUT)

    asyncio.run(run())
    assert events == ["lifespan.startup", "lifespan.shutdown"]
    assert "flush failed" in log.errors()[0].getMessage()


def test_lifespan_app_returning_after_startup_does_not_hang_shutdown():
    events: list[str] = []
    lifespan = Lifespan(recording_lifespan_app(events, return_after_startup=True), "on")

    async def run():
        await lifespan.startup()
        await asyncio.sleep(0.01)
        await asyncio.wait_for(lifespan.shutdown(), IO_TIMEOUT)

    asyncio.run(run())
    assert events == ["lifespan.startup"]


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_lifespan_without_support(mode, log):
    async def http_only(scope, receive, send):
        assert scope["type"] == "http"
        await respond(send)

    lifespan = Lifespan(http_only, mode)
    if mode == "on":
        with pytest.raises(LifespanFailure, match="does not support the ASGI lifespan"):
            asyncio.run(lifespan.startup())
    else:
        asyncio.run(lifespan.startup())
        assert not lifespan.supported
        asyncio.run(lifespan.shutdown())  # nothing to do, returns at once
    assert not log.errors()


def test_lifespan_that_returns_without_answering(log):
    async def ignores_lifespan(scope, receive, send):
        if scope["type"] != "http":
            return
        await respond(send)

    auto = Lifespan(ignores_lifespan, "auto")
    asyncio.run(auto.startup())
    assert not auto.supported
    with pytest.raises(LifespanFailure):
        asyncio.run(Lifespan(ignores_lifespan, "on").startup())


def test_lifespan_crash_during_startup_is_a_failure_in_both_modes():
    for mode in ("auto", "on"):
        # It raised after receiving lifespan.startup without having answered: under "auto"
        # that reads as "unsupported", like uvicorn; under "on" it is a failure.
        lifespan = Lifespan(recording_lifespan_app([], crash=True), mode)
        if mode == "on":
            with pytest.raises(LifespanFailure, match="lifespan crashed"):
                asyncio.run(lifespan.startup())
        else:
            asyncio.run(lifespan.startup())
            assert not lifespan.supported


def test_lifespan_off_never_calls_the_app(serve):
    events: list[str] = []
    server = serve(recording_lifespan_app(events), lifespan="off")
    server.get("/x")
    assert events == ["request /x state=None"]


def test_served_without_lifespan_support_under_auto(serve):
    async def http_only(scope, receive, send):
        assert scope["type"] == "http"
        await respond(send, body=json.dumps("state" in scope).encode())

    server = serve(http_only)
    assert server.get("/").body == b"false"


# ---- proxy headers ----------------------------------------------------------------------------


def client_app(scope, receive, send):
    async def run():
        if scope["type"] != "http":
            return
        await respond(send, body=json.dumps({"client": scope["client"],
                                             "scheme": scope["scheme"]}).encode())

    return run()


def who(server: InProcessServer, headers: dict) -> dict:
    with Conn(server.port) as conn:
        resp = conn.request("GET", "/", headers)
        return json.loads(resp.body)


@pytest.mark.parametrize(("headers", "client", "scheme"), [
    ({"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"}, ["1.2.3.4", 0], "https"),
    ({"X-Forwarded-For": "1.2.3.4:5678"}, ["1.2.3.4", 5678], "http"),
    # the right-most address that is not a trusted proxy
    ({"X-Forwarded-For": "9.9.9.9, 1.2.3.4, 127.0.0.1"}, ["1.2.3.4", 0], "http"),
    ({"X-Forwarded-For": "[2001:db8::1]:443"}, ["2001:db8::1", 443], "http"),
    ({"Forwarded": 'for="[2001:db8::1]:4711";proto=https;by=10.0.0.1'},
     ["2001:db8::1", 4711], "https"),
    ({"Forwarded": "for=9.9.9.9;proto=http, for=1.2.3.4;proto=https"}, ["1.2.3.4", 0], "https"),
    ({"Forwarded": "for=1.2.3.4", "X-Forwarded-For": "5.6.7.8"}, ["1.2.3.4", 0], "http"),
    ({"X-Forwarded-Proto": "gopher"}, ["127.0.0.1", None], "http"),
])
def test_proxy_headers_from_a_trusted_peer(serve, headers, client, scheme):
    server = serve(client_app, lifespan="off", proxy_headers=True,
                   forwarded_allow_ips="127.0.0.1")
    seen = who(server, headers)
    if client[1] is None:
        client[1] = seen["client"][1]  # the peer's own port
    assert seen == {"client": client, "scheme": scheme}


@pytest.mark.parametrize("config", [
    {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.0/8, 192.168.1.1"},
    {"proxy_headers": False, "forwarded_allow_ips": "*"},
])
def test_proxy_headers_ignored_from_other_peers(serve, config):
    server = serve(client_app, lifespan="off", **config)
    seen = who(server, {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https",
                        "Forwarded": "for=5.6.7.8;proto=https"})
    assert seen["client"][0] == "127.0.0.1"
    assert seen["scheme"] == "http"


def test_proxy_headers_trust_everyone_takes_the_left_most(serve):
    server = serve(client_app, lifespan="off", proxy_headers=True, forwarded_allow_ips="*")
    assert who(server, {"X-Forwarded-For": "9.9.9.9, 1.2.3.4"})["client"] == ["9.9.9.9", 0]


def test_proxy_headers_trusted_networks():
    proxy = ProxyHeaders("10.0.0.0/8, ::1, unix-socket")
    assert proxy.trusted(("10.1.2.3", 1))
    assert proxy.trusted(("::1", 1))
    assert proxy.trusted(("unix-socket", 0))
    assert not proxy.trusted(("11.0.0.1", 1))
    assert not proxy.trusted(None)


# ---- the CLI: exit codes, workers, signals ------------------------------------------------


def test_cli_startup_failed_exits_3_with_the_message():
    proc = _run_to_exit("tests.apps.asgi_raw:failing_startup", "--port", "0")
    assert proc.returncode == 3, proc.stderr
    assert "Application startup failed: database unreachable" in proc.stderr


def test_cli_app_without_lifespan(new_server):
    srv = new_server(app="tests.apps.asgi_raw:no_lifespan")
    with Conn(srv.port) as conn:
        assert json.loads(conn.request("GET", "/").body) == {"state": None}
    assert "lifespan' protocol appears unsupported" in srv.log()
    proc = _run_to_exit("tests.apps.asgi_raw:no_lifespan", "--port", "0", "--lifespan", "on")
    assert proc.returncode == 3, proc.stderr
    assert "does not support the ASGI lifespan protocol" in proc.stderr


def test_cli_interface_detection_and_lifespan_state(new_server):
    srv = new_server(app="tests.apps.asgi_raw:app")  # --interface auto
    with Conn(srv.port) as conn:
        assert json.loads(conn.request("GET", "/state").body) == {"started": "yes"}


def _pid(port: int) -> int:
    with Conn(port) as conn:
        return int(conn.request("GET", "/pid").body)


def test_cli_asgi_app_with_two_workers(new_server):
    srv = new_server("--workers", "2", "--interface", "asgi", app="tests.apps.asgi_raw:app")
    pids: set[int] = set()
    deadline = time.monotonic() + 15
    while len(pids) < 2 and time.monotonic() < deadline:
        pids.add(_pid(srv.port))
    assert len(pids) == 2, pids
    srv.signal(signal.SIGTERM)
    assert srv.wait() == 0
    assert srv.log().count("asgi_raw: lifespan shutdown") == 2


def test_cli_graceful_shutdown_finishes_an_in_flight_asgi_request(new_server):
    srv = new_server("--interface", "asgi", app="tests.apps.asgi_raw:app")
    with Conn(srv.port) as conn:
        conn.send(http_request("GET", "/sleep?s=1"))
        deadline = time.monotonic() + IO_TIMEOUT
        while "asgi_raw: sleeping" not in srv.log() and time.monotonic() < deadline:
            time.sleep(0.02)
        srv.signal(signal.SIGTERM)
        resp = conn.read_response()
        assert (resp.status, resp.body) == (200, b"slept")
        assert resp.header("connection") == "close"
    assert srv.wait() == 0
    log = srv.log()
    assert log.index("asgi_raw: lifespan startup") < log.index("asgi_raw: lifespan shutdown")


@pytest.fixture()
def new_server(tmp_path):
    started: list[ServerProcess] = []

    def start(*args: str, app: str) -> ServerProcess:
        proc = ServerProcess(tmp_path, *args, app=app)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


# ---- ASGI apps mounted in a Pronghorn app; the docs ------------------------------------


def test_mounted_asgi_app_exception_reaches_the_testclient():
    from starlette.applications import Starlette
    from starlette.routing import Route

    from pronghorn import Pronghorn
    from pronghorn.testclient import TestClient

    async def boom(request):
        raise KeyError("inside the mounted app")

    app = Pronghorn()
    app.mount("/sub", Starlette(routes=[Route("/boom", boom)]))
    with TestClient(app) as client:
        with pytest.raises(KeyError, match="inside the mounted app"):
            client.get("/sub/boom")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/sub/boom").status_code == 500


def test_mounted_fastapi_sync_endpoint_under_the_testclient():
    from fastapi import FastAPI

    from pronghorn import Pronghorn
    from pronghorn.testclient import TestClient

    legacy = FastAPI()

    @legacy.get("/items/{item_id}")
    def read_item(item_id: int):
        return {"item_id": item_id}

    app = Pronghorn()
    app.mount("/legacy", legacy)
    with TestClient(app) as client:
        assert client.get("/legacy/items/3").json() == {"item_id": 3}


def test_docs_asgi_examples_run():
    run_markdown_examples("docs/asgi.md")
