"""Serving ASGI 3.0 applications on the C engine (pronghorn as an ASGI server).

Owns: ``ASGIHandler`` — the engine's per-request handler for an ASGI app:
the HTTP scope (built in C by ``Request._asgi_scope``), ``receive`` and
``send`` (``_Exchange``: in C, ``_core.ASGIExchange`` over the engine's
primitives, with the waits here), and what follows an app that breaks the
message order: logged, a 500 when nothing was sent yet, the connection
aborted otherwise. Also the lifespan protocol (``Lifespan``),
proxy headers (``ProxyHeaders``) and ``call_asgi_app`` for ASGI apps
mounted in a Pronghorn app.

Invariants:
- The response head is written when the first body message arrives, so a
  single-message body gets a Content-Length (else the body is chunked), and
  a response whose head is wrong gets a clean 500. If the app declared no
  Content-Length and suspends between ``http.response.start`` and its first
  body message, the head is written at the next loop iteration (clients and
  proxies see the headers of a slow stream without waiting for its first
  byte).
- HEAD, 204 and 304 carry no body (the engine drops it) and get no
  Content-Length the app did not declare.
- ``receive()`` gives ``http.disconnect`` once the client went away, the
  engine answered the request itself (413, malformed body), or the
  response is complete. ``send()`` after the client went away raises
  ``ClientDisconnect`` (an ``OSError``).
- Exactly one log record per failed exchange.
- WebSocket upgrades get the ``websocket`` scope (``_WebSocketExchange``):
  a bad handshake is answered 400/426 before the app runs; before accept,
  ``websocket.close`` is a 403 and the ``websocket.http.response``
  extension an HTTP response; after accept the engine's session frames,
  pings and closes (1000 when the app returns without closing, 1011 when it
  raises). ``send()`` after the close raises ``ClientDisconnect``.

Must not know about: sockets or HTTP syntax (the engine's), routing.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

from pronghorn import _core
from pronghorn.app import server_exception_observer
from pronghorn.requests import ClientDisconnect

__all__ = ["ASGIHandler", "ASGIProtocolError", "Lifespan", "LifespanFailure", "ProxyHeaders",
           "call_asgi_app"]

logger = logging.getLogger("pronghorn.error")

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]

_ProtocolError = _core.ProtocolError
_BYTES = (bytes, bytearray)
_engine_client = _core.Request.client  # the peer address, whatever Request subclass is used


ASGIProtocolError = _core.ASGIProtocolError  # the app sent messages out of order or malformed


def _headers(raw: Iterable[Any]) -> list[tuple[bytes, bytes]]:
    """The app's headers as (lowercased name, value) bytes pairs (WebSocket accept).

    Byte values are checked by the engine's one header validator when the
    head is written."""
    try:
        headers = [(name.lower(), value) for name, value in raw]
    except (TypeError, ValueError, AttributeError):
        raise ASGIProtocolError("response headers must be (bytes, bytes) pairs") from None
    for name, value in headers:
        if name.__class__ is not bytes or value.__class__ is not bytes:
            if name.__class__ not in _BYTES or value.__class__ not in _BYTES:
                raise ASGIProtocolError("response headers must be (bytes, bytes) pairs")
            return [(bytes(n), bytes(v)) for n, v in headers]
    return headers


class _Exchange(_core.ASGIExchange):
    """receive() and send() of one request: in C (``_core.ASGIExchange``: message order
    and shapes, the head with the first body message), except what must wait, here."""

    __slots__ = ()

    async def _receive_wait(self, waiter: Any) -> Message:
        """receive() that must wait: for body bytes, or (body_done) for the exchange's end."""
        while True:
            if self.body_done:
                await waiter
                if not self.ended:
                    self.gone = True
                return {"type": "http.disconnect"}
            try:
                await waiter
            except (ClientDisconnect, _ProtocolError):
                # The peer is gone, or its body was refused and the engine answered (400/413).
                self.body_done = self.gone = True
                return {"type": "http.disconnect"}
            got = self._receive_now()
            if got.__class__ is dict:
                return got
            waiter = got

    async def _drain(self, waiter: Any) -> None:
        """send() under output backpressure: wait until the socket took the output."""
        try:
            await waiter
        except ClientDisconnect:
            self.gone = True
            raise

    def _head_if_idle(self) -> None:
        """The app suspended after http.response.start: send the head now (chunked unless
        it declared a length). A failure here comes back at the app's next send()."""
        if self.started and not self.head_written and not self.ended:
            try:
                self._write_head(-1)
                self.request._write(b"")  # flushes
            except Exception:
                pass

    async def _pathsend(self, message: Message) -> None:
        if not self.started or self.ended:
            raise ASGIProtocolError("http.response.pathsend out of order")
        request = self.request
        try:
            fd = os.open(message["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                size = os.fstat(fd).st_size
                if not self.head_written:  # (it is if the app suspended without a length)
                    self._write_head(-1 if self.no_body else size)
                waiter = request._sendfile(fd, 0, size)
                if waiter is not None:
                    await waiter
                self._finish()
            finally:
                os.close(fd)
        except ClientDisconnect:
            self.gone = True
            raise


class ProxyHeaders:
    """Trust ``X-Forwarded-For``/``-Proto`` and ``Forwarded`` (RFC 7239) from these peers.

    ``allow_ips``: comma-separated addresses and networks, or ``*``. The
    client is the right-most address of the forwarding chain that is not a
    trusted proxy itself (the left-most when everything is trusted), as
    uvicorn does; with ``Forwarded``, the scheme is the ``proto`` of that
    same hop. ``Forwarded`` wins over the ``X-Forwarded-*`` pair.
    """

    def __init__(self, allow_ips: str = "127.0.0.1") -> None:
        entries = [e.strip() for e in allow_ips.split(",") if e.strip()]
        self.any = "*" in entries
        self.literals: set[str] = set()
        self.networks = []
        for entry in entries:
            if entry == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.literals.add(entry)  # e.g. a unix socket path
        self.is_trusted = functools.lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.literals
        return any(address in network for network in self.networks)

    def trusted(self, client: Any) -> bool:
        if self.any:
            return True
        return bool(client) and self.is_trusted(client[0])

    def _pick(self, hops: list[Any]) -> Any:
        if not self.any:
            for hop in reversed(hops):
                if not self.is_trusted(hop[0]):
                    return hop
        return hops[0]

    def apply(self, request: Any) -> None:
        """Replace the request's client and scheme from the proxy's headers (in the engine's
        Request, which the ASGI scope and ``pronghorn.Request.client`` both read)."""
        if not self.trusted(_engine_client.__get__(request)):
            return
        proto = None
        forwarded_for: list[str] = []
        forwarded: list[str] = []
        for name, value in request.raw_headers:
            if name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[0].strip().lower()
            elif name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
            elif name == b"forwarded":
                forwarded.append(value.decode("latin-1"))
        client = None
        if forwarded:
            hops = _forwarded_hops(", ".join(forwarded))
            if hops:
                host, port, proto = self._pick(hops)
                client = (host, port) if host else None
        elif forwarded_for:
            hosts = [h.strip() for h in ", ".join(forwarded_for).split(",")]
            host, port = self._pick([_host_port(h) for h in hosts])
            client = (host, port) if host else None
        if proto in ("http", "https", "ws", "wss"):
            request.scheme = proto
        if client is not None:
            _engine_client.__set__(request, client)
            request.__dict__.pop("client", None)  # pronghorn.Request's cached Address


def _host_port(value: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (host, port or 0)."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, 0
        host, rest = value[1:end], value[end + 1:]
        return host, int(rest[1:]) if rest[:1] == ":" and rest[1:].isdigit() else 0
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, int(port) if port.isdigit() else 0
    return value, 0


def _forwarded_hops(value: str) -> list[tuple[str, int, str | None]]:
    """The (host, port, proto) of each element of a ``Forwarded`` field (RFC 7239 §4)."""
    hops = []
    for element in value.split(","):
        host, port, proto = "", 0, None
        for pair in element.split(";"):
            key, _, val = pair.strip().partition("=")
            val = val.strip().strip('"')
            key = key.strip().lower()
            if key == "for":
                host, port = _host_port(val)
            elif key == "proto":
                proto = val.lower()
        hops.append((host, port, proto))
    return hops


class ASGIHandler:
    """The engine's handler for an ASGI application."""

    def __init__(self, app: ASGIApp, *, root_path: str = "",
                 state: dict[str, Any] | None = None, proxy: ProxyHeaders | None = None,
                 websocket: dict[str, Any] | None = None) -> None:
        self.app = app
        # Keyword arguments of request._ws_accept (max_message_size, ping_interval, ...).
        self.websocket_options = dict(websocket or {})
        self.root_path = root_path
        # raw_path includes root_path, as path does (uvicorn does the same).
        self.raw_root = quote(root_path).encode("ascii")
        self.state = state
        self.proxy = proxy

    def __call__(self, request: Any) -> Awaitable[None]:
        return self.run(request)

    async def run(self, request: Any, mount_root: str | None = None) -> None:
        """Serve ``request``. ``mount_root``: the app is mounted in a Pronghorn app, at
        this root_path (the path stays the full request path, as Starlette's Mount)."""
        if self.proxy is not None:
            self.proxy.apply(request)
        scope = request._asgi_scope(self.root_path, self.state)
        if mount_root is not None:
            scope["root_path"] = mount_root
        elif self.raw_root:
            scope["raw_path"] = self.raw_root + scope["raw_path"]
        if request.is_websocket:
            await self._websocket(request, scope)
            return
        exchange = _Exchange(request)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientDisconnect:
            raise  # the client is gone: the engine ends the exchange without a log record
        except Exception as exc:
            if exchange.gone:  # e.g. Starlette turns send()'s OSError into its own exception
                logger.debug("Exception in ASGI application after the client went away",
                             exc_info=exc)
            else:
                logger.error("Exception in ASGI application", exc_info=exc)
                _observe(exc)
            _fail(request, exchange, exc)
            return
        if exchange.ended:
            return
        if exchange.gone:
            raise ClientDisconnect("client disconnected")  # ends the exchange quietly
        problem = ("returned without completing the response" if exchange.started
                   else "returned without starting a response")
        logger.error("ASGI callable %s", problem)
        exc = ASGIProtocolError(problem)
        _observe(exc)
        _fail(request, exchange, exc)


    async def _websocket(self, request: Any, scope: Scope) -> None:
        """Serve a WebSocket upgrade: a bad handshake is answered 400/426 without calling the
        app (as uvicorn); then the ``websocket`` scope over the engine's session."""
        problem = request._ws_check()
        if problem is not None:
            status, reason = problem
            body = reason.encode()
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if status == 426:
                headers.append((b"sec-websocket-version", b"13"))
            request._start(status, headers, len(body))
            request._write(body)
            request._end()
            return
        scheme = scope["scheme"]
        scope["type"] = "websocket"
        scope["scheme"] = _WS_SCHEMES.get(scheme, scheme)
        del scope["method"]
        scope["subprotocols"] = request._ws_subprotocols()
        scope["extensions"] = {"websocket.http.response": {}}
        exchange = _WebSocketExchange(request, self.websocket_options)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientDisconnect:
            if exchange.session is None:
                raise  # the client is gone before the 101: the engine ends quietly
            return
        except Exception as exc:
            if exchange.session is not None and exchange.session.close_code is not None:
                logger.debug("Exception in ASGI application after the WebSocket closed",
                             exc_info=exc)
            else:
                logger.error("Exception in ASGI application", exc_info=exc)
                _observe(exc)
            exchange.fail(exc)
            return
        if exchange.session is not None or exchange.http.ended:
            return  # the engine closes a session the app left open with 1000
        problem = ("returned without completing its denial response" if exchange.http.started
                   else "returned without accepting or closing the WebSocket")
        logger.error("ASGI callable %s", problem)
        exc = ASGIProtocolError(problem)
        _observe(exc)
        exchange.fail(exc)


_WS_SCHEMES = {"http": "ws", "https": "wss"}
_WS_DISCONNECTED = {"type": "websocket.disconnect", "code": 1006, "reason": ""}


class _WebSocketExchange:
    """receive() and send() of one ``websocket`` scope, over a ``_core.WebSocketSession``
    once accepted; before that, ``websocket.close`` is a 403 and the
    ``websocket.http.response`` messages are an HTTP response (an ``_Exchange``)."""

    __slots__ = ("request", "options", "session", "connected", "closed", "http")

    def __init__(self, request: Any, options: dict[str, Any]) -> None:
        self.request = request
        self.options = options
        self.session: Any = None
        self.connected = False  # websocket.connect was received by the app
        self.closed = False     # the app sent websocket.close
        self.http = _Exchange(request)

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        session = self.session
        if session is None:  # refused, or not accepted yet: only a disconnect can come
            if not self.http.ended:
                waiter = self.request._disconnected()
                if waiter is not None:
                    self.http.disc = waiter
                    await waiter
            return dict(_WS_DISCONNECTED)
        item = session.receive()
        while True:
            cls = item.__class__
            if cls is str:
                return {"type": "websocket.receive", "text": item}
            if cls is bytes:
                return {"type": "websocket.receive", "bytes": item}
            if cls is tuple:
                return {"type": "websocket.disconnect", "code": item[0], "reason": item[1]}
            await item
            item = session.receive()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        session = self.session
        if session is not None:
            if self.closed:
                raise ClientDisconnect("the WebSocket is closed")
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is None:
                    data = message.get("text")
                    if data.__class__ is not str:
                        raise ASGIProtocolError("websocket.send needs 'bytes' or 'text'")
                elif data.__class__ is not bytes:
                    data = bytes(data)
                waiter = session.send(data)
                if waiter is not None:
                    await waiter
            elif kind == "websocket.close":
                self.closed = True
                session.close(message.get("code") or 1000, message.get("reason") or "")
            else:
                raise ASGIProtocolError(f"unexpected ASGI message {kind!r} after accept")
            return
        http = self.http
        if kind == "websocket.http.response.body":
            await http.send({**message, "type": "http.response.body"})
        elif http.started or http.ended:
            raise ASGIProtocolError(f"unexpected ASGI message {kind!r}: the WebSocket was "
                                    "refused already")
        elif kind == "websocket.accept":
            self.connected = True
            self.session = self.request._ws_accept(
                message.get("subprotocol"), _headers(message.get("headers") or ()),
                **self.options)
        elif kind == "websocket.close":  # before accept: refused, 403 (uvicorn's answer)
            self.closed = True
            await http.send({"type": "http.response.start", "status": 403, "headers": []})
            await http.send({"type": "http.response.body", "body": b""})
        elif kind == "websocket.http.response.start":
            await http.send({**message, "type": "http.response.start"})
        else:
            raise ASGIProtocolError(f"unexpected ASGI message {kind!r} before accept")

    def fail(self, exc: Exception) -> None:
        """After a logged failure: close 1011 once accepted, else what ``_fail`` does."""
        session = self.session
        if session is None:
            _fail(self.request, self.http, exc)
            return
        try:
            session.close(1011, "")
        except Exception:
            pass


def _observe(exc: Exception) -> None:
    """Report a logged failure to the TestClient (raise_server_exceptions), if it listens."""
    observer = server_exception_observer.get()
    if observer is not None:
        observer(exc)


def _fail(request: Any, exchange: _Exchange, exc: Exception) -> None:
    """After a logged failure: a 500 if nothing was written yet, else abort the response."""
    if exchange.ended:
        return  # the response went out complete; only the log records the error
    exchange.ended = True
    if not exchange.head_written:
        # (ClientDisconnect from these, if the client is gone, ends the exchange quietly.)
        body = b"Internal Server Error"
        request._start(500, [(b"content-type", b"text/plain; charset=utf-8")], len(body))
        request._write(body)
        request._end()
        return
    # Half sent: the engine aborts the connection when the handler raises ClientDisconnect,
    # without logging again.
    raise ClientDisconnect("response aborted") from exc


def call_asgi_app(app: ASGIApp, request: Any, mount_path: str) -> Awaitable[None]:
    """Serve ``request`` with an ASGI app mounted at ``mount_path`` of a Pronghorn app."""
    root_path = request.__dict__.get("root_path", "") + mount_path
    return ASGIHandler(app).run(request, root_path)


class LifespanFailure(RuntimeError):
    """The application's lifespan startup failed (or, with ``--lifespan on``, is missing)."""


class Lifespan:
    """The ASGI lifespan protocol: ``await startup()`` then ``await shutdown()``.

    ``mode``: ``"on"`` (a failure or an app without lifespan support is an
    error), ``"auto"`` (an app that raises or returns before its first
    lifespan message is served without lifespan), ``"off"``.
    """

    SHUTDOWN_WAIT = 5.0  # seconds the app may take to return after shutdown.complete

    def __init__(self, app: ASGIApp, mode: str = "auto") -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self.supported = mode != "off"
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._phase = "startup"
        self._sent = False
        self._error: BaseException | None = None

    async def startup(self) -> None:
        if self.mode == "off":
            return
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._main(scope))
        self._to_app.put_nowait({"type": "lifespan.startup"})
        message = await self._from_app.get()
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._phase = "serving"
            return
        if kind == "lifespan.startup.failed":
            raise LifespanFailure(f"Application startup failed: {message.get('message', '')}")
        # The app returned or raised without answering lifespan.startup.
        self.supported = False
        error = self._error
        if self.mode == "on" or self._sent:
            reason = f"{type(error).__name__}: {error}" if error else "it returned"
            raise LifespanFailure(
                f"Application startup failed: the app does not support the ASGI lifespan "
                f"protocol ({reason})") from error
        logger.info("ASGI 'lifespan' protocol appears unsupported.")

    async def shutdown(self) -> None:
        task = self._task
        if not self.supported or task is None or task.done():
            return
        self._phase = "shutdown"
        self._to_app.put_nowait({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        if message["type"] == "lifespan.shutdown.failed":
            logger.error("Application shutdown failed: %s", message.get("message", ""))
        elif message["type"] == "_returned" and self._error is not None:
            logger.error("Exception in ASGI lifespan shutdown", exc_info=self._error)
        done, _ = await asyncio.wait({task}, timeout=self.SHUTDOWN_WAIT)
        if not done:
            task.cancel()

    async def _main(self, scope: Scope) -> None:
        async def receive() -> Message:
            return await self._to_app.get()

        async def send(message: Message) -> None:
            self._sent = True
            if message["type"] not in _LIFESPAN_REPLIES[self._phase]:
                raise ASGIProtocolError(
                    f"unexpected ASGI lifespan message {message['type']!r} during {self._phase}")
            self._from_app.put_nowait(message)

        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # reported by startup() or shutdown()
            self._error = exc
            if self._phase == "serving":
                logger.error("Exception in ASGI lifespan", exc_info=exc)
        finally:
            self._from_app.put_nowait({"type": "_returned"})


_LIFESPAN_REPLIES = {
    "startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "serving": (),
    "shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}
