"""TestClient and AsyncTestClient: httpx clients whose transport is the real engine, in memory.

Owns: the public test clients and their httpx transports. Each transport is a
thin adapter over ``_testclient_engine.AppHost``, which turns a request into
HTTP/1.1 bytes, feeds them to a socket-less engine connection
(``_core.Server.memory_connection``) and reads the engine's response back
with ``_wire.ResponseReader``; the sync transport runs it on a loop in a
background thread, the async one on the caller's loop. Around a ``with``
block the app's lifespan runs; each request waits for its response's
background tasks (as Starlette's TestClient does); a handler's or a
background task's exception is re-raised in the test
(``raise_server_exceptions``).

Invariants: requests are parsed, routed and answered by the same C parser,
engine and response writer as on a socket; nothing here interprets a
request. An engine ``Server`` lives on exactly one event loop: for
``TestClient`` a loop in a background thread (so it works from sync tests
and from inside a running loop), for ``AsyncTestClient`` the caller's
running loop. Outside a ``with`` block each request gets its own engine
(and, for TestClient, its own loop thread), and no lifespan runs.

``websocket_connect`` opens a WebSocket the same way; the sessions live in
``_testclient_ws.py``.

Must not know about: routing or handler signatures (the app's job).
httpx is needed only by the test client (``pip install pronghorn[testclient]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "pronghorn.testclient needs httpx: pip install 'pronghorn[testclient]'") from exc

from pronghorn._testclient_engine import AppHost, LoopThread, WholeResponse, body_pieces
from pronghorn._testclient_ws import (
    AsyncWebSocketTestSession,
    WebSocketDenialResponse,
    WebSocketTestSession,
    upgrade_request,
)

__all__ = ["AsyncTestClient", "AsyncWebSocketTestSession", "TestClient", "WebSocketDenialResponse",
           "WebSocketTestSession"]

_ResponseReader = WholeResponse  # the name the tests of response reading import it by


# ---- transports ------------------------------------------------------------------------


class _EngineTransport(httpx.BaseTransport):
    """TestClient's transport: the host's coroutines, run on a loop in a thread (the
    ``with`` block's, or one for each request outside it)."""

    def __init__(self, app: Any, raise_server_exceptions: bool, client: tuple[str, int]) -> None:
        self.host = AppHost(app, raise_server_exceptions, client, "TestClient")
        self.portal: LoopThread | None = None

    def start(self) -> None:
        """Start the loop thread and the engine and run the app's startup hooks."""
        self.host.check_idle()
        portal = LoopThread()
        try:
            portal.call(self.host.start())
        except BaseException:
            portal.close()
            raise
        self.portal = portal

    def stop(self) -> None:
        """Run the shutdown hooks, close the engine and stop the loop thread."""
        portal, self.portal = self.portal, None
        if portal is not None:
            portal.call_and_close(self.host.stop())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = body_pieces(request, request.stream)  # type: ignore[arg-type]
        if self.portal is not None:
            result = self.portal.call(self.host.exchange(request, body))
        else:  # outside a `with` block: a loop for this request only
            result = LoopThread().call_and_close(self.host.exchange(request, body))
        return self.host.respond(request, *result)

    def close(self) -> None:
        self.stop()


class _AsyncEngineTransport(httpx.AsyncBaseTransport):
    """AsyncTestClient's transport: the host's coroutines, awaited on the caller's loop."""

    def __init__(self, app: Any, raise_server_exceptions: bool, client: tuple[str, int]) -> None:
        self.host = AppHost(app, raise_server_exceptions, client, "AsyncTestClient")

    async def start(self) -> None:
        await self.host.start()

    async def stop(self) -> None:
        await self.host.stop()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = body_pieces(request, [part async for part in request.stream])  # type: ignore
        return self.host.respond(request, *await self.host.exchange(request, body))

    async def aclose(self) -> None:
        await self.stop()


# ---- the clients -----------------------------------------------------------------------

_DEFAULT_HEADERS = {"user-agent": "testclient"}


class _EngineClient:
    """The constructor both clients share (mixed in before httpx's client class)."""

    _transport_class: type[_EngineTransport] | type[_AsyncEngineTransport]

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
        transport = self._transport_class(app, raise_server_exceptions, client)
        super().__init__(base_url=base_url,  # type: ignore[call-arg]
                         headers={**_DEFAULT_HEADERS, **(headers or {})},
                         transport=transport, follow_redirects=follow_redirects, cookies=cookies)


class TestClient(_EngineClient, httpx.Client):
    """An ``httpx.Client`` that sends its requests to ``app`` through the engine, in memory.

    ``with TestClient(app) as client:`` runs the app's startup hooks on entry
    and its shutdown hooks on exit; the handlers run on that same event loop
    (in a background thread). With ``raise_server_exceptions`` (the default)
    a handler's unhandled exception is raised in the test instead of the 500.
    """

    __test__ = False  # not a pytest test class
    _transport_class = _EngineTransport

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
        request = upgrade_request(self, url, subprotocols, headers)
        return WebSocketTestSession(self._transport, request)  # type: ignore[arg-type]

    def __exit__(self, *exc_info: Any) -> None:
        self._transport.stop()  # type: ignore[attr-defined]


class AsyncTestClient(_EngineClient, httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that drives the engine on the current event loop.

    ``async with AsyncTestClient(app) as client:`` runs the app's startup and
    shutdown hooks around the block.
    """

    __test__ = False
    _transport_class = _AsyncEngineTransport

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
        request = upgrade_request(self, url, subprotocols, headers)
        return AsyncWebSocketTestSession(self._transport, request)  # type: ignore[arg-type]

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._transport.stop()  # type: ignore[attr-defined]
