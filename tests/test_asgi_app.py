"""A Pronghorn app under uvicorn (ASGI direction 2): the app-level suite again.

Every test of the app-level suites that goes through the ``connect`` fixture
(see conftest.py: routing, requests, responses incl. streaming and files,
errors and exception handlers, middleware, lifespan, handlers) is collected
here a second time with ``connect`` serving the app with
``uvicorn.Server`` (httptools, asyncio) on 127.0.0.1:<free port>, on an
event loop in a background thread, and a plain ``httpx.Client``. The tests
see ``transport == "uvicorn"``. They run unchanged: a difference between
``pronghorn run`` and uvicorn fails them, apart from the few listed in
``UNDER_UVICORN`` with the reason.

Then tests of what only direction 2 has: lifespan state handed to the ASGI
server, ``root_path``, mounting in Starlette, client disconnects.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn

from pronghorn import PlainTextResponse, Pronghorn, Request
from pronghorn.responses import StreamingResponse

IO_TIMEOUT = 5.0

# ---- uvicorn serving an app in this process ---------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn.Server that stops as soon as told (its own main loop polls every 0.1 s)."""

    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        await self.on_tick(0)  # sets the Date header
        if not self.should_exit:
            await self.stop.wait()

    def request_stop(self) -> None:
        self.should_exit = True
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)


class UvicornServer:
    """``uvicorn.Server`` for ``app`` on 127.0.0.1:<free port>, in a background thread."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config.setdefault("lifespan", "on")
        config.setdefault("log_level", "warning")
        self.config = uvicorn.Config(app, loop="asyncio", http="httptools", ws="none",
                                     access_log=False, **config)
        self.server = _Server(self.config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + IO_TIMEOUT
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.01)
        if not self.server.started:
            self.thread.join(IO_TIMEOUT)
            self.sock.close()
            raise RuntimeError(f"uvicorn did not start: {self.error!r}")

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # SystemExit on a failed startup
            self.error = exc

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.request_stop()
            self.thread.join(2 * IO_TIMEOUT)
        self.sock.close()


class UvicornClient(httpx.Client):
    """An httpx client for ``app`` served by uvicorn; closing it stops the server."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        kwargs.pop("raise_server_exceptions", None)  # a TestClient option
        kwargs.setdefault("follow_redirects", True)  # as the TestClient and LiveClient
        self.server = UvicornServer(app)
        super().__init__(base_url=self.server.url, timeout=IO_TIMEOUT, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.server.close()


@pytest.fixture
def transport() -> str:
    return "uvicorn"


@pytest.fixture
def connect():
    """connect(app, **client_kwargs) -> an httpx.Client for app served by uvicorn."""
    opened: list[UvicornClient] = []

    def connect(app: Any, **kwargs: Any) -> httpx.Client:
        client = UvicornClient(app, **kwargs)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


# ---- the app-level suites, again under uvicorn -------------------------------------------

SUITES = ["test_requests", "test_routing", "test_responses_api", "test_fileresponse",
          "test_exceptions", "test_middleware", "test_lifespan", "test_handlers"]

# Tests that cannot hold under another server, with the reason.
UNDER_UVICORN: dict[str, str] = {
    name: "an implementation detail of pronghorn's own server: under an ASGI server the "
          "request runs inside the server's per-request Task, so a sync handler sees one"
    for name in ("test_middleware::test_sync_route_without_middleware_runs_without_task_or_"
                 "coroutine", "test_handlers::test_sync_handler_without_middleware_gets_no_task")
}


def _needs_connect(module: Any, func: Any, seen: set[str] | None = None) -> bool:
    """Whether ``func`` uses ``connect``, directly or through the module's fixtures."""
    names = inspect.signature(func).parameters
    if "connect" in names:
        return True
    seen = set() if seen is None else seen
    for name in names:
        fixture = getattr(module, name, None)
        if name in seen or fixture is None or not hasattr(fixture, "_fixture_function_marker"):
            continue
        seen.add(name)
        target = getattr(fixture, "_get_wrapped_function", lambda: None)() or getattr(
            fixture, "__wrapped__", None)
        if target is not None and _needs_connect(module, target, seen):
            return True
    return False


def _collect() -> None:
    for suite in SUITES:
        try:
            module = importlib.import_module(f"tests.{suite}")
        except ImportError:  # pragma: no cover - a suite renamed or removed
            continue
        for name, obj in vars(module).items():
            if name.startswith("test_") and inspect.isfunction(obj):
                if not _needs_connect(module, obj):
                    continue
                alias = f"{name}__{suite.removeprefix('test_')}"
                reason = UNDER_UVICORN.get(f"{suite}::{name}")
                globals()[alias] = pytest.mark.skip(reason=reason)(obj) if reason else obj
            elif hasattr(obj, "_fixture_function_marker") and name not in globals():
                globals()[name] = obj  # the suite's own fixtures (e.g. test_requests' client)


_collect()


def test_the_suites_were_collected():
    collected = [name for name in globals() if name.startswith("test_") and "__" in name]
    assert len(collected) > 80, collected


# ---- direction 2 only -------------------------------------------------------------------


def lifespan_app(events: list[str]) -> Pronghorn:
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"pool": "ready"}
        events.append("shutdown")

    app = Pronghorn(lifespan=lifespan)

    @app.get("/state")
    def state(request: Request):
        return {"pool": request.state.pool, "app": request.app.state.pool}

    return app


def test_lifespan_runs_under_uvicorn_and_its_state_reaches_requests():
    events: list[str] = []
    server = UvicornServer(lifespan_app(events))
    try:
        assert events == ["startup"]
        with httpx.Client(base_url=server.url, timeout=IO_TIMEOUT) as client:
            assert client.get("/state").json() == {"pool": "ready", "app": "ready"}
    finally:
        server.close()
    assert events == ["startup", "shutdown"]


def test_startup_failure_stops_uvicorn(caplog):
    async def fail():
        raise ConnectionError("database unreachable")

    app = Pronghorn(on_startup=[fail])
    with pytest.raises(RuntimeError, match="did not start"):
        UvicornServer(app)
    assert any("database unreachable" in r.getMessage() or
               (r.exc_info and "database unreachable" in str(r.exc_info[1]))
               for r in caplog.records)


def paths_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/where/{rest:path}")
    def where(request: Request, rest: str):
        return {"path": request.path, "rest": rest, "url": str(request.url)}

    return app


def test_root_path_is_stripped_from_the_path():
    server = UvicornServer(paths_app(), root_path="/api")
    try:
        with httpx.Client(base_url=server.url, timeout=IO_TIMEOUT) as client:
            data = client.get("/where/a%20b").json()
    finally:
        server.close()
    # uvicorn puts root_path in front of path and raw_path; the app routes what follows.
    assert data["path"] == "/where/a b" and data["rest"] == "a b"


def test_mounted_in_starlette():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse as StarlettePlainText
    from starlette.routing import Mount, Route

    async def home(request):
        return StarlettePlainText("starlette")

    outer = Starlette(routes=[Route("/", home), Mount("/ph", app=paths_app())])
    server = UvicornServer(outer)
    try:
        with httpx.Client(base_url=server.url, timeout=IO_TIMEOUT) as client:
            assert client.get("/").text == "starlette"
            data = client.get("/ph/where/deep/er").json()
            near = client.get("/phx/where/y")
    finally:
        server.close()
    assert data["path"] == "/where/deep/er" and data["rest"] == "deep/er"
    assert near.status_code == 404


def test_client_going_away_mid_stream_is_quiet(caplog):
    done = threading.Event()

    app = Pronghorn()

    @app.get("/forever")
    def forever():
        async def pieces():
            try:
                while True:
                    await asyncio.sleep(0.001)
                    yield b"x" * 4096
            finally:
                done.set()

        return StreamingResponse(pieces())

    @app.get("/")
    def index():
        return PlainTextResponse("still here")

    server = UvicornServer(app)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as sock:
            sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert done.wait(IO_TIMEOUT), "the stream was not stopped"
        with httpx.Client(base_url=server.url, timeout=IO_TIMEOUT) as client:
            assert client.get("/").text == "still here"
    finally:
        server.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_streaming_to_a_slow_client_holds_the_producer_back():
    produced = 0

    app = Pronghorn()

    @app.get("/firehose")
    def firehose():
        async def pieces():
            nonlocal produced
            for _ in range(64):
                produced += 1
                yield b"x" * (1024 * 1024)
                await asyncio.sleep(0)

        return StreamingResponse(pieces())

    server = UvicornServer(app)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1024)
            time.sleep(0.5)  # the client reads nothing more
            assert produced < 16, f"{produced} MiB produced for a client that reads nothing"
    finally:
        server.close()
