"""WebSocket interoperability: real client libraries, real servers, both ASGI directions.

- The ``websockets`` library (asyncio client) and ``wsproto`` (sans-I/O, driven
  over a raw socket here) against pronghorn's engine: echo at many sizes, with
  and without permessage-deflate, fragmented messages, pings, close codes.
- pronghorn as an ASGI server (``pronghorn run``, in a subprocess): Starlette
  and FastAPI websocket endpoints, the scope, refusals, errors, and graceful
  shutdown (SIGTERM closes open WebSockets with 1001).
- A Pronghorn app's websocket routes under uvicorn.
- Differential: the same Starlette app under uvicorn and under pronghorn give
  the same answers to refused upgrades (403 for close, 500 for an exception,
  the denial response).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn
import wsproto
import wsproto.events as we
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from wsproto.extensions import PerMessageDeflate

from tests.apps import ws_apps
from tests.conftest import IO_TIMEOUT, LiveServer
from tests.test_server_integration import ServerProcess

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


def payload(size: int, text: bool) -> str | bytes:
    if text:
        return ("pronghorn é€ " * (size // 10 + 1))[:size]
    return (os.urandom(64) + bytes(size))[:size]  # partly incompressible


# ---- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def native():
    """pronghorn's engine serving the Pronghorn app in this process."""
    live = LiveServer(ws_apps.pronghorn_app)
    yield live
    live.close()


class Uvicorn:
    """uvicorn serving ``app`` in a thread, on 127.0.0.1:<free port>."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + IO_TIMEOUT
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(IO_TIMEOUT)
        self.sock.close()


@pytest.fixture(scope="module")
def uvicorn_pronghorn():
    server = Uvicorn(ws_apps.pronghorn_app)
    yield server
    server.close()


@pytest.fixture(scope="module")
def uvicorn_starlette():
    server = Uvicorn(ws_apps.starlette_app)
    yield server
    server.close()


@pytest.fixture(scope="module")
def run_starlette(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("ws"), app="tests.apps.ws_apps:starlette_app")
    yield proc
    proc.kill()


@pytest.fixture(scope="module")
def run_fastapi(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("ws"), app="tests.apps.ws_apps:fastapi_app")
    yield proc
    proc.kill()


def url(port: int, path: str) -> str:
    return f"ws://127.0.0.1:{port}{path}"


async def echo_round_trips(port: int, compression: str | None) -> str | None:
    """Echo every size, text and binary, whole and fragmented; return the extensions."""
    async with connect(url(port, "/echo"), compression=compression, max_size=None,
                       open_timeout=IO_TIMEOUT) as ws:
        for size in SIZES:
            for text in (True, False):
                data = payload(size, text)
                await ws.send(data)
                assert await asyncio.wait_for(ws.recv(), IO_TIMEOUT) == data
        pieces = ["frag", "mented ", "mess", "age é"]
        await ws.send(iter(pieces))  # a fragmented message
        assert await asyncio.wait_for(ws.recv(), IO_TIMEOUT) == "".join(pieces)
        latency = await asyncio.wait_for(await ws.ping(b"are you there"), IO_TIMEOUT)
        assert latency >= 0
        await ws.send("close-me")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), IO_TIMEOUT)
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "as asked")
        return ws.response.headers.get("sec-websocket-extensions")


# ---- the websockets library ---------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_websockets_client_against_the_engine(native, compression):
    extensions = await echo_round_trips(native.port, compression)
    if compression:
        assert extensions is not None and extensions.startswith("permessage-deflate")
    else:
        assert extensions is None


async def test_websockets_client_subprotocol_headers_and_client_close(native):
    async with connect(url(native.port, "/echo"), subprotocols=["v1", "v2"],
                       open_timeout=IO_TIMEOUT) as ws:
        assert ws.subprotocol == "v1"
        assert ws.response.headers["x-server-app"] == "pronghorn"
        await ws.send("x")
        assert await ws.recv() == "x"
        await ws.close(4100, "client done")
    assert ws.close_code == 4100


async def test_websockets_client_sees_refusals(native):
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(native.port, "/deny"), open_timeout=IO_TIMEOUT):
            pass
    assert info.value.response.status_code == 401
    assert info.value.response.body == b"denied"
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(native.port, "/close"), open_timeout=IO_TIMEOUT):
            pass
    assert info.value.response.status_code == 403


async def test_many_concurrent_clients(native):
    async def one(i: int) -> None:
        async with connect(url(native.port, "/echo"), open_timeout=IO_TIMEOUT) as ws:
            for j in range(20):
                await ws.send(f"{i}-{j}")
                assert await ws.recv() == f"{i}-{j}"

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(50))), 30)


# ---- wsproto ----------------------------------------------------------------------------------


class WsprotoClient:
    """wsproto's client state machine over a blocking socket."""

    def __init__(self, port: int, path: str, deflate: bool) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        extensions = [PerMessageDeflate()] if deflate else []
        self.sock.sendall(self.conn.send(we.Request(host="127.0.0.1", target=path,
                                                    extensions=extensions)))
        self.pending: list[Any] = []
        event = self.next_event()
        assert isinstance(event, we.AcceptConnection), event
        self.extensions = event.extensions

    def next_event(self) -> Any:
        while not self.pending:
            data = self.sock.recv(1 << 20)
            self.conn.receive_data(data or None)
            self.pending.extend(self.conn.events())
            if not data and not self.pending:
                raise ConnectionError("closed")
        return self.pending.pop(0)

    def send(self, event: Any) -> None:
        self.sock.sendall(self.conn.send(event))

    def receive_message(self) -> str | bytes:
        parts: list[Any] = []
        while True:
            event = self.next_event()
            if isinstance(event, we.Message):
                parts.append(event.data)
                if event.message_finished:
                    return ("" if isinstance(parts[0], str) else b"").join(parts)
            elif isinstance(event, we.Pong):
                continue
            else:
                raise AssertionError(f"unexpected {event!r}")


@pytest.mark.parametrize("deflate", [True, False])
def test_wsproto_client_against_the_engine(native, deflate):
    client = WsprotoClient(native.port, "/echo", deflate)
    assert bool(client.extensions) == deflate
    try:
        for size in SIZES:
            for text in (True, False):
                data = payload(size, text)
                client.send(we.Message(data=data))
                assert client.receive_message() == data
        # a fragmented message, with a ping between its fragments
        client.send(we.TextMessage(data="first ", message_finished=False))
        client.send(we.Ping(payload=b"between"))
        client.send(we.TextMessage(data="second", message_finished=True))
        pong = client.next_event()
        assert isinstance(pong, we.Pong) and pong.payload == b"between"
        assert client.receive_message() == "first second"
        client.send(we.CloseConnection(code=1000, reason="bye"))
        event = client.next_event()
        assert isinstance(event, we.CloseConnection) and event.code == 1000
        assert client.sock.recv(10) == b""  # the engine closed the TCP connection
    finally:
        client.sock.close()


def test_wsproto_client_sees_server_close(native):
    client = WsprotoClient(native.port, "/echo", deflate=False)
    try:
        client.send(we.TextMessage(data="close-me"))
        event = client.next_event()
        assert isinstance(event, we.CloseConnection)
        assert (event.code, event.reason) == (4000, "as asked")
        client.send(event.response())
    finally:
        client.sock.close()


# ---- pronghorn as the ASGI server ------------------------------------------------------------


async def test_starlette_endpoint_on_pronghorn_run(run_starlette):
    extensions = await echo_round_trips(run_starlette.port, "deflate")
    assert extensions is not None and extensions.startswith("permessage-deflate")
    async with connect(url(run_starlette.port, "/echo"), subprotocols=["chat"],
                       open_timeout=IO_TIMEOUT) as ws:
        assert ws.subprotocol == "chat"
        assert ws.response.headers["x-server-app"] == "starlette"


async def test_asgi_websocket_scope(run_starlette):
    import json

    async with connect(url(run_starlette.port, "/scope?a=1"), subprotocols=["p1", "p2"],
                       open_timeout=IO_TIMEOUT) as ws:
        scope = json.loads(await ws.recv())
    assert scope == {"type": "websocket", "scheme": "ws", "path": "/scope",
                     "query_string": "a=1", "subprotocols": ["p1", "p2"], "has_method": False,
                     "http_version": "1.1", "denial_extension": True}


async def test_fastapi_endpoint_on_pronghorn_run(run_fastapi):
    import json

    async with connect(url(run_fastapi.port, "/rooms/7?token=t"),
                       open_timeout=IO_TIMEOUT) as ws:
        await ws.send("hi")
        assert json.loads(await ws.recv()) == {"room": 7, "token": "t", "text": "hi"}
    for path in ("/rooms/7?token=wrong", "/rooms/notanint?token=t", "/rooms/7"):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(run_fastapi.port, path), open_timeout=IO_TIMEOUT):
                pass
        assert info.value.response.status_code == 403, path


def test_sigterm_closes_open_websockets_with_1001(tmp_path):
    from websockets.sync.client import connect as sync_connect

    for app in ("tests.apps.ws_apps:starlette_app", "tests.apps.ws_apps:pronghorn_app"):
        proc = ServerProcess(tmp_path, app=app)
        try:
            with sync_connect(url(proc.port, "/echo"), open_timeout=IO_TIMEOUT) as ws:
                ws.send("hello")
                assert ws.recv(timeout=IO_TIMEOUT) == "hello"
                proc.signal(signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as info:
                    ws.recv(timeout=IO_TIMEOUT)
                assert info.value.rcvd is not None and info.value.rcvd.code == 1001, app
            assert proc.wait(IO_TIMEOUT * 2) == 0
        finally:
            proc.kill()


# ---- a Pronghorn app under uvicorn --------------------------------------------------------------


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_pronghorn_routes_under_uvicorn(uvicorn_pronghorn, compression):
    await echo_round_trips(uvicorn_pronghorn.port, compression)


async def test_pronghorn_under_uvicorn_params_subprotocol_and_refusals(uvicorn_pronghorn):
    import json

    port = uvicorn_pronghorn.port
    async with connect(url(port, "/rooms/3?token=abc"), open_timeout=IO_TIMEOUT) as ws:
        await ws.send("hey")
        assert json.loads(await ws.recv()) == {"room": 3, "token": "abc", "text": "hey"}
    async with connect(url(port, "/echo"), subprotocols=["sp"], open_timeout=IO_TIMEOUT) as ws:
        assert ws.subprotocol == "sp"
        assert ws.response.headers["x-server-app"] == "pronghorn"
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(port, "/deny"), open_timeout=IO_TIMEOUT):
            pass
    assert (info.value.response.status_code, info.value.response.body) == (401, b"denied")
    for path in ("/close", "/rooms/x?token=abc", "/nowhere"):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(port, path), open_timeout=IO_TIMEOUT):
                pass
        assert info.value.response.status_code == 403, path
    async with connect(url(port, "/raise-after"), open_timeout=IO_TIMEOUT) as ws:
        assert await ws.recv() == "accepted"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1011


# ---- differential: the same Starlette app under uvicorn and pronghorn ---------------------------


async def outcome(port: int, path: str) -> tuple:
    try:
        async with connect(url(port, path), open_timeout=IO_TIMEOUT) as ws:
            received = []
            try:
                while True:
                    received.append(await asyncio.wait_for(ws.recv(), IO_TIMEOUT))
            except ConnectionClosed as exc:
                return ("closed", tuple(received), exc.rcvd.code if exc.rcvd else None)
    except InvalidStatus as exc:
        body = bytes(exc.response.body or b"")
        return ("refused", exc.response.status_code, body)


@pytest.mark.parametrize("path", ["/close", "/deny", "/raise", "/raise-after", "/return",
                                  "/nowhere"])
async def test_refusals_match_uvicorn(uvicorn_starlette, run_starlette, path):
    expected = await outcome(uvicorn_starlette.port, path)
    got = await outcome(run_starlette.port, path)
    if path == "/raise-after":
        # uvicorn's default (websockets-sansio) implementation drops the TCP connection when
        # the app raises after accept (no close frame: the client sees 1006); its legacy
        # websockets implementation sends 1011, as pronghorn does (RFC 6455 §7.4.1).
        assert expected[:2] == got[:2] and expected[2] in (None, 1006, 1011)
        assert got[2] == 1011
        return
    assert got == expected


def test_ws_flags_of_pronghorn_run(tmp_path):
    """--ws-max-size and --no-ws-per-message-deflate reach the ASGI app's sessions."""
    from websockets.sync.client import connect as sync_connect

    proc = ServerProcess(tmp_path, "--ws-max-size", "1000", "--no-ws-per-message-deflate",
                         app="tests.apps.ws_apps:starlette_app")
    try:
        with sync_connect(url(proc.port, "/echo"), open_timeout=IO_TIMEOUT) as ws:
            assert "sec-websocket-extensions" not in ws.response.headers
            ws.send("x" * 1000)
            assert ws.recv(timeout=IO_TIMEOUT) == "x" * 1000
            ws.send("x" * 1001)
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=IO_TIMEOUT)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    finally:
        proc.kill()
