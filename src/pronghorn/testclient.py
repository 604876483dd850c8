"""TestClient and AsyncTestClient: httpx clients whose transport is the real engine, in memory.

Owns: turning an ``httpx.Request`` into HTTP/1.1 bytes, feeding them to a
socket-less engine connection (``_core.Server.memory_connection``), reading
the engine's response bytes back into an ``httpx.Response``, the app's
lifespan around a ``with`` block, waiting for the response's background
tasks (as Starlette's TestClient does) and re-raising a handler's or a
background task's exception in the test (``raise_server_exceptions``).

Invariants: requests are parsed, routed and answered by the same C parser,
engine and response writer as on a socket; nothing here interprets a
request; a Pronghorn app is served with its ``engine_options`` (the C
router's fast path), as ``pronghorn run`` serves it. The handler reports to
its exchange through context variables set around ``feed`` (the engine runs
it in a copy of that context). One memory connection per request. An engine ``Server`` lives on
exactly one event loop: for ``TestClient`` a loop in a background thread
(so it works from sync tests and from inside a running loop), for
``AsyncTestClient`` the caller's running loop. Outside a ``with`` block each
request gets its own engine (and, for TestClient, its own loop thread), and
no lifespan runs.

``websocket_connect`` opens a WebSocket the same way: the upgrade request
goes through the engine's parser and dispatch, and after the 101 the
session speaks real frames (masked client frames built here, the
engine's frames read back by ``_wire.WebSocketReader``); the engine's
session does all server-side framing, validation and the close handshake.

Must not know about: routing or handler signatures (the app's job).
httpx is needed only by this module (``pip install pronghorn[testclient]``).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextvars
import os
import threading
from collections.abc import Awaitable, Iterable, Iterator
from typing import Any, TypeVar

try:
    import httpx
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "pronghorn.testclient needs httpx: pip install 'pronghorn[testclient]'") from exc

import msgspec

from pronghorn import _core
from pronghorn._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_PONG,
    OP_TEXT,
    WebSocketReader,
    ws_close_payload,
    ws_frame,
)
from pronghorn.app import Pronghorn, server_exception_observer
from pronghorn.background import background_observer
from pronghorn.responses import _json_encode
from pronghorn.websockets import WebSocketDisconnect

__all__ = ["AsyncTestClient", "AsyncWebSocketTestSession", "TestClient", "WebSocketDenialResponse",
           "WebSocketTestSession"]

T = TypeVar("T")

_json_decode = msgspec.json.decode
_UNBOUNDED = 2**62  # no body limit when decoding the engine's chunked responses
_ENGINE_ERRORS = (_core.ClientDisconnect, _core.ProtocolError)  # answered by the engine itself
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ---- request bytes -------------------------------------------------------------------


def _request_head(request: httpx.Request) -> bytes:
    """Request line and header fields, as httpx prepared them (Host and framing included)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(b"%s: %s" % pair for pair in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _is_chunked(request: httpx.Request) -> bool:
    return request.headers.get("transfer-encoding", "").lower() == "chunked"


def _frame(part: bytes, chunked: bool) -> bytes:
    if not chunked:
        return part
    return b"%x\r\n%s\r\n" % (len(part), part)


def _body_pieces(request: httpx.Request) -> Iterator[bytes]:
    """The body as it goes on the wire (chunk-framed when httpx chose chunked)."""
    chunked = _is_chunked(request)
    for part in request.stream:  # type: ignore[union-attr]
        if part:
            yield _frame(part, chunked)
    if chunked:
        yield b"0\r\n\r\n"


async def _abody_pieces(request: httpx.Request) -> list[bytes]:
    chunked = _is_chunked(request)
    pieces = [_frame(part, chunked) async for part in request.stream if part]  # type: ignore
    if chunked:
        pieces.append(b"0\r\n\r\n")
    return pieces


# ---- response bytes ------------------------------------------------------------------


class _ResponseReader:
    """Reads one response from the engine's output: head, then the body by its framing."""

    def __init__(self, method: str) -> None:
        self.head_request = method == "HEAD"
        self.buffer = b""
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.complete = False
        self._framing: str | int | None = None  # "chunked", a length, or "close"

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while not self.complete:
            if self._framing is None:
                if not self._read_head():
                    return
            elif self._framing == "chunked":
                if not self.buffer.endswith(b"\r\n\r\n"):  # cannot be complete yet
                    return
                try:
                    body, _, done = _core.decode_chunked(self.buffer, max_body=_UNBOUNDED)
                except _core.ProtocolError as exc:
                    raise httpx.RemoteProtocolError(f"invalid chunked response: {exc}") from exc
                if done:
                    self.body, self.complete = body, True
                return
            elif self._framing == "close":
                return
            else:
                if len(self.buffer) >= self._framing:
                    self.body, self.complete = self.buffer[:self._framing], True
                return

    def feed_eof(self) -> None:
        if self.complete:
            return
        if self._framing == "close":
            self.body, self.complete = self.buffer, True
            return
        raise httpx.RemoteProtocolError(
            "the server closed the connection without a complete response "
            f"(received {self.buffer[:200]!r})")

    def _read_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = self.buffer[:end].split(b"\r\n")
        self.buffer = self.buffer[end + 4:]
        version, _, rest = lines[0].partition(b" ")
        code, _, self.reason = rest.partition(b" ")
        self.status = int(code)
        self.headers = [(name, value.strip()) for name, _, value in
                        (line.partition(b":") for line in lines[1:])]
        if 100 <= self.status < 200 and self.status != 101:  # interim (100 Continue)
            return True
        fields = {name.lower(): value for name, value in self.headers}
        if self.head_request or self.status in (101, 204, 304):
            self._framing = 0
        elif fields.get(b"transfer-encoding", b"").lower().endswith(b"chunked"):
            self._framing = "chunked"
        elif b"content-length" in fields:
            self._framing = int(fields[b"content-length"])
        else:
            self._framing = "close"
        return True

    def response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status, headers=self.headers, stream=httpx.ByteStream(self.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self.reason})


# ---- the engine ------------------------------------------------------------------------


class _Exchange:
    """One request/response on one memory connection, as its handler reports it (through
    context variables): its first unhandled exception and its running background tasks."""

    __slots__ = ("exception", "_running", "_idle")

    def __init__(self) -> None:
        self.exception: BaseException | None = None
        self._running = 0
        self._idle: asyncio.Future[None] | None = None

    def record(self, exc: BaseException) -> None:
        if self.exception is None and not isinstance(exc, _ENGINE_ERRORS):
            self.exception = exc

    def task_started(self) -> Any:
        self._running += 1
        return self._task_finished

    def _task_finished(self, error: BaseException | None) -> None:
        if isinstance(error, Exception):
            self.record(error)
        self._running -= 1
        if not self._running and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    async def background_done(self) -> None:
        """Wait for the background tasks (as Starlette's TestClient, which returns after them)."""
        while self._running:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle


class _Engine:
    """An engine Server serving ``app`` on the running loop, one memory connection per request.

    A Pronghorn app is served exactly as ``pronghorn run`` serves it (its
    ``engine_options``: the C router calls routed endpoints directly); any
    other callable is the engine's handler.
    """

    def __init__(self, app: Any, client: tuple[str, int]) -> None:
        self.app = app
        self.is_app = isinstance(app, Pronghorn)
        self.client = tuple(client)
        if self.is_app:
            self.server = _core.Server(app._handle, **app.engine_options())
        else:
            self.server = _core.Server(_observed(app))
        self.server.start(asyncio.get_running_loop())

    def close(self) -> None:
        self.server.close_all()

    async def startup(self) -> None:
        if self.is_app:
            await self.app.startup()

    async def shutdown(self) -> None:
        if self.is_app:
            await self.app.shutdown()

    async def exchange(self, url: httpx.URL, head: bytes, body: Iterable[bytes],
                       method: str) -> tuple[_ResponseReader, BaseException | None]:
        """Send one request; return its response and the handler's unhandled exception."""
        exchange = _Exchange()
        reader = _ResponseReader(method)
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        conn = self.server.memory_connection(client=self.client, server=(url.host, port),
                                             scheme=url.scheme)
        try:
            # The engine dispatches inside feed() and runs the handler in a copy of the
            # context current then: through these variables it reports to this exchange.
            # Fed from a loop callback, as from the epoll callback on a socket: no Task is
            # current unless the handler gets one (an async handler's own).
            context = contextvars.copy_context()
            context.run(server_exception_observer.set, exchange.record)
            context.run(background_observer.set, exchange.task_started)
            asyncio.get_running_loop().call_soon(conn.feed, head, context=context)
            for piece in body:
                await asyncio.sleep(0)  # let a handler that is reading the body run
                conn.feed(piece)
            while True:
                reader.feed(conn.output())
                if reader.complete:
                    break
                if conn.closed:
                    reader.feed_eof()
                    break
                await conn.wait_output()
            await exchange.background_done()
        finally:
            conn.close()
        return reader, exchange.exception


def _observed(handler: Any) -> Any:
    """A plain handler whose unhandled exceptions are also reported to the exchange."""

    def handle(request: Any) -> Any:
        try:
            result = handler(request)
        except BaseException as exc:
            _report(exc)
            raise
        if hasattr(result, "__await__"):
            return _watch(result)
        return result

    return handle


async def _watch(result: Awaitable[Any]) -> Any:
    try:
        return await result
    except BaseException as exc:
        _report(exc)
        raise


def _report(exc: BaseException) -> None:
    observer = server_exception_observer.get()
    if observer is not None:
        observer(exc)


# ---- the portal: an event loop in a thread ---------------------------------------------


class _LoopThread:
    """An asyncio loop running in a daemon thread; ``call`` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="pronghorn-testclient",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def call(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


async def _make_engine(app: Any, client: tuple[str, int]) -> _Engine:
    return _Engine(app, client)


async def _close_engine(engine: _Engine, lifespan: bool) -> None:
    try:
        if lifespan:
            await engine.shutdown()
    finally:
        engine.close()


# ---- transports ------------------------------------------------------------------------


def _raise_or_respond(reader: _ResponseReader, exc: BaseException | None,
                      request: httpx.Request, raise_server_exceptions: bool) -> httpx.Response:
    if exc is not None and raise_server_exceptions:
        raise exc
    return reader.response(request)


class _EngineTransport(httpx.BaseTransport):
    def __init__(self, app: Any, raise_server_exceptions: bool, client: tuple[str, int]) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.client = client
        self._portal: _LoopThread | None = None
        self._engine: _Engine | None = None

    def start(self) -> None:
        """Start the loop thread and the engine and run the app's startup hooks."""
        if self._portal is not None:
            raise RuntimeError("this TestClient is already running its app (nested 'with')")
        portal = _LoopThread()
        try:
            engine = portal.call(_make_engine(self.app, self.client))
            try:
                portal.call(engine.startup())
            except BaseException:
                portal.call(_close_engine(engine, lifespan=False))
                raise
        except BaseException:
            portal.close()
            raise
        self._portal, self._engine = portal, engine

    def stop(self) -> None:
        """Run the shutdown hooks, close the engine and stop the loop thread."""
        portal, engine = self._portal, self._engine
        if portal is None or engine is None:
            return
        self._portal = self._engine = None
        try:
            portal.call(_close_engine(engine, lifespan=True))
        finally:
            portal.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        head, body = _request_head(request), list(_body_pieces(request))
        if self._portal is not None and self._engine is not None:
            reader, exc = self._portal.call(
                self._engine.exchange(request.url, head, body, request.method))
        else:  # outside a `with` block: a loop and an engine for this request only
            portal = _LoopThread()
            try:
                engine = portal.call(_make_engine(self.app, self.client))
                try:
                    reader, exc = portal.call(
                        engine.exchange(request.url, head, body, request.method))
                finally:
                    portal.call(_close_engine(engine, lifespan=False))
            finally:
                portal.close()
        return _raise_or_respond(reader, exc, request, self.raise_server_exceptions)

    def close(self) -> None:
        self.stop()


class _AsyncEngineTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Any, raise_server_exceptions: bool, client: tuple[str, int]) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.client = client
        self._engine: _Engine | None = None

    async def start(self) -> None:
        if self._engine is not None:
            raise RuntimeError("this AsyncTestClient is already running its app (nested 'with')")
        engine = _Engine(self.app, self.client)
        try:
            await engine.startup()
        except BaseException:
            engine.close()
            raise
        self._engine = engine

    async def stop(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await _close_engine(engine, lifespan=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        head, body = _request_head(request), await _abody_pieces(request)
        engine = self._engine
        if engine is not None:
            reader, exc = await engine.exchange(request.url, head, body, request.method)
        else:
            engine = _Engine(self.app, self.client)
            try:
                reader, exc = await engine.exchange(request.url, head, body, request.method)
            finally:
                engine.close()
        return _raise_or_respond(reader, exc, request, self.raise_server_exceptions)

    async def aclose(self) -> None:
        await self.stop()


# ---- the clients -----------------------------------------------------------------------

_DEFAULT_HEADERS = {"user-agent": "testclient"}


class TestClient(httpx.Client):
    """An ``httpx.Client`` that sends its requests to ``app`` through the engine, in memory.

    ``with TestClient(app) as client:`` runs the app's startup hooks on entry
    and its shutdown hooks on exit; the handlers run on that same event loop
    (in a background thread). With ``raise_server_exceptions`` (the default)
    a handler's unhandled exception is raised in the test instead of the 500.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        cookies: Any = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.app = app
        transport = _EngineTransport(app, raise_server_exceptions, client)
        super().__init__(base_url=base_url, headers={**_DEFAULT_HEADERS, **(headers or {})},
                         transport=transport, follow_redirects=follow_redirects, cookies=cookies)

    def request(self, method: str, url: httpx.URL | str, *,  # type: ignore[override]
                cookies: Any = None,
                auth: Any = httpx.USE_CLIENT_DEFAULT,
                follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
                **kwargs: Any) -> httpx.Response:
        """As httpx's, with per-request ``cookies`` accepted (as Starlette's TestClient does)."""
        request = self.build_request(method, url, cookies=cookies, **kwargs)
        return self.send(request, auth=auth, follow_redirects=follow_redirects)

    def __enter__(self) -> TestClient:
        self._transport.start()  # type: ignore[attr-defined]
        return self

    def websocket_connect(self, url: str, subprotocols: Iterable[str] | None = None,
                          headers: dict[str, str] | None = None) -> WebSocketTestSession:
        """Open a WebSocket to ``url`` through the engine: use it in a ``with`` block.
        Raises ``WebSocketDenialResponse`` when the server does not accept."""
        request = _upgrade_request(self, url, subprotocols, headers)
        return WebSocketTestSession(self._transport, request)  # type: ignore[arg-type]

    def __exit__(self, *exc_info: Any) -> None:
        self._transport.stop()  # type: ignore[attr-defined]


class AsyncTestClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that drives the engine on the current event loop.

    ``async with AsyncTestClient(app) as client:`` runs the app's startup and
    shutdown hooks around the block.
    """

    __test__ = False

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        cookies: Any = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.app = app
        transport = _AsyncEngineTransport(app, raise_server_exceptions, client)
        super().__init__(base_url=base_url, headers={**_DEFAULT_HEADERS, **(headers or {})},
                         transport=transport, follow_redirects=follow_redirects, cookies=cookies)

    async def request(self, method: str, url: httpx.URL | str, *,  # type: ignore[override]
                      cookies: Any = None,
                      auth: Any = httpx.USE_CLIENT_DEFAULT,
                      follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
                      **kwargs: Any) -> httpx.Response:
        request = self.build_request(method, url, cookies=cookies, **kwargs)
        return await self.send(request, auth=auth, follow_redirects=follow_redirects)

    async def __aenter__(self) -> AsyncTestClient:
        await self._transport.start()  # type: ignore[attr-defined]
        return self

    def websocket_connect(self, url: str, subprotocols: Iterable[str] | None = None,
                          headers: dict[str, str] | None = None) -> AsyncWebSocketTestSession:
        """``async with client.websocket_connect("/ws") as ws:`` (see TestClient's)."""
        request = _upgrade_request(self, url, subprotocols, headers)
        return AsyncWebSocketTestSession(self._transport, request)  # type: ignore[arg-type]

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._transport.stop()  # type: ignore[attr-defined]


# ---- WebSockets ------------------------------------------------------------------------

_WS_TIMEOUT = 10.0  # seconds the close handshake and the endpoint's end may take on exit


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """``websocket_connect`` got an HTTP response instead of the 101: the endpoint closed
    before accepting (403), refused with ``send_denial_response``, or the handshake was
    invalid (400/426). It is both that ``httpx.Response`` and a ``WebSocketDisconnect``."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes,
                 request: httpx.Request) -> None:
        httpx.Response.__init__(self, status, headers=headers, content=content, request=request)
        WebSocketDisconnect.__init__(self, 1006, f"HTTP {status}")

    def __str__(self) -> str:
        return f"the WebSocket upgrade was answered {self.status_code}: {self.content[:200]!r}"

    __repr__ = httpx.Response.__repr__


def _upgrade_request(client: httpx.Client | httpx.AsyncClient, url: str,
                     subprotocols: Iterable[str] | None,
                     headers: dict[str, str] | None) -> httpx.Request:
    if url.startswith(("ws://", "wss://")):
        url = "http" + url[2:]
    extra = {"connection": "upgrade", "upgrade": "websocket",
             "sec-websocket-key": base64.b64encode(os.urandom(16)).decode(),
             "sec-websocket-version": "13"}
    if subprotocols:
        extra["sec-websocket-protocol"] = ", ".join(subprotocols)
    return client.build_request("GET", url, headers={**extra, **(headers or {})})


class _WebSocketCore:
    """One WebSocket over a memory connection, driven on the engine's loop."""

    def __init__(self, engine: _Engine, request: httpx.Request) -> None:
        self.engine = engine
        self.request = request
        self.exchange = _Exchange()
        self.conn: Any = None
        self.frames = WebSocketReader()
        self.pending: collections.deque[tuple] = collections.deque()
        self.close_sent = False
        self.closed: tuple | None = None  # ("close", code, reason) once the session ended
        self.subprotocol: str | None = None
        self.headers: list[tuple[bytes, bytes]] = []

    async def open(self) -> _ResponseReader:
        """Send the upgrade request; the response (101, or the refusal)."""
        url = self.request.url
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        self.conn = conn = self.engine.server.memory_connection(
            client=self.engine.client, server=(url.host, port), scheme=url.scheme)
        context = contextvars.copy_context()
        context.run(server_exception_observer.set, self.exchange.record)
        context.run(background_observer.set, self.exchange.task_started)
        asyncio.get_running_loop().call_soon(conn.feed, _request_head(self.request),
                                              context=context)
        reader = _ResponseReader("GET")
        while True:
            reader.feed(conn.output())
            if reader.complete:
                break
            if conn.closed:
                reader.feed_eof()
                break
            await conn.wait_output()
        if reader.status != 101:
            await self._end(wait=True)
            return reader
        fields = {name.lower(): value for name, value in reader.headers}
        protocol = fields.get(b"sec-websocket-protocol")
        self.subprotocol = None if protocol is None else protocol.decode("latin-1")
        self.headers = reader.headers
        self._absorb(bytes(reader.buffer))
        return reader

    def _absorb(self, data: bytes) -> None:
        for event in self.frames.feed(data):
            kind = event[0]
            if kind == "ping":
                if not self.close_sent:
                    self._feed(ws_frame(OP_PONG, event[1], mask=os.urandom(4)))
            elif kind == "pong":
                continue
            else:
                if kind == "close" and not self.close_sent:
                    self._send_close(None if event[1] == 1005 else event[1], "")  # the reply
                self.pending.append(event)

    def _feed(self, frame: bytes) -> None:
        if self.conn.closed:
            raise WebSocketDisconnect(1006, "the connection is closed")
        self.conn.feed(frame)

    def _send_close(self, code: int | None, reason: str) -> None:
        self.close_sent = True
        try:
            self._feed(ws_frame(OP_CLOSE, ws_close_payload(code, reason), mask=os.urandom(4)))
        except WebSocketDisconnect:
            pass

    async def next_event(self) -> tuple:
        """The next message or close from the server: ("text", str), ("bytes", bytes) or
        ("close", code, reason) (1006 when the connection ended without a close frame)."""
        if self.closed is not None:
            return self.closed
        conn = self.conn
        while not self.pending:
            data = conn.output()
            if data:
                self._absorb(data)
            elif conn.closed:
                self.pending.append(("close", 1006, ""))
            else:
                await conn.wait_output()
        event = self.pending.popleft()
        if event[0] == "close":
            self.closed = event
        return event

    async def send(self, opcode: int, payload: bytes) -> None:
        if self.close_sent:
            raise RuntimeError("cannot send after the WebSocket was closed")
        self._feed(ws_frame(opcode, payload, mask=os.urandom(4)))
        await asyncio.sleep(0)  # let the endpoint see it

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.close_sent:
            self._send_close(code, reason)
        await asyncio.sleep(0)

    async def finish(self) -> BaseException | None:
        """Close (1000) unless closed, wait for the server's close and the endpoint's end."""
        if self.conn is not None and not self.conn.closed:
            if not self.close_sent:
                self._send_close(1000, "")
            try:
                await asyncio.wait_for(self._until_closed(), _WS_TIMEOUT)
            except TimeoutError:
                pass
        await self._end(wait=True)
        return self.exchange.exception

    async def _until_closed(self) -> None:
        while self.closed is None:
            await self.next_event()

    async def _end(self, wait: bool) -> None:
        if self.conn is not None:
            self.conn.close()
        if wait:
            try:
                await asyncio.wait_for(self.exchange.background_done(), _WS_TIMEOUT)
            except TimeoutError:
                pass


def _message(event: tuple) -> dict[str, Any]:
    """A server event as Starlette's test session gives it (what the endpoint sent)."""
    if event[0] == "text":
        return {"type": "websocket.send", "text": event[1]}
    if event[0] == "bytes":
        return {"type": "websocket.send", "bytes": event[1]}
    return {"type": "websocket.close", "code": event[1], "reason": event[2]}


def _data(message: dict[str, Any], key: str) -> Any:
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(message["code"], message.get("reason"))
    if key not in message:
        other = "bytes" if key == "text" else "text"
        raise RuntimeError(f"expected a {key} message, got {other}: {message[other]!r}")
    return message[key]


def _outgoing(message: dict[str, Any]) -> tuple[int, bytes] | tuple[None, tuple[int, str]]:
    """An ASGI-style message to the endpoint as (opcode, payload), or (None, (code, reason))."""
    kind = message["type"]
    if kind == "websocket.receive":
        if message.get("bytes") is not None:
            return OP_BINARY, bytes(message["bytes"])
        return OP_TEXT, message["text"].encode()
    if kind == "websocket.disconnect":
        return None, (message.get("code", 1000), message.get("reason") or "")
    raise ValueError(f"unexpected message type {kind!r}: send websocket.receive or "
                     "websocket.disconnect")


def _json_payload(data: Any, mode: str) -> tuple[int, bytes]:
    if mode not in ("text", "binary"):
        raise RuntimeError('The "mode" argument should be "text" or "binary".')
    return (OP_TEXT if mode == "text" else OP_BINARY), _json_encode(data)


def _refused(reader: _ResponseReader, request: httpx.Request) -> WebSocketDenialResponse:
    return WebSocketDenialResponse(reader.status, reader.headers, reader.body, request)


class WebSocketTestSession:
    """A WebSocket to the app (``with client.websocket_connect("/ws") as ws:``).

    ``send_text/bytes/json`` and ``receive_text/bytes/json`` as Starlette's test
    session; ``receive_*`` raise ``WebSocketDisconnect`` once the server closed.
    Leaving the block closes with 1000 (unless closed), waits for the endpoint
    to return, and re-raises its exception (``raise_server_exceptions``).
    """

    __test__ = False

    def __init__(self, transport: _EngineTransport, request: httpx.Request) -> None:
        self._transport = transport
        self._request = request
        self._portal: _LoopThread | None = None
        self._own_engine: _Engine | None = None
        self._core: _WebSocketCore | None = None
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []

    def _call(self, coro: Awaitable[T]) -> T:
        assert self._portal is not None
        return self._portal.call(coro)

    def __enter__(self) -> WebSocketTestSession:
        transport = self._transport
        if transport._portal is not None and transport._engine is not None:
            self._portal, engine = transport._portal, transport._engine
        else:  # outside a `with client:` block: a loop and an engine for this session
            self._portal = _LoopThread()
            engine = self._own_engine = self._call(_make_engine(transport.app, transport.client))
        core = self._core = _WebSocketCore(engine, self._request)
        try:
            reader = self._call(core.open())
        except BaseException:
            self._release()
            raise
        if reader.status != 101:
            self._release()
            exc = core.exchange.exception
            if exc is not None and transport.raise_server_exceptions:
                raise exc
            raise _refused(reader, self._request)
        self.accepted_subprotocol = core.subprotocol
        self.extra_headers = core.headers
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            error = self._call(self._core.finish()) if self._core else None  # type: ignore
        finally:
            self._release()
        if error is not None and self._transport.raise_server_exceptions and exc_info[0] is None:
            raise error

    def _release(self) -> None:
        portal, engine = self._portal, self._own_engine
        self._own_engine = None
        if engine is not None and portal is not None:
            try:
                portal.call(_close_engine(engine, lifespan=False))
            finally:
                portal.close()

    # -- sending --

    def send(self, message: dict[str, Any]) -> None:
        """``websocket.receive`` (``text`` or ``bytes``) or ``websocket.disconnect``."""
        opcode, payload = _outgoing(message)
        if opcode is None:
            self.close(*payload)  # type: ignore[misc]
        else:
            self._call(self._core.send(opcode, payload))  # type: ignore[union-attr, arg-type]

    def send_text(self, data: str) -> None:
        self._call(self._core.send(OP_TEXT, data.encode()))  # type: ignore[union-attr]

    def send_bytes(self, data: bytes) -> None:
        self._call(self._core.send(OP_BINARY, bytes(data)))  # type: ignore[union-attr]

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._call(self._core.send(*_json_payload(data, mode)))  # type: ignore[union-attr]

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        self._call(self._core.close(code, reason or ""))  # type: ignore[union-attr]

    # -- receiving --

    def receive(self) -> dict[str, Any]:
        """What the endpoint sent next: ``websocket.send`` (``text``/``bytes``) or
        ``websocket.close`` (``code``, ``reason``)."""
        event = self._call(self._core.next_event())  # type: ignore[union-attr]
        if event[0] == "close":
            self._raise_server_exception()
        return _message(event)

    def _raise_server_exception(self) -> None:
        core = self._core
        if core is not None and self._transport.raise_server_exceptions:
            self._call(core.finish())
            exc = core.exchange.exception
            if exc is not None:
                core.exchange.exception = None
                raise exc

    def receive_text(self) -> str:
        return _data(self.receive(), "text")

    def receive_bytes(self) -> bytes:
        return _data(self.receive(), "bytes")

    def receive_json(self, mode: str = "text") -> Any:
        if mode not in ("text", "binary"):
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        data = _data(self.receive(), mode if mode == "text" else "bytes")
        return _json_decode(data)


class AsyncWebSocketTestSession:
    """``async with client.websocket_connect("/ws") as ws:`` on an ``AsyncTestClient``:
    the same methods as ``WebSocketTestSession``, awaited."""

    __test__ = False

    def __init__(self, transport: _AsyncEngineTransport, request: httpx.Request) -> None:
        self._transport = transport
        self._request = request
        self._own_engine: _Engine | None = None
        self._core: _WebSocketCore | None = None
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []

    async def __aenter__(self) -> AsyncWebSocketTestSession:
        transport = self._transport
        engine = transport._engine
        if engine is None:
            engine = self._own_engine = _Engine(transport.app, transport.client)
        core = self._core = _WebSocketCore(engine, self._request)
        try:
            reader = await core.open()
        except BaseException:
            self._release()
            raise
        if reader.status != 101:
            self._release()
            exc = core.exchange.exception
            if exc is not None and transport.raise_server_exceptions:
                raise exc
            raise _refused(reader, self._request)
        self.accepted_subprotocol = core.subprotocol
        self.extra_headers = core.headers
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            error = await self._core.finish() if self._core else None
        finally:
            self._release()
        if error is not None and self._transport.raise_server_exceptions and exc_info[0] is None:
            raise error

    def _release(self) -> None:
        engine, self._own_engine = self._own_engine, None
        if engine is not None:
            engine.close()

    async def send(self, message: dict[str, Any]) -> None:
        opcode, payload = _outgoing(message)
        if opcode is None:
            await self.close(*payload)  # type: ignore[misc]
        else:
            await self._core.send(opcode, payload)  # type: ignore[union-attr, arg-type]

    async def send_text(self, data: str) -> None:
        await self._core.send(OP_TEXT, data.encode())  # type: ignore[union-attr]

    async def send_bytes(self, data: bytes) -> None:
        await self._core.send(OP_BINARY, bytes(data))  # type: ignore[union-attr]

    async def send_json(self, data: Any, mode: str = "text") -> None:
        await self._core.send(*_json_payload(data, mode))  # type: ignore[union-attr]

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self._core.close(code, reason or "")  # type: ignore[union-attr]

    async def receive(self) -> dict[str, Any]:
        core = self._core
        event = await core.next_event()  # type: ignore[union-attr]
        if event[0] == "close" and self._transport.raise_server_exceptions:
            await core.finish()  # type: ignore[union-attr]
            exc = core.exchange.exception  # type: ignore[union-attr]
            if exc is not None:
                core.exchange.exception = None  # type: ignore[union-attr]
                raise exc
        return _message(event)

    async def receive_text(self) -> str:
        return _data(await self.receive(), "text")

    async def receive_bytes(self) -> bytes:
        return _data(await self.receive(), "bytes")

    async def receive_json(self, mode: str = "text") -> Any:
        if mode not in ("text", "binary"):
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        return _json_decode(_data(await self.receive(), mode if mode == "text" else "bytes"))
