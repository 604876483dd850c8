"""WebSocket connections as handlers see them: the Starlette-shaped ``WebSocket``.

Owns: ``WebSocket`` (what a ``@app.websocket`` endpoint receives),
``WebSocketState``, ``WebSocketDisconnect``, ``WebSocketException``,
``WebSocketRequestValidationError``, the default accept options
(``WebSocketOptions``) and ``SyncWebSocket``, the blocking view a ``def``
endpoint uses from the thread pool.

The protocol itself is the engine's: ``request._ws_accept`` writes the 101
and returns a ``_core.WebSocketSession`` that frames, validates, answers
pings and runs the close handshake. This module keeps the two state
machines Starlette exposes (``client_state``: what the peer did,
``application_state``: what the handler did) and turns the session's
items (``str``, ``bytes``, ``(code, reason)``) into messages and exceptions.

Invariants: the engine checked the opening handshake before the endpoint
runs; nothing is sent after a close frame (the session refuses it); a
handler that never accepts is answered with an HTTP response (403 unless it
sent its own with ``send_denial_response``).

Must not know about: routing, frames or sockets.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import msgspec

from pronghorn.datastructures import URL, Address, Headers, QueryParams, State
from pronghorn.requests import ClientDisconnect
from pronghorn.responses import Response, _json_encode

__all__ = ["SyncWebSocket", "WebSocket", "WebSocketDisconnect", "WebSocketDisconnected",
           "WebSocketException", "WebSocketOptions", "WebSocketRequestValidationError",
           "WebSocketState"]

_json_decode = msgspec.json.decode


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


class WebSocketDisconnect(Exception):
    """The peer closed the connection (or it dropped: code 1006)."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        super().__init__(code, reason or "")
        self.code = code
        self.reason = reason or ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketDisconnected(RuntimeError):
    """The WebSocket was used in a state that does not allow it (after close, before accept)."""


class WebSocketException(Exception):
    """Raise in a websocket endpoint to close the connection with ``code`` (403 before accept)."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(code, reason or "")
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketRequestValidationError(ValueError):
    """The path, query, header or cookie parameters of a websocket endpoint are invalid:
    the connection is closed with 1008 (403 before accept), as in FastAPI."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


class WebSocketOptions(msgspec.Struct, kw_only=True, frozen=True):
    """How the engine runs an accepted session (``@app.websocket(path, **options)``).

    ``max_message_size``: bytes of one message after decompression (1009
    beyond); ``max_queue``: received messages held before the engine stops
    reading the socket; ``compression``: agree to permessage-deflate when the
    client offers it; ``ping_interval``/``ping_timeout``: server pings and
    how long a pong may take (0 disables); ``close_timeout``: how long the
    close handshake may take before the connection is dropped.
    """

    max_message_size: int = 16 * 1024 * 1024
    max_queue: int = 32
    compression: bool = True
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    close_timeout: float = 10.0

    def accept_kwargs(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


DEFAULT_OPTIONS = WebSocketOptions()

_CONNECT = {"type": "websocket.connect"}
_CONNECTING, _CONNECTED, _DISCONNECTED, _RESPONSE = (
    WebSocketState.CONNECTING, WebSocketState.CONNECTED, WebSocketState.DISCONNECTED,
    WebSocketState.RESPONSE)


def _header_pairs(headers: Iterable[tuple[Any, Any]] | None) -> list[tuple[bytes, bytes]]:
    pairs = []
    for name, value in headers or ():
        if isinstance(name, str):
            name = name.encode("latin-1")
        if isinstance(value, str):
            value = value.encode("latin-1")
        pairs.append((bytes(name).lower(), bytes(value)))
    return pairs


class WebSocket:
    """A WebSocket connection, as ``starlette.websockets.WebSocket``.

    The HTTP side of the opening request is the request's: ``headers``,
    ``query_params``, ``cookies``, ``url`` (``ws://`` or ``wss://``),
    ``path_params``, ``client``, ``state``, ``app``. Then ``accept()``, and
    ``receive_text/bytes/json``, ``send_text/bytes/json``, ``iter_*``,
    ``close()``. ``receive()`` and ``send()`` speak ASGI-shaped messages.
    """

    def __init__(self, request: Any, options: WebSocketOptions = DEFAULT_OPTIONS) -> None:
        self.request = request
        self.options = options
        self.session: Any = None
        self.client_state = _CONNECTING
        self.application_state = _CONNECTING
        self._response: Response | None = None  # a denial response being sent
        self._denial_status = 0
        self._denial_headers: list[tuple[bytes, bytes]] = []
        self._denial_body: list[bytes] = []

    # ---- the opening request ------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def query_params(self) -> QueryParams:
        return self.request.query_params

    @property
    def cookies(self) -> dict[str, str]:
        return self.request.cookies

    @property
    def path_params(self) -> dict[str, Any]:
        return self.request.path_params

    @property
    def client(self) -> Address | None:
        return self.request.client

    @property
    def state(self) -> State:
        return self.request.state

    @property
    def app(self) -> Any:
        return self.request.app

    @property
    def scheme(self) -> str:
        scheme = self.request.scheme
        return {"http": "ws", "https": "wss"}.get(scheme, scheme)

    @property
    def url(self) -> URL:
        url = self.request.url
        return url.replace(scheme=self.scheme)

    @property
    def base_url(self) -> URL:
        return self.request.base_url.replace(scheme=self.scheme)

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        return self.request.url_for(name, **path_params)

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered (Sec-WebSocket-Protocol), in its order."""
        return self.request._ws_subprotocols()

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol accepted, once accepted."""
        return None if self.session is None else self.session.subprotocol

    # ---- handshake ------------------------------------------------------------------------

    async def accept(self, subprotocol: str | None = None,
                     headers: Iterable[tuple[bytes, bytes]] | None = None) -> None:
        """Complete the opening handshake (101), optionally with a subprotocol and headers."""
        if self.client_state is _CONNECTING:
            self.client_state = _CONNECTED  # the connect message, as if received
        if self.application_state is not _CONNECTING:
            raise RuntimeError(
                'Expected ASGI message "websocket.accept", "websocket.close" or '
                '"websocket.http.response.start", but the WebSocket was already '
                f"{self.application_state.name.lower()}")
        self.session = self.request._ws_accept(subprotocol, _header_pairs(headers),
                                               **self.options.accept_kwargs())
        self.application_state = _CONNECTED

    async def send_denial_response(self, response: Response) -> None:
        """Refuse the connection with this HTTP response instead of accepting it."""
        if self.application_state is not _CONNECTING:
            raise RuntimeError("send_denial_response() must come before accept() or close()")
        self.application_state = _DISCONNECTED
        await self._write_response(response)

    async def _write_response(self, response: Response) -> None:
        request = self.request
        if getattr(response, "_streaming", False):
            await response._stream(request)  # type: ignore[attr-defined]
        else:
            body = response.body
            request._start(response.status_code, response.raw_headers, len(body))
            if body:
                waiter = request._write(body)
                if waiter is not None:
                    await waiter
            request._end()
        background = response.background
        if background is not None:
            asyncio.ensure_future(background())

    # ---- receiving ------------------------------------------------------------------------

    async def _item(self) -> Any:
        """The next item of the session: str, bytes or (code, reason)."""
        if self.application_state is _CONNECTING or self.session is None:
            raise WebSocketDisconnected('WebSocket is not connected. Need to call "accept" first.')
        if self.client_state is _DISCONNECTED:
            raise WebSocketDisconnected(
                'Cannot call "receive" once a disconnect message has been received.')
        receive = self.session.receive
        item = receive()
        while item.__class__ is not str and item.__class__ is not bytes:
            if item.__class__ is tuple:
                self.client_state = _DISCONNECTED
                return item
            await item
            item = receive()
        return item

    async def receive(self) -> dict[str, Any]:
        """The next ASGI-shaped message: ``websocket.connect`` first (before accept), then
        ``websocket.receive`` (``text`` or ``bytes``) and ``websocket.disconnect``."""
        if self.client_state is _CONNECTING:
            self.client_state = _CONNECTED
            return dict(_CONNECT)
        if self.application_state is _CONNECTING and self.client_state is _CONNECTED:
            # Not accepted yet: nothing can arrive but the client going away.
            waiter = self.request._disconnected()
            if waiter is not None:
                await waiter
            self.client_state = _DISCONNECTED
            return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        item = await self._item()
        if item.__class__ is str:
            return {"type": "websocket.receive", "text": item}
        if item.__class__ is bytes:
            return {"type": "websocket.receive", "bytes": item}
        return {"type": "websocket.disconnect", "code": item[0], "reason": item[1]}

    async def receive_text(self) -> str:
        item = await self._item()
        if item.__class__ is str:
            return item
        if item.__class__ is tuple:
            raise WebSocketDisconnect(item[0], item[1])
        raise RuntimeError("expected a text message, got a binary one")

    async def receive_bytes(self) -> bytes:
        item = await self._item()
        if item.__class__ is bytes:
            return item
        if item.__class__ is tuple:
            raise WebSocketDisconnect(item[0], item[1])
        raise RuntimeError("expected a binary message, got a text one")

    async def receive_json(self, mode: str = "text") -> Any:
        """The next message decoded as JSON; ``mode="binary"`` for JSON in binary messages."""
        if mode not in ("text", "binary"):
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        item = await self._item()
        if item.__class__ is tuple:
            raise WebSocketDisconnect(item[0], item[1])
        if (item.__class__ is str) != (mode == "text"):
            raise RuntimeError(f"expected a {mode} message")
        return _json_decode(item)

    async def iter_text(self) -> AsyncIterator[str]:
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    # ---- sending --------------------------------------------------------------------------

    async def _send(self, data: str | bytes) -> None:
        if self.application_state is not _CONNECTED:
            if self.application_state is _CONNECTING:
                raise WebSocketDisconnected(
                    'WebSocket is not connected. Need to call "accept" first.')
            raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')
        try:
            waiter = self.session.send(data)
            if waiter is not None:
                await waiter
        except ClientDisconnect:
            self.application_state = _DISCONNECTED
            raise WebSocketDisconnect(self.session.close_code or 1006) from None

    async def send_text(self, data: str) -> None:
        await self._send(data if data.__class__ is str else str(data))

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data if data.__class__ is bytes else bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` encoded as JSON (compact, UTF-8) in a text (or binary) message."""
        if mode not in ("text", "binary"):
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        encoded = _json_encode(data)
        await self._send(encoded.decode() if mode == "text" else encoded)

    async def send(self, message: dict[str, Any]) -> None:
        """Send an ASGI-shaped message: ``websocket.accept``, ``websocket.send``,
        ``websocket.close``, ``websocket.http.response.start/body``."""
        kind = message["type"]
        if kind == "websocket.send":
            data = message.get("bytes")
            await self._send(message.get("text") if data is None else data)
        elif kind == "websocket.accept":
            await self.accept(message.get("subprotocol"), message.get("headers"))
        elif kind == "websocket.close":
            await self.close(message.get("code", 1000), message.get("reason"))
        elif kind == "websocket.http.response.start":
            if self.application_state is not _CONNECTING:
                raise RuntimeError("websocket.http.response.start must come before accept")
            self.application_state = _RESPONSE
            self._denial_status = message["status"]
            self._denial_headers = _header_pairs(message.get("headers"))
        elif kind == "websocket.http.response.body":
            if self.application_state is not _RESPONSE:
                raise RuntimeError("websocket.http.response.body before its start message")
            self._denial_body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.application_state = _DISCONNECTED
                response = Response(b"".join(self._denial_body), self._denial_status)
                response.raw_headers = self._denial_headers
                await self._write_response(response)
        else:
            raise RuntimeError(f"unexpected ASGI message type {kind!r}")

    async def ping(self, data: bytes = b"") -> None:
        """Send a ping (the engine also pings by itself every ``ping_interval``)."""
        if self.session is None or self.application_state is not _CONNECTED:
            raise WebSocketDisconnected("WebSocket is not connected")
        self.session.ping(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close with ``code``; before accept, refuse the connection (403)."""
        state = self.application_state
        if state is _CONNECTING:
            self.application_state = _DISCONNECTED
            self.client_state = _DISCONNECTED
            await self._write_response(Response(b"", 403))
            return
        if state is not _CONNECTED:
            raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')
        self.session.close(code, reason or "")  # ValueError for a code that cannot be sent
        self.application_state = _DISCONNECTED

    def __repr__(self) -> str:
        return (f"<WebSocket {self.request.path} client={self.client_state.name} "
                f"app={self.application_state.name}>")


class SyncWebSocket:
    """The blocking view of a ``WebSocket`` for ``def`` endpoints (run in the thread pool):
    the same attributes, and methods that wait for the event loop to do the work."""

    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self._websocket = websocket
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def accept(self, subprotocol: str | None = None,
               headers: Iterable[tuple[bytes, bytes]] | None = None) -> None:
        self._run(self._websocket.accept(subprotocol, headers))

    def receive(self) -> dict[str, Any]:
        return self._run(self._websocket.receive())

    def receive_text(self) -> str:
        return self._run(self._websocket.receive_text())

    def receive_bytes(self) -> bytes:
        return self._run(self._websocket.receive_bytes())

    def receive_json(self, mode: str = "text") -> Any:
        return self._run(self._websocket.receive_json(mode))

    def iter_text(self) -> Iterator[str]:
        try:
            while True:
                yield self.receive_text()
        except WebSocketDisconnect:
            pass

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            while True:
                yield self.receive_bytes()
        except WebSocketDisconnect:
            pass

    def iter_json(self) -> Iterator[Any]:
        try:
            while True:
                yield self.receive_json()
        except WebSocketDisconnect:
            pass

    def send(self, message: dict[str, Any]) -> None:
        self._run(self._websocket.send(message))

    def send_text(self, data: str) -> None:
        self._run(self._websocket.send_text(data))

    def send_bytes(self, data: bytes) -> None:
        self._run(self._websocket.send_bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._run(self._websocket.send_json(data, mode))

    def send_denial_response(self, response: Response) -> None:
        self._run(self._websocket.send_denial_response(response))

    def ping(self, data: bytes = b"") -> None:
        self._run(self._websocket.ping(data))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        self._run(self._websocket.close(code, reason))

    def __repr__(self) -> str:
        return f"<SyncWebSocket {self._websocket!r}>"
