"""The test clients' side of the engine: one exchange over a memory connection, and the app's
engine for a test client (``AppHost``), whichever client drives it.

Owns: an ``httpx.Request`` as HTTP/1.1 bytes; the engine's response bytes read
whole (``WholeResponse``: ``_wire.ResponseReader``'s events collected, the
one reader of the engine's output); the handler's reports to its exchange
(``Exchange``: its first unhandled exception, its running background
tasks); an engine ``Server`` serving the app (``Engine``); a loop in a
thread for the sync client (``LoopThread``); and ``AppHost``, the start,
stop and exchange logic both transports and both WebSocket sessions share,
as coroutines on the engine's loop.

Invariants: nothing here parses a request or interprets a response beyond
its framing; a Pronghorn app is served with its ``engine_options`` (the C
router's fast path), as ``pronghorn run`` serves it; one memory connection
per request; an engine lives on exactly one loop, and everything that
touches it runs there. A handler's exception is returned, never raised
on the engine's loop: the test client raises it in the test's own thread.

Must not know about: httpx's client API (``testclient.py``) or WebSocket
frames (``_testclient_ws.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import httpx

from pronghorn import _core
from pronghorn._wire import ResponseReader
from pronghorn.app import Pronghorn, server_exception_observer
from pronghorn.background import background_observer

T = TypeVar("T")

_ENGINE_ERRORS = (_core.ClientDisconnect, _core.ProtocolError)  # answered by the engine itself
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ---- request bytes -------------------------------------------------------------------


def request_head(request: httpx.Request) -> bytes:
    """Request line and header fields, as httpx prepared them (Host and framing included)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(b"%s: %s" % pair for pair in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def body_pieces(request: httpx.Request, parts: Iterable[bytes]) -> list[bytes]:
    """The body's ``parts`` as they go on the wire (chunk-framed when httpx chose chunked)."""
    if request.headers.get("transfer-encoding", "").lower() != "chunked":
        return [part for part in parts if part]
    return [b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part] + [b"0\r\n\r\n"]


# ---- response bytes ------------------------------------------------------------------


class WholeResponse(ResponseReader):
    """One response read whole from the engine's output, for an ``httpx.Response``:
    ``_wire.ResponseReader`` with the body collected. Broken framing or output cut
    short is httpx's ``RemoteProtocolError``."""

    def __init__(self, method: str) -> None:
        super().__init__(head_request=method == "HEAD")
        self.parts: list[bytes] = []

    def feed(self, data: bytes) -> list[tuple]:
        try:
            return self._collect(super().feed(data))
        except _core.ProtocolError as exc:
            raise httpx.RemoteProtocolError(f"invalid chunked response: {exc}") from exc

    def feed_eof(self) -> list[tuple]:
        try:
            return self._collect(super().feed_eof())
        except ConnectionError as exc:
            received = self.body if self.status else self.buffer
            raise httpx.RemoteProtocolError(
                "the server closed the connection without a complete response "
                f"(received {received[:200]!r})") from exc

    def _collect(self, events: list[tuple]) -> list[tuple]:
        self.parts.extend(event[1] for event in events if event[0] == "body")
        return events

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The header fields as the engine wrote them (case kept, framing fields included)."""
        return self.raw_headers

    @property
    def body(self) -> bytes:
        return b"".join(self.parts)

    def response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status, headers=self.headers, stream=httpx.ByteStream(self.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self.reason})


async def read_response(conn: Any, method: str) -> WholeResponse:
    """Read the response to ``method`` from ``conn`` until it is complete (or ends)."""
    response = WholeResponse(method)
    while True:
        response.feed(conn.output())
        if response.complete:
            return response
        if conn.closed:
            response.feed_eof()
            return response
        await conn.wait_output()


# ---- the engine ------------------------------------------------------------------------


class Exchange:
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


class Engine:
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

    def connect(self, url: httpx.URL, exchange: Exchange, head: bytes) -> Any:
        """A memory connection to ``url`` whose handler reports to ``exchange``; ``head``
        is fed to it from a loop callback."""
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        conn = self.server.memory_connection(client=self.client, server=(url.host, port),
                                             scheme=url.scheme)
        # The engine dispatches inside feed() and runs the handler in a copy of the
        # context current then: through these variables it reports to this exchange.
        # Fed from a loop callback, as from the epoll callback on a socket: no Task is
        # current unless the handler gets one (an async handler's own).
        context = contextvars.copy_context()
        context.run(server_exception_observer.set, exchange.record)
        context.run(background_observer.set, exchange.task_started)
        asyncio.get_running_loop().call_soon(conn.feed, head, context=context)
        return conn

    async def exchange(self, request: httpx.Request,
                       body: Iterable[bytes]) -> tuple[WholeResponse, BaseException | None]:
        """Send one request; return its response and the handler's unhandled exception."""
        exchange = Exchange()
        conn = self.connect(request.url, exchange, request_head(request))
        try:
            for piece in body:
                await asyncio.sleep(0)  # let a handler that is reading the body run
                conn.feed(piece)
            response = await read_response(conn, request.method)
            await exchange.background_done()
        finally:
            conn.close()
        return response, exchange.exception


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


class AppHost:
    """The app's engine for one test client: between ``start()`` and ``stop()`` one
    engine running the app's lifespan; otherwise an engine for each use, with no
    lifespan. Its coroutines run on the engine's loop (the caller's, or a
    ``LoopThread``'s); what it returns is handed to the test's thread."""

    def __init__(self, app: Any, raise_server_exceptions: bool, client: tuple[str, int],
                 owner: str) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.client = client
        self.owner = owner  # the client's class name, for errors
        self.engine: Engine | None = None

    def check_idle(self) -> None:
        if self.engine is not None:
            raise RuntimeError(f"this {self.owner} is already running its app (nested 'with')")

    async def start(self) -> None:
        """Start an engine and run the app's startup hooks."""
        self.check_idle()
        engine = self.new_engine()
        try:
            await engine.startup()
        except BaseException:
            engine.close()
            raise
        self.engine = engine

    async def stop(self) -> None:
        """Run the shutdown hooks and close the engine."""
        engine, self.engine = self.engine, None
        if engine is not None:
            try:
                await engine.shutdown()
            finally:
                engine.close()

    def new_engine(self) -> Engine:
        """An engine of this client's app for one use (outside a ``with`` block)."""
        return Engine(self.app, self.client)

    async def exchange(self, request: httpx.Request,
                       body: Iterable[bytes]) -> tuple[WholeResponse, BaseException | None]:
        engine = self.engine
        if engine is not None:
            return await engine.exchange(request, body)
        engine = self.new_engine()
        try:
            return await engine.exchange(request, body)
        finally:
            engine.close()

    def respond(self, request: httpx.Request, response: WholeResponse,
                exc: BaseException | None) -> httpx.Response:
        """In the test's thread: the handler's exception (``raise_server_exceptions``), else
        the response."""
        if exc is not None and self.raise_server_exceptions:
            raise exc
        return response.response(request)


# ---- the portal: an event loop in a thread ---------------------------------------------


class LoopThread:
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

    def call_and_close(self, coro: Awaitable[T]) -> T:
        """``call``, then stop the thread (even if the coroutine raised)."""
        try:
            return self.call(coro)
        finally:
            self.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
