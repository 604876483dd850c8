"""The test clients' WebSocket sessions (``client.websocket_connect``), over the engine in memory.

Owns: the upgrade request; ``WebSocketCore``, one WebSocket on a memory
connection driven on the engine's loop (masked client frames built with
``_wire.ws_frame``, the engine's frames read back by
``_wire.WebSocketReader``, pings answered, the close handshake); the
Starlette-shaped ``WebSocketTestSession`` and ``AsyncWebSocketTestSession``
over it; ``WebSocketDenialResponse`` when the upgrade is answered with
anything but a 101.

Invariants: the upgrade request goes through the engine's parser and
dispatch like any request; the engine's session does all server-side
framing, validation and the close handshake; the sync and async sessions
are thin adapters over the same ``WebSocketCore``. A handler's exception
is raised in the test's thread, never on the engine's loop.

Must not know about: routing or handler signatures (the app's job).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import os
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import httpx
import msgspec

from pronghorn._testclient_engine import (
    AppHost,
    Engine,
    Exchange,
    LoopThread,
    WholeResponse,
    read_response,
    request_head,
)
from pronghorn._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_PONG,
    OP_TEXT,
    WebSocketReader,
    ws_close_payload,
    ws_frame,
)
from pronghorn.responses import _json_encode
from pronghorn.websockets import WebSocketDisconnect

T = TypeVar("T")

_json_decode = msgspec.json.decode
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


def upgrade_request(client: httpx.Client | httpx.AsyncClient, url: str,
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


class WebSocketCore:
    """One WebSocket over a memory connection, driven on the engine's loop: the client's
    running engine, or (outside a ``with`` block) an engine of its own."""

    def __init__(self, host: AppHost, request: httpx.Request) -> None:
        self.host = host
        self.request = request
        self.own_engine: Engine | None = None
        self.exchange = Exchange()
        self.conn: Any = None
        self.frames = WebSocketReader()
        self.pending: collections.deque[tuple] = collections.deque()
        self.close_sent = False
        self.closed: tuple | None = None  # ("close", code, reason) once the session ended
        self.subprotocol: str | None = None
        self.headers: list[tuple[bytes, bytes]] = []

    async def open(self) -> WholeResponse:
        """Send the upgrade request; the response (101, or the refusal)."""
        engine = self.host.engine
        if engine is None:
            engine = self.own_engine = self.host.new_engine()
        self.conn = engine.connect(self.request.url, self.exchange, request_head(self.request))
        response = await read_response(self.conn, "GET")
        if response.status != 101:
            await self._end(wait=True)
            return response
        fields = {name.lower(): value for name, value in response.headers}
        protocol = fields.get(b"sec-websocket-protocol")
        self.subprotocol = None if protocol is None else protocol.decode("latin-1")
        self.headers = response.headers
        self._absorb(response.buffer)
        return response

    async def release(self) -> None:
        """Close the engine of its own, if it has one."""
        engine, self.own_engine = self.own_engine, None
        if engine is not None:
            engine.close()

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

    async def receive(self) -> tuple[dict[str, Any], BaseException | None]:
        """The next message as Starlette's test session gives it; at the close (with
        ``raise_server_exceptions``) also the endpoint's exception, handed over once."""
        event = await self.next_event()
        error = None
        if event[0] == "close" and self.host.raise_server_exceptions:
            error = await self.finish()
            self.exchange.exception = None
        return _message(event), error

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


def _json_key(mode: str) -> str:
    """The message key a JSON ``mode`` travels in."""
    if mode not in ("text", "binary"):
        raise RuntimeError('The "mode" argument should be "text" or "binary".')
    return "text" if mode == "text" else "bytes"


def _json_payload(data: Any, mode: str) -> tuple[int, bytes]:
    return (OP_TEXT if _json_key(mode) == "text" else OP_BINARY), _json_encode(data)


class _Session:
    """What both sessions share: the core, and the handshake's outcome."""

    __test__ = False  # not a pytest test class

    def __init__(self, transport: Any, request: httpx.Request) -> None:
        self._transport = transport
        self._request = request
        self._core = WebSocketCore(transport.host, request)
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []

    def _accept(self, response: WholeResponse) -> None:
        """Take the 101; else raise the endpoint's exception (``raise_server_exceptions``)
        or the ``WebSocketDenialResponse``."""
        core = self._core
        if response.status != 101:
            exc = core.exchange.exception
            if exc is not None and core.host.raise_server_exceptions:
                raise exc
            raise WebSocketDenialResponse(response.status, response.headers, response.body,
                                          self._request)
        self.accepted_subprotocol = core.subprotocol
        self.extra_headers = core.headers

    def _reraise(self, error: BaseException | None, exc_info: tuple) -> None:
        if error is not None and self._core.host.raise_server_exceptions and exc_info[0] is None:
            raise error


class WebSocketTestSession(_Session):
    """A WebSocket to the app (``with client.websocket_connect("/ws") as ws:``).

    ``send_text/bytes/json`` and ``receive_text/bytes/json`` as Starlette's test
    session; ``receive_*`` raise ``WebSocketDisconnect`` once the server closed.
    Leaving the block closes with 1000 (unless closed), waits for the endpoint
    to return, and re-raises its exception (``raise_server_exceptions``).
    """

    def __init__(self, transport: Any, request: httpx.Request) -> None:
        super().__init__(transport, request)
        self._portal: LoopThread | None = None
        self._own_portal: LoopThread | None = None

    def _call(self, coro: Awaitable[T]) -> T:
        assert self._portal is not None
        return self._portal.call(coro)

    def __enter__(self) -> WebSocketTestSession:
        self._portal = self._transport.portal
        if self._portal is None:  # outside a `with client:` block: a loop for this session
            self._portal = self._own_portal = LoopThread()
        try:
            self._accept(self._call(self._core.open()))
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            error = self._call(self._core.finish())
        finally:
            self._release()
        self._reraise(error, exc_info)

    def _release(self) -> None:
        portal, self._own_portal = self._own_portal, None
        if portal is not None:
            portal.call_and_close(self._core.release())

    # -- sending --

    def send(self, message: dict[str, Any]) -> None:
        """``websocket.receive`` (``text`` or ``bytes``) or ``websocket.disconnect``."""
        opcode, payload = _outgoing(message)
        if opcode is None:
            self.close(*payload)  # type: ignore[misc]
        else:
            self._call(self._core.send(opcode, payload))  # type: ignore[arg-type]

    def send_text(self, data: str) -> None:
        self._call(self._core.send(OP_TEXT, data.encode()))

    def send_bytes(self, data: bytes) -> None:
        self._call(self._core.send(OP_BINARY, bytes(data)))

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._call(self._core.send(*_json_payload(data, mode)))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        self._call(self._core.close(code, reason or ""))

    # -- receiving --

    def receive(self) -> dict[str, Any]:
        """What the endpoint sent next: ``websocket.send`` (``text``/``bytes``) or
        ``websocket.close`` (``code``, ``reason``)."""
        message, error = self._call(self._core.receive())
        if error is not None:
            raise error
        return message

    def receive_text(self) -> str:
        return _data(self.receive(), "text")

    def receive_bytes(self) -> bytes:
        return _data(self.receive(), "bytes")

    def receive_json(self, mode: str = "text") -> Any:
        key = _json_key(mode)
        return _json_decode(_data(self.receive(), key))


class AsyncWebSocketTestSession(_Session):
    """``async with client.websocket_connect("/ws") as ws:`` on an ``AsyncTestClient``:
    the same methods as ``WebSocketTestSession``, awaited."""

    async def __aenter__(self) -> AsyncWebSocketTestSession:
        try:
            self._accept(await self._core.open())
        except BaseException:
            await self._core.release()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            error = await self._core.finish()
        finally:
            await self._core.release()
        self._reraise(error, exc_info)

    async def send(self, message: dict[str, Any]) -> None:
        opcode, payload = _outgoing(message)
        if opcode is None:
            await self.close(*payload)  # type: ignore[misc]
        else:
            await self._core.send(opcode, payload)  # type: ignore[arg-type]

    async def send_text(self, data: str) -> None:
        await self._core.send(OP_TEXT, data.encode())

    async def send_bytes(self, data: bytes) -> None:
        await self._core.send(OP_BINARY, bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        await self._core.send(*_json_payload(data, mode))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self._core.close(code, reason or "")

    async def receive(self) -> dict[str, Any]:
        message, error = await self._core.receive()
        if error is not None:
            raise error
        return message

    async def receive_text(self) -> str:
        return _data(await self.receive(), "text")

    async def receive_bytes(self) -> bytes:
        return _data(await self.receive(), "bytes")

    async def receive_json(self, mode: str = "text") -> Any:
        key = _json_key(mode)
        return _json_decode(_data(await self.receive(), key))
