"""ASGI middleware classes around a Pronghorn app: ``app.add_middleware(Cls, **options)``.

Owns: running a request through a stack of ASGI middleware (Starlette's
CORS, GZip, TrustedHost, Session... or any ``Cls(app, **options)``) whose
innermost ASGI app is the Pronghorn app's own dispatch (function
middleware, routing, handlers, exception handling). The stack is served
by the engine's ASGI bridge (``asgi.ASGIHandler``); the innermost app
(``_Endpoint``):

- gives the handler the engine request, updated with what the middleware
  changed in the scope (``client``, ``scheme``, ``root_path``, ``headers``,
  ``state``; ``request.scope`` is the scope itself, for ``session``,
  ``user``, ``auth``...), and its body through the middleware's
  ``receive``;
- sends the handler's response through the middleware's ``send``,
  including streamed and file bodies (``_Sender`` turns the engine's
  ``_start/_write/_sendfile/_end`` into ASGI messages), then runs its
  background tasks.

Invariants: an app without ASGI middleware never comes here (the engine's
C router or ``Pronghorn._handle`` serve it); routing uses the request path
as received (a middleware rewriting ``scope["path"]`` does not re-route).

Must not know about: HTTP syntax or sockets (the engine's), routing.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Awaitable, Callable
from typing import Any

from pronghorn.asgi import ASGIHandler
from pronghorn.datastructures import Address, Headers, State
from pronghorn.responses import Response

__all__ = ["asgi_dispatch"]

Middleware = tuple[type, tuple[Any, ...], dict[str, Any]]
_FILE_CHUNK = 1 << 16
_NO_LENGTH = (204, 304)

# The engine request the stack is serving (middleware may run the app in another task:
# it inherits a copy of this context).
_current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("pronghorn.asgi_request")


def asgi_dispatch(app: Any, middleware: list[Middleware],
                  inner: Callable[[Any], Any]) -> Callable[[Any], Awaitable[None]]:
    """The app's per-request dispatch through ``middleware`` (outermost first) around ``inner``."""
    stack: Any = _Endpoint(inner)
    for cls, args, options in reversed(middleware):
        stack = cls(stack, *args, **options)

    async def dispatch(request: Any) -> None:
        token = _current_request.set(request)
        try:
            await ASGIHandler(stack, state=app.lifespan_state).run(
                request, request.root_path or None)
        finally:
            _current_request.reset(token)

    return dispatch


class _Endpoint:
    """The innermost ASGI app: the Pronghorn dispatch for the request the stack serves."""

    def __init__(self, dispatch: Callable[[Any], Any]) -> None:
        self.dispatch = dispatch

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = _current_request.get()
        _apply_scope(request, scope, receive)
        response = self.dispatch(request)
        if hasattr(response, "__await__"):
            response = await response
        await send_response(response, request, send)
        background = response.background
        if background is not None:
            result = background()
            if hasattr(result, "__await__"):
                await result


def _apply_scope(request: Any, scope: dict[str, Any], receive: Any) -> None:
    """Make what the middleware changed in the scope visible on the engine request."""
    values = request.__dict__
    values["scope"] = scope
    client = scope.get("client")
    if client is not None and tuple(client) != tuple(request.client or ()):
        values["client"] = Address(*client)
    scheme = scope.get("scheme")
    if scheme and scheme != request.scheme:
        request.scheme = scheme
        values.pop("url", None)
        values.pop("base_url", None)
    if scope.get("root_path"):
        values["root_path"] = scope["root_path"]
    headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", ())]
    if headers != request.raw_headers:
        values["headers"] = Headers(raw=headers)
    state = scope.get("state")
    if state:
        values["state"] = State(dict(state))
    values["_read"] = _BodyReader(receive).read


class _BodyReader:
    """``Request._read`` from an ASGI ``receive``: bytes, b"" at the end, or an awaitable
    after which to call again (the engine primitive's contract)."""

    __slots__ = ("receive", "pending", "done")

    def __init__(self, receive: Any) -> None:
        self.receive = receive
        self.pending: list[bytes] = []
        self.done = False

    def read(self) -> Any:
        if self.pending:
            return self.pending.pop(0)
        if self.done:
            return b""
        return self._fill()

    async def _fill(self) -> None:
        message = await self.receive()
        if message["type"] == "http.disconnect":
            from pronghorn.requests import ClientDisconnect

            self.done = True
            raise ClientDisconnect("client disconnected")
        body = message.get("body", b"")
        if body:
            self.pending.append(body)
        if not message.get("more_body", False):
            self.done = True


async def send_response(response: Response, request: Any, send: Any) -> None:
    """Send a Pronghorn response as ASGI messages."""
    if response._streaming:
        sender = _Sender(request, send)
        await response._stream(sender)  # type: ignore[attr-defined]
        await sender.finish()
        return
    status, body = response.status_code, response.body
    headers = list(response.raw_headers)
    if status not in _NO_LENGTH:
        headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Sender:
    """The engine's streaming primitives, as a response's ``_stream`` calls them, over ASGI
    ``send``: ``_start`` and ``_end`` only record, ``_write``/``_sendfile`` return
    awaitables that send."""

    def __init__(self, request: Any, send: Any) -> None:
        self.request = request
        self.send = send
        self.start: dict[str, Any] | None = None
        self.started = False

    def __getattr__(self, name: str) -> Any:  # headers, method... of the request
        return getattr(self.request, name)

    def _start(self, status: int, headers: list[tuple[bytes, bytes]], length: int = -1) -> None:
        headers = list(headers)
        if length >= 0 and status not in _NO_LENGTH:
            headers.append((b"content-length", b"%d" % length))
        self.start = {"type": "http.response.start", "status": status, "headers": headers}

    async def _send_start(self) -> None:
        if not self.started:
            if self.start is None:
                raise RuntimeError("response body written before its start")
            self.started = True
            await self.send(self.start)

    async def _send_body(self, data: bytes) -> None:
        await self._send_start()
        if data:
            await self.send({"type": "http.response.body", "body": bytes(data),
                             "more_body": True})

    def _write(self, data: bytes) -> Awaitable[None]:
        return self._send_body(data)

    async def _sendfile_async(self, fd: int, offset: int, count: int) -> None:
        while count > 0:
            data = os.pread(fd, min(count, _FILE_CHUNK), offset)
            if not data:
                raise RuntimeError("the file is shorter than its declared length")
            await self._send_body(data)
            offset += len(data)
            count -= len(data)

    def _sendfile(self, fd: int, offset: int, count: int) -> Awaitable[None]:
        return self._sendfile_async(fd, offset, count)

    def _end(self) -> None:
        pass  # finish() sends the last message once _stream returned

    async def finish(self) -> None:
        await self._send_start()
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})
