"""A Pronghorn app as an ASGI 3.0 application (``uvicorn module:app`` works).

Owns: ``ASGIAdapter``, which serves ASGI ``http`` and ``lifespan`` scopes
through the app's own C engine, in memory: the scope and body become
HTTP/1.1 bytes fed to a ``memory_connection`` (the same parser, router,
handlers and response writer as ``pronghorn run``), and what the engine
writes is relayed as ``http.response.*`` messages as it is produced, so
streaming responses stream. There is no second dispatch path.

``websocket`` scopes go the same way: the upgrade request is fed to the
engine, its 101 becomes ``websocket.accept`` (any other answer the
``websocket.http.response`` denial, or ``websocket.close`` when the server
lacks that extension), and then messages are relayed both ways as frames
on the memory connection (client frames built and server frames read by
``_wire``; no extension is offered there, so nothing is compressed twice).
The engine's session does the protocol; the ASGI server does its own with
the real client.

Invariants: one memory connection per request, closed when the response is
complete or the client disconnects; request bodies are fed as they are
received (chunked framing when the length is unknown).

Must not know about: routing or handlers (the engine's).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from typing import Any
from urllib.parse import quote

from pronghorn import _core
from pronghorn._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_PONG,
    OP_TEXT,
    ResponseReader,
    WebSocketReader,
    ws_close_payload,
    ws_frame,
)

__all__ = ["ASGIAdapter"]

logger = logging.getLogger("pronghorn.error")

_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


def _request_head(scope: dict[str, Any], framing: bytes | None) -> bytes:
    root = scope.get("root_path", "")
    raw = scope.get("raw_path")
    if raw is None:
        raw = quote(scope["path"]).encode("ascii")
    if root:
        # raw_path includes root_path (uvicorn, hypercorn, Starlette's Mount); the app's own
        # routes start after it. Only a whole leading segment run is root_path.
        prefix = quote(root).encode("ascii")
        if raw == prefix or raw.startswith(prefix + b"/"):
            raw = raw[len(prefix):] or b"/"
    target = raw + (b"?" + scope["query_string"] if scope.get("query_string") else b"")
    lines = [scope["method"].encode("ascii") + b" " + target + b" HTTP/1.1"]
    has_host = False
    for name, value in scope.get("headers", ()):
        name = bytes(name).lower()
        if name in (b"transfer-encoding", b"content-length", b"connection", b"expect"):
            continue  # the framing of this hop is ours
        has_host |= name == b"host"
        lines.append(name + b": " + bytes(value))
    if not has_host:
        server = scope.get("server")
        lines.append(b"host: " + (f"{server[0]}:{server[1]}".encode() if server else b"localhost"))
    if framing is not None:
        lines.append(framing)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class ASGIAdapter:
    """The ASGI callable of one Pronghorn app (``Pronghorn.__call__`` delegates here)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._engine: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def engine(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._engine is None or self._loop is not loop:
            self._engine = _core.Server(self.app._handle, **self.app.engine_options())
            self._loop = loop
        return self._engine

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "websocket":
            await self.websocket(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(scope, receive, send)
        else:
            raise RuntimeError(f"unsupported ASGI scope type {kind!r}")

    async def lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.app.startup()
                except Exception as exc:
                    logger.error("Application startup failed", exc_info=exc)
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                state = scope.get("state")
                if state is not None:
                    state.update(self.app.state._state)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        client = scope.get("client")
        server = scope.get("server")
        conn = self.engine().memory_connection(
            client=tuple(client) if client else None,
            server=tuple(server) if server else None,
            scheme="https" if scope.get("scheme") == "wss" else "http")
        try:
            conn.feed(_upgrade_head(scope))
            reader = ResponseReader()
            events = await _answer_head(conn, reader)
            if reader.status == 101:
                await self._relay_websocket(conn, events[0][2], reader.buffer, receive, send)
            else:
                await self._refuse_websocket(conn, scope, reader, events, send)
        finally:
            conn.close()

    async def _relay_websocket(self, conn: Any, headers: list[tuple[bytes, bytes]],
                               rest: bytes, receive: Any, send: Any) -> None:
        subprotocol = next((v.decode("latin-1") for n, v in headers
                            if n == b"sec-websocket-protocol"), None)
        await send({"type": "websocket.accept", "subprotocol": subprotocol,
                    "headers": [(n, v) for n, v in headers if n not in _ACCEPT_OWN]})
        relay = _WebSocketRelay(conn, receive, send)
        inbound = asyncio.ensure_future(relay.inbound())
        try:
            await relay.outbound(rest)
        finally:
            inbound.cancel()

    async def _refuse_websocket(self, conn: Any, scope: dict[str, Any], reader: ResponseReader,
                                events: list[tuple], send: Any) -> None:
        """The engine answered with an HTTP response: the denial, or a plain close."""
        while not reader.complete:
            data = conn.output()
            if data:
                events += reader.feed(data)
            elif conn.closed:
                events += reader.feed_eof()
            else:
                await conn.wait_output()
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        for event in events:
            if event[0] == "head":
                headers = [(n, v) for n, v in event[2] if n != b"date"]
                await send({"type": "websocket.http.response.start", "status": event[1],
                            "headers": headers})
            elif event[0] == "body":
                await send({"type": "websocket.http.response.body", "body": event[1],
                            "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"", "more_body": False})

    async def http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        first = None
        if method in _BODYLESS and not any(bytes(n).lower() in (b"content-length",
                                                                  b"transfer-encoding")
                                           for n, _ in scope.get("headers", ())):
            framing: bytes | None = None
        else:
            first = await receive()
            if first["type"] == "http.disconnect":
                return
            if not first.get("more_body", False):
                framing = b"content-length: %d" % len(first.get("body", b""))
            else:
                framing = b"transfer-encoding: chunked"
        client = scope.get("client")
        server = scope.get("server")
        conn = self.engine().memory_connection(
            client=tuple(client) if client else None,
            server=tuple(server) if server else None,
            scheme=scope.get("scheme", "http"))
        conn.feed(_request_head(scope, framing))
        chunked = framing == b"transfer-encoding: chunked"
        if first is not None:
            body = first.get("body", b"")
            if body:
                conn.feed(b"%x\r\n%s\r\n" % (len(body), body) if chunked else body)
        pump = asyncio.ensure_future(self._pump(conn, receive, chunked=chunked,
                                                done=not chunked))
        try:
            await self._relay(conn, ResponseReader(head_request=method == "HEAD"), send, pump)
        finally:
            pump.cancel()
            conn.close()

    async def _pump(self, conn: Any, receive: Any, *, chunked: bool, done: bool) -> bool:
        """Feed the rest of the body; then wait for the client to go away (returns True)."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                conn.close()
                return True
            if done:
                continue
            body = message.get("body", b"")
            if body:
                conn.feed(b"%x\r\n%s\r\n" % (len(body), body) if chunked else body)
            if not message.get("more_body", False):
                if chunked:
                    conn.feed(b"0\r\n\r\n")
                done = True

    async def _relay(self, conn: Any, reader: ResponseReader, send: Any,
                     pump: asyncio.Future[bool]) -> None:
        while not reader.complete:
            data = conn.output()
            if data:
                events = reader.feed(data)
            elif conn.closed:
                if pump.done() and not pump.cancelled() and pump.result():
                    return  # the client went away: nothing to relay to
                events = reader.feed_eof()
            else:
                await conn.wait_output()
                continue
            last = len(events) - 1
            for i, event in enumerate(events):
                kind = event[0]
                if kind == "body":
                    # The body's last piece carries the end of the response with it.
                    final = i < last and events[i + 1][0] == "end"
                    await send({"type": "http.response.body", "body": event[1],
                                "more_body": not final})
                    if final:
                        return
                elif kind == "head":
                    # The ASGI server writes its own Date header.
                    headers = [(n, v) for n, v in event[2] if n != b"date"]
                    await send({"type": "http.response.start", "status": event[1],
                                "headers": headers})
                else:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})


# ---- websocket scopes ----------------------------------------------------------------------

# Hop-by-hop and handshake fields of the client's request: this hop's are ours.
_UPGRADE_FIELDS = frozenset({b"connection", b"upgrade", b"sec-websocket-key",
                             b"sec-websocket-version", b"sec-websocket-extensions"})
# Fields of the engine's 101 that the ASGI server writes itself.
_ACCEPT_OWN = frozenset({b"upgrade", b"sec-websocket-accept", b"sec-websocket-protocol",
                         b"sec-websocket-extensions", b"date", b"server"})
# Close codes a client may put on the wire (RFC 6455 §7.4): the engine fails others with 1002.
_WIRE_CODES = frozenset([*range(1000, 1004), *range(1007, 1012), *range(3000, 5000)])


def _upgrade_head(scope: dict[str, Any]) -> bytes:
    headers = [(bytes(n).lower(), bytes(v)) for n, v in scope.get("headers", ())]
    key = next((v for n, v in headers if n == b"sec-websocket-key"), None)
    if key is None:
        key = base64.b64encode(os.urandom(16))
    headers = [(n, v) for n, v in headers if n not in _UPGRADE_FIELDS]
    headers += [(b"upgrade", b"websocket"), (b"sec-websocket-key", key),
                (b"sec-websocket-version", b"13")]
    as_http = {**scope, "method": "GET", "headers": headers}
    return _request_head(as_http, b"connection: upgrade")


async def _answer_head(conn: Any, reader: ResponseReader) -> list[tuple]:
    """Feed the engine's answer to the upgrade to ``reader`` until its final head is read
    (after a 101, the first frames stay in ``reader.buffer``); the events so far."""
    events: list[tuple] = []
    while not reader.status:
        data = conn.output()
        if data:
            events += reader.feed(data)
        elif conn.closed:
            raise ConnectionError("the engine closed the connection without answering")
        else:
            await conn.wait_output()
    return events


class _WebSocketRelay:
    """Relays one WebSocket between an ASGI server and the engine's memory connection."""

    def __init__(self, conn: Any, receive: Any, send: Any) -> None:
        self.conn = conn
        self.receive = receive
        self.send = send
        self.frames = WebSocketReader()
        self.close_sent = False  # a close frame was fed to the engine

    def feed(self, opcode: int, payload: bytes) -> None:
        if not self.conn.closed:
            self.conn.feed(ws_frame(opcode, payload))

    def feed_close(self, code: int | None, reason: str = "") -> None:
        if not self.close_sent:
            self.close_sent = True
            if code is not None and code not in _WIRE_CODES:
                code = None
            self.feed(OP_CLOSE, ws_close_payload(code, reason))

    async def inbound(self) -> None:
        """The client's messages to the engine, until the client disconnects."""
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "websocket.receive":
                data = message.get("bytes")
                if data is not None:
                    self.feed(OP_BINARY, bytes(data))
                else:
                    self.feed(OP_TEXT, message.get("text", "").encode())
            elif kind == "websocket.disconnect":
                code = message.get("code", 1005)
                if code == 1006:
                    self.conn.close()
                else:
                    self.feed_close(code, message.get("reason") or "")
                return

    async def outbound(self, data: bytes) -> None:
        """The engine's messages to the client, until the engine closes."""
        conn = self.conn
        while True:
            for event in self.frames.feed(data):
                kind = event[0]
                if kind == "text":
                    await self.send({"type": "websocket.send", "text": event[1]})
                elif kind == "bytes":
                    await self.send({"type": "websocket.send", "bytes": event[1]})
                elif kind == "ping":
                    if not self.close_sent:
                        self.feed(OP_PONG, event[1])
                elif kind == "close":
                    code = 1000 if event[1] == 1005 else event[1]
                    self.feed_close(None if event[1] == 1005 else event[1], "")  # the reply
                    await self.send({"type": "websocket.close", "code": code,
                                     "reason": event[2]})
                    return
            data = conn.output()
            if data:
                continue
            if conn.closed:  # no close frame: the endpoint's session was cut
                await self.send({"type": "websocket.close", "code": 1011, "reason": ""})
                return
            await conn.wait_output()
