"""pronghorn.websockets: the WebSocket API, routing and dispatch of upgrade requests.

Every test that uses ``ws`` runs twice: through ``TestClient.websocket_connect``
(the engine in memory) and over a real loopback socket with the ``websockets``
client library (the engine's own server), so the behaviour on the wire is the
same through both.
"""

import asyncio
import base64
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_client

from pronghorn import APIRouter, Depends, Header, HTTPException, Pronghorn, Query
from pronghorn.responses import PlainTextResponse, Response
from pronghorn.testclient import AsyncTestClient, TestClient, WebSocketDenialResponse
from pronghorn.websockets import (
    SyncWebSocket,
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketException,
    WebSocketState,
)
from tests.conftest import IO_TIMEOUT, LiveServer

# ---- one API, two transports -----------------------------------------------------------------


class SocketSession:
    """The ``websockets`` sync client behind the TestClient session's method names."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.accepted_subprotocol = conn.subprotocol
        self.extra_headers = [(k.lower().encode(), v.encode())
                              for k, v in conn.response.headers.raw_items()]

    def send_text(self, data: str) -> None:
        self.conn.send(data)

    def send_bytes(self, data: bytes) -> None:
        self.conn.send(data)

    def send_json(self, data: Any, mode: str = "text") -> None:
        import json

        text = json.dumps(data, separators=(",", ":"))
        self.conn.send(text if mode == "text" else text.encode())

    def _recv(self) -> Any:
        try:
            return self.conn.recv(timeout=IO_TIMEOUT)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            raise WebSocketDisconnect(rcvd.code if rcvd else 1006,
                                      rcvd.reason if rcvd else "") from None

    def receive_text(self) -> str:
        data = self._recv()
        assert isinstance(data, str), data
        return data

    def receive_bytes(self) -> bytes:
        data = self._recv()
        assert isinstance(data, bytes), data
        return data

    def receive_json(self, mode: str = "text") -> Any:
        import json

        return json.loads(self._recv())

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.conn.close(code, reason or "")


@pytest.fixture(params=["testclient", "socket"])
def ws(request: pytest.FixtureRequest):
    """ws(app, path, subprotocols=None, headers=None) -> a context manager for a session;
    a refusal raises WebSocketDenialResponse on both transports."""
    servers: list[LiveServer] = []
    clients: list[TestClient] = []

    @contextlib.contextmanager
    def connect(app: Pronghorn, path: str, subprotocols: list[str] | None = None,
                headers: dict[str, str] | None = None) -> Iterator[Any]:
        if request.param == "testclient":
            client = TestClient(app)
            client.__enter__()
            clients.append(client)
            with client.websocket_connect(path, subprotocols, headers) as session:
                yield session
            return
        if not servers or servers[-1].app is not app:
            servers.append(LiveServer(app))
        url = f"ws://127.0.0.1:{servers[-1].port}{path}"
        try:
            conn = ws_client(url, subprotocols=subprotocols, additional_headers=headers,
                             open_timeout=IO_TIMEOUT, close_timeout=IO_TIMEOUT,
                             compression=None, max_size=None)
        except InvalidStatus as exc:
            response = exc.response
            raise WebSocketDenialResponse(
                response.status_code,
                [(k.lower().encode(), v.encode()) for k, v in response.headers.raw_items()],
                bytes(response.body), httpx.Request("GET", url)) from None
        with conn:
            yield SocketSession(conn)

    connect.transport = request.param  # type: ignore[attr-defined]
    yield connect
    for client in clients:
        client.__exit__(None, None, None)
    for server in servers:
        server.close()


def raw_upgrade(app: Pronghorn, path: str = "/ws", *, drop: tuple[str, ...] = (),
                extra: dict[str, str] | None = None, method: str = "GET") -> bytes:
    """An upgrade request by hand over a real socket; everything the server sends."""
    fields = {"Host": "x", "Upgrade": "websocket", "Connection": "Upgrade",
              "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
              "Sec-WebSocket-Version": "13", **(extra or {})}
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in fields.items() if k not in drop) + "\r\n"
    server = LiveServer(app)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as conn:
            conn.sendall(head.encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data
    finally:
        server.close()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]


@pytest.fixture
def log():
    handler = Records()
    logger = logging.getLogger("pronghorn.error")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def echo_app(**options: Any) -> Pronghorn:
    app = Pronghorn()

    @app.websocket("/ws", **options)
    async def echo(websocket: WebSocket):
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    return app


# ---- messages --------------------------------------------------------------------------------


def test_echo_text_bytes_and_json(ws):
    app = Pronghorn()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text.upper())
        data = await websocket.receive_bytes()
        await websocket.send_bytes(data[::-1])
        value = await websocket.receive_json()
        await websocket.send_json({"got": value, "é": "ü"})
        value = await websocket.receive_json(mode="binary")
        await websocket.send_json(value, mode="binary")
        await websocket.close()

    with ws(app, "/ws") as session:
        session.send_text("héllo")
        assert session.receive_text() == "HÉLLO"
        session.send_bytes(b"\x00\x01\xff")
        assert session.receive_bytes() == b"\xff\x01\x00"
        session.send_json([1, "two", None])
        assert session.receive_json() == {"got": [1, "two", None], "é": "ü"}
        session.send_json({"binary": True}, mode="binary")
        assert session.receive_json(mode="binary") == {"binary": True}
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert info.value.code == 1000


def test_large_and_empty_messages_echo(ws):
    with ws(echo_app(), "/ws") as session:
        for size in (0, 125, 126, 65535, 65536, 3 * 1024 * 1024 + 7):
            payload = os.urandom(size)
            session.send_bytes(payload)
            assert session.receive_bytes() == payload
        session.send_text("")
        assert session.receive_text() == ""


def test_iter_text_ends_when_the_client_closes(ws):
    app = Pronghorn()
    seen: list[Any] = []
    done = threading.Event()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        async for text in websocket.iter_text():
            seen.append(text)
            await websocket.send_text(str(len(seen)))
        seen.append(websocket.client_state)
        done.set()

    with ws(app, "/ws") as session:
        session.send_text("a")
        assert session.receive_text() == "1"
        session.send_text("b")
        assert session.receive_text() == "2"
        session.close(1001)
    assert done.wait(IO_TIMEOUT)
    assert seen == ["a", "b", WebSocketState.DISCONNECTED]


def test_receive_raises_disconnect_with_the_clients_code_and_reason(ws):
    app = Pronghorn()
    got: list[Any] = []
    done = threading.Event()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            got.append((exc.code, exc.reason))
        with pytest.raises(WebSocketDisconnected):
            await websocket.receive_text()  # the disconnect was delivered already
        done.set()

    with ws(app, "/ws") as session:
        session.close(4000, "see you")
    assert done.wait(IO_TIMEOUT)
    assert got == [(4000, "see you")]


def test_server_close_code_and_reason_reach_the_client(ws):
    app = Pronghorn()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(4321, "enough")
        assert websocket.application_state is WebSocketState.DISCONNECTED
        with pytest.raises(WebSocketDisconnected):
            await websocket.send_text("after close")

    with ws(app, "/ws") as session:
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
    assert (info.value.code, info.value.reason) == (4321, "enough")


def test_returning_without_close_closes_normally(ws):
    app = Pronghorn()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("bye")

    with ws(app, "/ws") as session:
        assert session.receive_text() == "bye"
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
    assert info.value.code == 1000


def test_send_after_the_client_left_raises_websocket_disconnect(ws):
    app = Pronghorn()
    outcome: list[Any] = []
    done = threading.Event()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive()  # the client's close
        try:
            for _ in range(100):
                await websocket.send_text("x")
                await asyncio.sleep(0.001)
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)
        done.set()

    with ws(app, "/ws") as session:
        session.close(1000)
    assert done.wait(IO_TIMEOUT)
    assert outcome and outcome[0] in (1000, 1006)


def test_asgi_shaped_receive_and_send(ws):
    app = Pronghorn()
    states: list[Any] = []

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        states.append((websocket.client_state, websocket.application_state))
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.send({"type": "websocket.accept", "subprotocol": None})
        states.append((websocket.client_state, websocket.application_state))
        message = await websocket.receive()
        await websocket.send({"type": "websocket.send", "text": message["text"] + "!"})
        message = await websocket.receive()
        await websocket.send({"type": "websocket.send", "bytes": message["bytes"] + b"!"})
        await websocket.send({"type": "websocket.close", "code": 4000, "reason": "r"})
        states.append((websocket.client_state, websocket.application_state))

    with ws(app, "/ws") as session:
        session.send_text("t")
        assert session.receive_text() == "t!"
        session.send_bytes(b"b")
        assert session.receive_bytes() == b"b!"
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert info.value.code == 4000
    S = WebSocketState
    assert states == [(S.CONNECTING, S.CONNECTING), (S.CONNECTED, S.CONNECTED),
                      (S.CONNECTED, S.DISCONNECTED)]


def test_messages_are_processed_in_order_with_backpressure(ws):
    app = Pronghorn()

    @app.websocket("/ws", max_queue=2)
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        count = 0
        async for _ in websocket.iter_bytes():
            count += 1
            await asyncio.sleep(0)
            if count == 200:
                await websocket.send_text(str(count))

    with ws(app, "/ws") as session:
        for i in range(200):
            session.send_bytes(i.to_bytes(2, "big") * 1000)
        assert session.receive_text() == "200"


# ---- the handshake -----------------------------------------------------------------------


def test_subprotocol_and_extra_headers(ws):
    app = Pronghorn()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        assert websocket.subprotocols == ["v2.chat", "v1.chat"]
        await websocket.accept(subprotocol="v1.chat",
                               headers=[(b"x-room", b"lobby"), ("x-str", "ok")])
        assert websocket.subprotocol == "v1.chat"
        await websocket.send_text("hi")

    with ws(app, "/ws", subprotocols=["v2.chat", "v1.chat"]) as session:
        assert session.accepted_subprotocol == "v1.chat"
        headers = dict(session.extra_headers)
        assert headers[b"x-room"] == b"lobby"
        assert headers[b"x-str"] == b"ok"
        assert session.receive_text() == "hi"


def test_no_subprotocol_when_none_is_accepted(ws):
    with ws(echo_app(), "/ws", subprotocols=["a"]) as session:
        assert session.accepted_subprotocol is None


def test_the_opening_request(ws):
    app = Pronghorn(lifespan=None)
    app.state.flag = "app-state"
    seen: dict[str, Any] = {}

    @app.websocket("/rooms/{room}/ws", name="room_ws")
    async def endpoint(websocket: WebSocket, room: str):
        seen["url"] = str(websocket.url)
        seen["scheme"] = websocket.url.scheme
        seen["query"] = dict(websocket.query_params)
        seen["header"] = websocket.headers.get("x-token")
        seen["cookies"] = websocket.cookies
        seen["path_params"] = websocket.path_params
        seen["client"] = websocket.client is not None
        seen["room"] = room
        seen["app"] = websocket.app is app
        websocket.state.user = "u1"
        seen["state"] = websocket.state.user
        seen["url_path"] = app.url_path_for("room_ws", room="x")
        await websocket.accept()
        await websocket.send_text("ok")

    with ws(app, "/rooms/r%201/ws?a=1&b=two",
            headers={"x-token": "t0k", "cookie": "session=abc"}) as session:
        assert session.receive_text() == "ok"
    assert seen["url"].endswith("/rooms/r%201/ws?a=1&b=two")
    assert seen["scheme"] == "ws"
    assert seen["query"] == {"a": "1", "b": "two"}
    assert seen["header"] == "t0k"
    assert seen["cookies"] == {"session": "abc"}
    assert seen["path_params"] == {"room": "r 1"} and seen["room"] == "r 1"
    assert seen["client"] and seen["app"]
    assert seen["state"] == "u1"
    assert seen["url_path"] == "/rooms/x/ws"


@pytest.mark.parametrize("drop, extra, method, status", [
    (("Sec-WebSocket-Key",), {}, "GET", 400),
    ((), {"Sec-WebSocket-Key": "short"}, "GET", 400),
    (("Sec-WebSocket-Version",), {}, "GET", 426),
    ((), {"Sec-WebSocket-Version": "8"}, "GET", 426),
    ((), {}, "POST", 400),
])
def test_invalid_handshakes_are_refused_before_routing(drop, extra, method, status):
    data = raw_upgrade(echo_app(), "/ws", drop=drop, extra=extra, method=method)
    assert data.startswith(b"HTTP/1.1 %d " % status), data
    if status == 426:
        assert b"\r\nsec-websocket-version: 13\r\n" in data.lower()


def test_accept_writes_the_rfc_6455_response():
    data = raw_upgrade(echo_app(), "/ws", extra={"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert data.startswith(b"HTTP/1.1 101 ")
    lower = data.lower()
    assert b"\r\nupgrade: websocket\r\n" in lower
    assert b"\r\nconnection: upgrade\r\n" in lower
    assert b"\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n" in lower


# ---- refusing ---------------------------------------------------------------------------


def refusals_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/http-only")
    def http_only():
        return "page"

    @app.websocket("/close")
    async def close_before_accept(websocket: WebSocket):
        await websocket.close()

    @app.websocket("/return")
    async def return_without_accept(websocket: WebSocket):
        return

    @app.websocket("/denial")
    async def denial(websocket: WebSocket):
        response = PlainTextResponse("go away", 401, headers={"www-authenticate": "Bearer"})
        await websocket.send_denial_response(response)

    @app.websocket("/asgi-denial")
    async def asgi_denial(websocket: WebSocket):
        await websocket.send({"type": "websocket.http.response.start", "status": 418,
                              "headers": [(b"x-kind", b"teapot")]})
        await websocket.send({"type": "websocket.http.response.body", "body": b"sh",
                              "more_body": True})
        await websocket.send({"type": "websocket.http.response.body", "body": b"ort"})

    @app.websocket("/http-exception")
    async def http_exception(websocket: WebSocket):
        raise HTTPException(401, "no token", headers={"www-authenticate": "Bearer"})

    @app.websocket("/ws-exception")
    async def ws_exception(websocket: WebSocket):
        raise WebSocketException(1008, "policy")

    @app.websocket("/typed/{n}")
    async def typed(websocket: WebSocket, n: int, q: Annotated[int, Query(gt=0)] = 1):
        await websocket.accept()
        await websocket.send_json({"n": n, "q": q})

    return app


@pytest.mark.parametrize("path, status, body", [
    ("/nowhere", 403, b""),
    ("/http-only", 403, b""),
    ("/close", 403, b""),
    ("/return", 403, b""),
    ("/ws-exception", 403, b""),
    ("/denial", 401, b"go away"),
    ("/asgi-denial", 418, b"short"),
    ("/http-exception", 401, b'{"detail":"no token"}'),
    ("/typed/notanumber", 403, b""),
    ("/typed/1?q=0", 403, b""),
])
def test_refusals(ws, path, status, body):
    with pytest.raises(WebSocketDenialResponse) as info:
        with ws(refusals_app(), path):
            pass
    assert info.value.status_code == status
    assert info.value.content == body
    if path in ("/denial", "/http-exception"):
        assert info.value.headers["www-authenticate"] == "Bearer"
    if path == "/asgi-denial":
        assert info.value.headers["x-kind"] == "teapot"


def test_typed_parameters(ws):
    with ws(refusals_app(), "/typed/7?q=3") as session:
        assert session.receive_json() == {"n": 7, "q": 3}


def test_http_requests_to_websocket_paths(connect):
    app = refusals_app()

    @app.get("/both")
    def both_page():
        return "page"

    @app.websocket("/both")
    async def both_ws(websocket: WebSocket):
        await websocket.accept()

    client = connect(app)
    assert client.get("/close").status_code == 404  # websocket-only: not found over HTTP
    assert client.post("/close").status_code == 404
    assert client.get("/both").json() == "page"
    response = client.post("/both")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    # The route table's pseudo-method is not an HTTP method.
    assert client.request("WEBSOCKET", "/close").status_code == 404


def test_no_trailing_slash_redirect_to_a_websocket_only_path(connect):
    app = refusals_app()
    assert connect(app).get("/close/", follow_redirects=False).status_code == 404


def test_http_and_websocket_on_one_path(ws):
    app = Pronghorn()

    @app.get("/live")
    def page():
        return "page"

    @app.websocket("/live")
    async def live(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("live")

    with ws(app, "/live") as session:
        assert session.receive_text() == "live"
    assert TestClient(app).get("/live").json() == "page"


# ---- errors ------------------------------------------------------------------------------


class Boom(Exception):
    pass


def errors_app() -> Pronghorn:
    app = Pronghorn()

    @app.websocket("/before")
    async def before(websocket: WebSocket):
        raise Boom("before accept")

    @app.websocket("/after")
    async def after(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        raise Boom("after accept")

    @app.websocket("/ws-exception-after")
    async def ws_exception_after(websocket: WebSocket):
        await websocket.accept()
        raise WebSocketException(4444, "custom")

    return app


def test_exception_before_accept_is_a_logged_500(ws, log):
    app = errors_app()
    if ws.transport == "testclient":
        with pytest.raises(Boom):  # raise_server_exceptions, as Starlette's TestClient
            with ws(app, "/before"):
                pass
    else:
        with pytest.raises(WebSocketDenialResponse) as info:
            with ws(app, "/before"):
                pass
        assert info.value.status_code == 500
    assert any(r.exc_info and r.exc_info[0] is Boom for r in log.errors())


def test_exception_after_accept_closes_1011(ws, log):
    app = errors_app()
    if ws.transport == "testclient":
        with pytest.raises(Boom):
            with ws(app, "/after") as session:
                assert session.receive_text() == "hello"
                session.receive_text()
    else:
        with ws(app, "/after") as session:
            assert session.receive_text() == "hello"
            with pytest.raises(WebSocketDisconnect) as info:
                session.receive_text()
        assert info.value.code == 1011
    assert any(r.exc_info and r.exc_info[0] is Boom for r in log.errors())


def test_exception_is_a_500_when_server_exceptions_are_not_raised():
    client = TestClient(errors_app(), raise_server_exceptions=False)
    with pytest.raises(WebSocketDenialResponse) as info:
        with client.websocket_connect("/before"):
            pass
    assert info.value.status_code == 500
    with client.websocket_connect("/after") as session:
        assert session.receive_text() == "hello"
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_text()
    assert closed.value.code == 1011


def test_websocket_exception_after_accept_closes_with_its_code(ws, log):
    with ws(errors_app(), "/ws-exception-after") as session:
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
    assert (info.value.code, info.value.reason) == (4444, "custom")
    assert not log.errors()


def test_registered_exception_handlers(ws):
    app = Pronghorn()

    @app.exception_handler(Boom)
    async def on_boom(websocket, exc):
        assert isinstance(websocket, WebSocket)
        if websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(4000, str(exc))
            return None
        return PlainTextResponse(f"handled {exc}", 409)

    @app.exception_handler(Exception)
    def http_only(request, exc):  # Exception handlers answer HTTP requests only
        raise AssertionError("not for websockets")

    @app.websocket("/before")
    async def before(websocket: WebSocket):
        raise Boom("early")

    @app.websocket("/after")
    async def after(websocket: WebSocket):
        await websocket.accept()
        raise Boom("late")

    with pytest.raises(WebSocketDenialResponse) as info:
        with ws(app, "/before"):
            pass
    assert (info.value.status_code, info.value.text) == (409, "handled early")
    with ws(app, "/after") as session:
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_text()
    assert (closed.value.code, closed.value.reason) == (4000, "late")


def test_client_disconnect_ending_the_endpoint_is_not_an_error(ws, log):
    app = Pronghorn()
    done = threading.Event()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.receive_text()  # raises WebSocketDisconnect, uncaught
        finally:
            done.set()

    with ws(app, "/ws") as session:
        session.close()
    assert done.wait(IO_TIMEOUT)
    assert not log.errors()


def test_state_errors():
    app = Pronghorn()
    seen: list[str] = []

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        with pytest.raises(WebSocketDisconnected):
            await websocket.receive_text()  # not accepted yet
        with pytest.raises(WebSocketDisconnected):
            await websocket.send_text("x")
        await websocket.accept()
        with pytest.raises(RuntimeError):
            await websocket.accept()
        with pytest.raises(RuntimeError):
            await websocket.send_denial_response(Response(b"", 400))
        with pytest.raises(RuntimeError):
            await websocket.receive_json(mode="nope")
        await websocket.close()
        with pytest.raises(WebSocketDisconnected):
            await websocket.close()
        seen.append("ok")

    with TestClient(app).websocket_connect("/ws") as session:
        with pytest.raises(WebSocketDisconnect):
            session.receive_text()
    assert seen == ["ok"]


# ---- endpoints ---------------------------------------------------------------------------


def test_websocket_by_name_and_by_annotation(ws):
    app = Pronghorn()

    @app.websocket("/by-name/{x}")
    async def by_name(websocket, x: int):
        await websocket.accept()
        await websocket.send_json(x * 2)

    @app.websocket("/annotated")
    async def annotated(conn: Annotated[WebSocket, "meta"]):
        await conn.accept()
        await conn.send_text(type(conn).__name__)

    with ws(app, "/by-name/21") as session:
        assert session.receive_json() == 42
    with ws(app, "/annotated") as session:
        assert session.receive_text() == "WebSocket"


def test_websocket_name_rule_does_not_touch_http_endpoints():
    app = Pronghorn()

    @app.get("/q")
    def query(websocket: str = "none"):
        return websocket

    client = TestClient(app)
    assert client.get("/q?websocket=yes").json() == "yes"


def test_dependencies_headers_and_yield_cleanup(ws):
    app = Pronghorn()
    events: list[str] = []
    done = threading.Event()

    def token(x_token: Annotated[str, Header()]) -> str:
        if x_token != "secret":
            raise WebSocketException(1008, "bad token")
        return x_token

    async def session_resource(websocket: WebSocket):
        events.append(f"open {websocket.path_params['room']}")
        yield "resource"
        events.append("cleanup")
        done.set()

    @app.websocket("/rooms/{room}", dependencies=[Depends(token)])
    async def room(websocket: WebSocket, room: str,
                   resource: Annotated[str, Depends(session_resource)],
                   user: str = Query("anon")):
        await websocket.accept()
        await websocket.send_json({"room": room, "resource": resource, "user": user})
        events.append("endpoint done")

    with ws(app, "/rooms/a?user=bo", headers={"x-token": "secret"}) as session:
        assert session.receive_json() == {"room": "a", "resource": "resource", "user": "bo"}
    assert done.wait(IO_TIMEOUT)
    assert events == ["open a", "endpoint done", "cleanup"]
    with pytest.raises(WebSocketDenialResponse) as info:
        with ws(app, "/rooms/a", headers={"x-token": "wrong"}):
            pass
    assert info.value.status_code == 403
    with pytest.raises(WebSocketDenialResponse) as info:  # missing header: invalid parameters
        with ws(app, "/rooms/a"):
            pass
    assert info.value.status_code == 403


def test_dependency_overrides(ws):
    app = Pronghorn()

    def who() -> str:
        return "real"

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, name: Annotated[str, Depends(who)]):
        await websocket.accept()
        await websocket.send_text(name)

    app.dependency_overrides[who] = lambda: "fake"
    with ws(app, "/ws") as session:
        assert session.receive_text() == "fake"


def test_a_body_parameter_is_refused_at_registration():
    import msgspec

    class Item(msgspec.Struct):
        name: str

    app = Pronghorn()
    with pytest.raises(TypeError, match="no request body"):
        @app.websocket("/ws")
        async def endpoint(websocket: WebSocket, item: Item):
            pass


def test_unknown_options_are_refused():
    app = Pronghorn()
    with pytest.raises(TypeError):
        app.add_api_websocket_route("/ws", echo_app, max_mesage_size=10)


def test_sync_endpoint_runs_in_the_thread_pool(ws):
    app = Pronghorn()
    threads: list[str] = []

    @app.websocket("/ws/{n}")
    def endpoint(websocket: SyncWebSocket, n: int):
        threads.append(threading.current_thread().name)
        websocket.accept()
        for text in websocket.iter_text():
            websocket.send_text(text * n)
        threads.append("done")

    with ws(app, "/ws/3") as session:
        session.send_text("ab")
        assert session.receive_text() == "ababab"
        session.send_json({"k": 1})
        assert session.receive_text() == '{"k":1}' * 3
    assert threads[0] != threading.main_thread().name
    assert "loop" not in threads[0].lower() or threads[0] != "pronghorn-testclient"


def test_http_middleware_does_not_see_websockets(ws):
    app = Pronghorn()
    seen: list[str] = []

    @app.middleware("http")
    async def record(request, call_next):
        seen.append(request.path)
        return await call_next(request)

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("ok")

    with ws(app, "/ws") as session:
        assert session.receive_text() == "ok"
    assert seen == []


def test_routers_prefixes_and_mounts(ws):
    router = APIRouter(prefix="/chat", dependencies=[Depends(lambda: None)])

    @router.websocket("/{room}")
    async def chat(websocket: WebSocket, room: str):
        await websocket.accept()
        await websocket.send_text(f"chat {room} at {websocket.url.path}")

    sub = Pronghorn()

    @sub.websocket_route("/inner")
    async def inner(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(f"inner at {websocket.url.path}")

    async def added(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("added")

    app = Pronghorn()
    app.include_router(router, prefix="/v1")
    app.mount("/sub", sub)
    app.add_websocket_route("/added", added)

    with ws(app, "/v1/chat/lobby") as session:
        assert session.receive_text() == "chat lobby at /v1/chat/lobby"
    with ws(app, "/sub/inner") as session:
        assert session.receive_text() == "inner at /sub/inner"
    with ws(app, "/added") as session:
        assert session.receive_text() == "added"
    assert app.url_path_for("chat", room="x") == "/v1/chat/x"


def test_starlette_app_mounted_in_a_pronghorn_app(ws):
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket as StarletteWebSocket

    async def star(websocket: StarletteWebSocket):
        await websocket.accept()
        await websocket.send_text(f"{websocket.scope['root_path']} {websocket.url.path}")
        await websocket.close()

    app = Pronghorn()
    app.mount("/star", Starlette(routes=[WebSocketRoute("/ws", star)]))
    with ws(app, "/star/ws") as session:
        assert session.receive_text() == "/star /star/ws"


def test_websocket_routes_are_not_in_the_openapi_document():
    app = echo_app()

    @app.get("/items")
    def items():
        return []

    assert list(TestClient(app).get("/openapi.json").json()["paths"]) == ["/items"]


def test_broadcast_between_sessions(ws):
    app = Pronghorn()
    members: set[WebSocket] = set()

    @app.websocket("/chat")
    async def chat(websocket: WebSocket):
        await websocket.accept()
        members.add(websocket)
        try:
            async for text in websocket.iter_text():
                for member in list(members):
                    await member.send_text(text)
        finally:
            members.discard(websocket)

    with ws(app, "/chat") as first, ws(app, "/chat") as second:
        first.send_text("ping")
        assert first.receive_text() == "ping"
        assert second.receive_text() == "ping"
        second.send_text("hello all")
        assert second.receive_text() == "hello all"
        assert first.receive_text() == "hello all"


def test_message_size_limit_closes_1009(ws):
    with ws(echo_app(max_message_size=1000), "/ws") as session:
        session.send_bytes(b"x" * 1000)
        assert session.receive_bytes() == b"x" * 1000
        session.send_bytes(b"x" * 1001)
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_bytes()
    assert info.value.code == 1009


# ---- the test client itself ----------------------------------------------------------------


def test_testclient_outside_a_with_block_and_denial_details():
    client = TestClient(refusals_app())
    with client.websocket_connect("/typed/5") as session:
        assert session.receive() == {"type": "websocket.send", "text": '{"n":5,"q":1}'}
        assert session.receive() == {"type": "websocket.close", "code": 1000, "reason": ""}
    with pytest.raises(WebSocketDenialResponse) as info:
        with client.websocket_connect("ws://testserver/denial"):
            pass
    denial = info.value
    assert isinstance(denial, httpx.Response) and isinstance(denial, WebSocketDisconnect)
    assert denial.status_code == 401 and denial.text == "go away"


def test_testclient_asgi_shaped_send():
    client = TestClient(echo_app())
    with client.websocket_connect("/ws") as session:
        session.send({"type": "websocket.receive", "text": "a"})
        assert session.receive_text() == "a"
        session.send({"type": "websocket.receive", "bytes": b"b"})
        assert session.receive_bytes() == b"b"
        session.send({"type": "websocket.disconnect", "code": 1000})
        with pytest.raises(WebSocketDisconnect):
            session.receive_text()


async def test_async_testclient_websocket():
    app = echo_app()
    async with AsyncTestClient(app) as client:
        async with client.websocket_connect("/ws") as session:
            await session.send_text("async")
            assert await session.receive_text() == "async"
            await session.send_json({"a": 1}, mode="binary")
            assert await session.receive_json(mode="binary") == {"a": 1}
    client = AsyncTestClient(refusals_app())
    with pytest.raises(WebSocketDenialResponse):
        async with client.websocket_connect("/close"):
            pass


# ---- shutdown --------------------------------------------------------------------------------


def test_graceful_shutdown_closes_open_websockets_with_1001():
    server = LiveServer(echo_app())
    try:
        with ws_client(f"ws://127.0.0.1:{server.port}/ws", open_timeout=IO_TIMEOUT) as conn:
            conn.send("before")
            assert conn.recv(timeout=IO_TIMEOUT) == "before"

            async def shutdown() -> None:
                server.engine.shutdown()

            server.call(shutdown())
            with pytest.raises(ConnectionClosed) as info:
                conn.recv(timeout=IO_TIMEOUT)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    finally:
        server.close()


# ---- the example app and the docs ------------------------------------------------------------


def test_chat_example():
    from examples import chat

    chat.room.members.clear()
    chat.room.messages = 0
    with TestClient(chat.app) as client:
        assert "new WebSocket" in client.get("/").text
        with client.websocket_connect("/ws?name=ann") as ann:
            assert ann.receive_json() == {"type": "join", "name": "ann", "members": 1}
            with client.websocket_connect("/ws?name=bob") as bob:
                assert bob.receive_json() == {"type": "join", "name": "bob", "members": 2}
                assert ann.receive_json()["name"] == "bob"
                bob.send_text("hello")
                said = {"type": "message", "name": "bob", "text": "hello"}
                assert ann.receive_json() == said and bob.receive_json() == said
                response = client.get("/metrics?count=2&interval=0")
                assert response.headers["content-type"].startswith("text/event-stream")
                events = [block for block in response.text.split("\n\n") if block]
                assert len(events) == 2 and "event: metrics" in events[0]
                assert '"members":2' in events[0] and '"messages":1' in events[0]
            assert ann.receive_json() == {"type": "leave", "name": "bob", "members": 1}


def test_docs_websockets_examples():
    from tests.conftest import run_markdown_examples

    run_markdown_examples("docs/websockets.md")


def test_docs_sse_examples():
    from tests.conftest import run_markdown_examples

    run_markdown_examples("docs/sse.md")


# ---- timers and backpressure on a real socket -------------------------------------------------


def _raw_ws(port: int, path: str) -> tuple[socket.socket, bytes]:
    """An upgraded socket, and what the server sent after the 101."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    assert data.startswith(b"HTTP/1.1 101 ")
    return conn, data.split(b"\r\n\r\n", 1)[1]


def test_server_pings_and_closes_when_no_pong_comes():
    app = Pronghorn()

    @app.websocket("/ws", ping_interval=0.2, ping_timeout=0.3)
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        async for _ in websocket.iter_text():
            pass

    server = LiveServer(app)
    try:
        conn, data = _raw_ws(server.port, "/ws")  # never answers pings
        started = time.monotonic()
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        elapsed = time.monotonic() - started
        assert data[:1] == b"\x89"  # a ping first
        close_at = data.find(b"\x88")
        assert close_at > 0, data
        code = int.from_bytes(data[close_at + 2:close_at + 4], "big")
        assert code == 1011  # as the websockets library and uvicorn
        assert 0.3 < elapsed < IO_TIMEOUT
        conn.close()
    finally:
        server.close()


def test_send_waits_for_a_slow_reader():
    app = Pronghorn()
    progress: list[int] = []
    chunk = b"x" * (256 * 1024)

    @app.websocket("/ws", compression=False)
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        for i in range(200):  # 50 MiB in all
            await websocket.send_bytes(chunk)
            progress.append(i)
        await websocket.close()

    server = LiveServer(app)
    try:
        conn, early = _raw_ws(server.port, "/ws")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        time.sleep(0.5)  # not reading: the endpoint must be waiting in send_bytes
        stalled_at = len(progress)
        assert stalled_at < 100, stalled_at
        received, expected = len(early), 200 * (len(chunk) + 10) + 4  # frames, close frame
        while received < expected:
            data = conn.recv(1 << 20)
            assert data, received
            received += len(data)
        assert received == expected
        assert len(progress) == 200
        conn.close()
    finally:
        server.close()


def test_invalid_close_codes_and_ping_payloads_raise():
    app = Pronghorn()
    seen: list[str] = []

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        for code in (1005, 1006, 999, 5000):
            with pytest.raises(ValueError):
                await websocket.close(code)
        assert websocket.application_state is WebSocketState.CONNECTED
        with pytest.raises(ValueError):
            await websocket.ping(b"x" * 126)
        await websocket.ping(b"x" * 125)
        await websocket.close(1000, "r" * 200)  # a long reason is cut to fit the frame
        seen.append("ok")

    with TestClient(app).websocket_connect("/ws") as session:
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
    assert seen == ["ok"]
    assert info.value.code == 1000 and info.value.reason == "r" * 123


def test_a_subprotocol_that_is_not_a_token_is_refused():
    # RFC 6455 §4.2.2: Sec-WebSocket-Protocol carries a token.
    app = Pronghorn()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        with pytest.raises(ValueError):
            await websocket.accept(subprotocol="not a token")
        await websocket.close()

    with pytest.raises(WebSocketDenialResponse) as info:
        with TestClient(app).websocket_connect("/ws"):
            pass
    assert info.value.status_code == 403


def test_a_dropped_connection_is_a_1006_disconnect():
    app = Pronghorn()
    got: list[Any] = []
    done = threading.Event()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            got.append(exc.code)
        done.set()

    server = LiveServer(app)
    try:
        conn, _ = _raw_ws(server.port, "/ws")
        conn.close()  # no close frame
        assert done.wait(IO_TIMEOUT)
        assert got == [1006]
    finally:
        server.close()
