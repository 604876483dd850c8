"""A Pronghorn app as an ASGI 3.0 application (``uvicorn module:app`` works).

Owns: ``ASGIAdapter``, which serves ASGI ``http`` and ``lifespan`` scopes
through the app's own C engine, in memory: the scope and body become
HTTP/1.1 bytes fed to a ``memory_connection`` (the same parser, router,
handlers and response writer as ``pronghorn run``), and what the engine
writes is relayed as ``http.response.*`` messages as it is produced, so
streaming responses stream. There is no second dispatch path.

Invariants: one memory connection per request, closed when the response is
complete or the client disconnects; request bodies are fed as they are
received (chunked framing when the length is unknown).

Must not know about: routing or handlers (the engine's).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

from pronghorn import _core
from pronghorn._wire import ResponseReader

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
