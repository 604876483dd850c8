"""Serving ASGI 3.0 applications on the C engine (pronghorn as an ASGI server).

Owns: ``ASGIHandler`` — the engine's per-request handler for an ASGI app:
the HTTP scope (built in C by ``Request._asgi_scope``), ``receive`` and
``send`` over the engine's primitives (``_receive``, ``_start``, ``_write``,
``_sendfile``, ``_end``, ``_disconnected``), and the rules for apps that
break the message order: logged, a 500 when nothing was sent yet, the
connection aborted otherwise. Also the lifespan protocol (``Lifespan``) and
``call_asgi_app`` for ASGI apps mounted in a Pronghorn app.

Invariants: the response head is written when the first body message
arrives, so a single-message body without Content-Length gets one (else
chunked); HEAD, 204 and 304 carry no body (the engine drops it); ``send``
after the client went away raises ``ClientDisconnect`` (an ``OSError``).

Must not know about: sockets or HTTP syntax (the engine's), routing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pronghorn.requests import ClientDisconnect

__all__ = ["ASGIHandler", "Lifespan", "ProxyHeaders", "call_asgi_app"]

logger = logging.getLogger("pronghorn.error")

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]

_DISCONNECT = {"type": "http.disconnect"}


class ASGIProtocolError(RuntimeError):
    """The application sent ASGI messages out of order or malformed."""


def _headers(raw: Iterable[Any]) -> list[tuple[bytes, bytes]]:
    try:
        headers = [(bytes(name).lower(), bytes(value)) for name, value in raw]
    except (TypeError, ValueError):
        raise ASGIProtocolError("response headers must be (bytes, bytes) pairs") from None
    return headers


class _Exchange:
    """receive() and send() of one request."""

    __slots__ = ("request", "status", "headers", "has_length", "started", "head_written",
                 "ended", "body_done")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.started = self.head_written = self.ended = self.body_done = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.has_length = False

    async def receive(self) -> Message:
        request = self.request
        if not self.body_done:
            try:
                got = request._receive()
                while got.__class__ is not tuple:
                    await got
                    got = request._receive()
            except ClientDisconnect:
                self.body_done = True
                return _DISCONNECT
            data, more = got
            if not more:
                self.body_done = True
            return {"type": "http.request", "body": data, "more_body": more}
        waiter = request._disconnected()
        if waiter is not None:
            await waiter
        return _DISCONNECT

    async def send(self, message: Message) -> None:
        kind = message["type"]
        request = self.request
        if kind == "http.response.body":
            if not self.started:
                raise ASGIProtocolError("http.response.body sent before http.response.start")
            if self.ended:
                raise ASGIProtocolError("message sent after the response was complete")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if not self.head_written:
                self.head_written = True
                length = -1 if more or self.has_length else len(body)
                request._start(self.status, self.headers, length)
            waiter = request._write(body) if body else None
            if not more:
                self.ended = True
                request._end()
            elif waiter is not None:
                await waiter
        elif kind == "http.response.start":
            if self.started:
                raise ASGIProtocolError("http.response.start sent twice")
            status = message["status"]
            if status.__class__ is not int or not 100 <= status <= 999:
                raise ASGIProtocolError(f"invalid status code {status!r}")
            self.headers = _headers(message.get("headers", ()))
            self.has_length = any(name == b"content-length" for name, _ in self.headers)
            self.status = status
            self.started = True
        elif kind == "http.response.pathsend":
            await self._pathsend(message)
        else:
            raise ASGIProtocolError(f"unexpected ASGI message type {kind!r}")

    async def _pathsend(self, message: Message) -> None:
        if not self.started or self.ended or self.head_written:
            raise ASGIProtocolError("http.response.pathsend out of order")
        request = self.request
        fd = os.open(message["path"], os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            self.head_written = True
            request._start(self.status, self.headers, -1 if self.has_length else size)
            waiter = request._sendfile(fd, 0, size)
            if waiter is not None:
                await waiter
            self.ended = True
            request._end()
        finally:
            os.close(fd)


class ProxyHeaders:
    """Trust ``X-Forwarded-For``/``-Proto`` and ``Forwarded`` from these peers."""

    def __init__(self, allow_ips: str = "127.0.0.1") -> None:
        entries = [e.strip() for e in allow_ips.split(",") if e.strip()]
        self.any = "*" in entries
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]

    def trusted(self, client: Any) -> bool:
        if self.any:
            return True
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def apply(self, request: Any) -> None:
        """Replace ``request.client`` and ``request.scheme`` from the proxy's headers."""
        client = request.client
        if not self.trusted(client):
            return
        proto = host = None
        for name, value in request.raw_headers:
            if name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip()
            elif name == b"x-forwarded-for":
                host = value.decode("latin-1").split(",")[-1].strip()
            elif name == b"forwarded":
                for element in value.decode("latin-1").split(",")[-1].split(";"):
                    key, _, val = element.strip().partition("=")
                    val = val.strip('"')
                    if key.lower() == "for":
                        host = val.removeprefix("[").split("]")[0] if val.startswith("[") else val
                    elif key.lower() == "proto":
                        proto = val
        if proto in ("http", "https", "ws", "wss"):
            request.scheme = proto
        if host:
            request.client = (host, 0)


class ASGIHandler:
    """The engine's handler for an ASGI application."""

    def __init__(self, app: ASGIApp, *, root_path: str = "",
                 state: dict[str, Any] | None = None, proxy: ProxyHeaders | None = None) -> None:
        self.app = app
        self.root_path = root_path
        self.state = state
        self.proxy = proxy

    def __call__(self, request: Any) -> Awaitable[None]:
        return self.run(request, self.root_path)

    async def run(self, request: Any, root_path: str) -> None:
        if self.proxy is not None:
            self.proxy.apply(request)
        scope = request._asgi_scope(root_path, self.state)
        exchange = _Exchange(request)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientDisconnect:
            return
        except Exception as exc:
            if not exchange.head_written:
                logger.error("Exception in ASGI application", exc_info=exc)
                request.__dict__["_server_exception"] = exc
                _send_500(request)
                return
            raise  # the engine logs it and aborts the half-sent response
        if not exchange.started:
            logger.error("ASGI callable returned without starting a response")
            _send_500(request)
        elif not exchange.ended:
            raise ASGIProtocolError("ASGI callable returned without completing the response")


def _send_500(request: Any) -> None:
    body = b"Internal Server Error"
    request._start(500, [(b"content-type", b"text/plain; charset=utf-8")], len(body))
    request._write(body)
    request._end()


def call_asgi_app(app: ASGIApp, request: Any, mount_path: str) -> Awaitable[None]:
    """Serve ``request`` with an ASGI app mounted at ``mount_path`` of a Pronghorn app."""
    root_path = request.__dict__.get("root_path", "") + mount_path
    return ASGIHandler(app).run(request, root_path)


class Lifespan:
    """The ASGI lifespan protocol: ``await startup()`` then ``await shutdown()``.

    ``mode``: ``"on"`` (a failure or an app without lifespan support is an
    error), ``"auto"`` (an app that raises before its first lifespan message
    is served without lifespan), ``"off"``.
    """

    def __init__(self, app: ASGIApp, mode: str = "auto") -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.supported = mode != "off"

    async def startup(self) -> None:
        if self.mode == "off":
            return
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._main(scope))
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"Application startup failed: {message.get('message', '')}")
        if message["type"] == "_unsupported":
            self.supported = False

    async def shutdown(self) -> None:
        if not self.supported or self._task is None:
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        if message["type"] == "lifespan.shutdown.failed":
            logger.error("Application shutdown failed: %s", message.get("message", ""))
        await self._task

    async def _main(self, scope: Scope) -> None:
        started = False

        async def receive() -> Message:
            return await self._to_app.get()

        async def send(message: Message) -> None:
            nonlocal started
            started = True
            await self._from_app.put(message)

        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            if started or self.mode == "on":
                logger.error("Exception in ASGI lifespan", exc_info=exc)
                await self._from_app.put({"type": "lifespan.startup.failed",
                                          "message": repr(exc)})
            else:
                logger.info("ASGI 'lifespan' protocol appears unsupported.")
                await self._from_app.put({"type": "_unsupported"})
            return
        if not started:
            await self._from_app.put({"type": "_unsupported"})
