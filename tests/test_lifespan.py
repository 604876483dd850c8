"""Lifespan (issue 3): ``Pronghorn(lifespan=...)``, ``on_startup``/``on_shutdown``,
their order, failures, and ``app.state``.

``connect`` runs the app's startup before the first request and its
shutdown when the test ends, through the TestClient's ``with`` block or
around the real socket server (as ``pronghorn run`` does; its exit code on
a failed startup is tested in tests/test_server_integration.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from pronghorn import Pronghorn, Request
from pronghorn.testclient import AsyncTestClient, TestClient
from tests.conftest import LiveClient, run_markdown_examples


def lifespan_app(events: list[str], **options) -> Pronghorn:
    @contextlib.asynccontextmanager
    async def lifespan(app: Pronghorn):
        events.append("lifespan enter")
        pool = {"connections": 2, "loop": asyncio.get_running_loop()}
        yield {"pool": pool, "settings": {"debug": False}}
        events.append("lifespan exit")

    async def open_cache():
        events.append("startup async")

    def warm_up():
        events.append("startup sync")

    app = Pronghorn(lifespan=lifespan, on_startup=[open_cache],
                    on_shutdown=[lambda: events.append("shutdown sync")], **options)
    app.add_event_handler("startup", warm_up)

    @app.on_event("shutdown")
    async def close_cache():
        events.append("shutdown async")

    @app.get("/state")
    async def state(request: Request):
        pool = request.app.state.pool
        return {"connections": pool["connections"],
                "same_loop": pool["loop"] is asyncio.get_running_loop(),
                "request_state": request.state.settings,
                "app_is_app": request.app is app}

    return app


ORDER = ["lifespan enter", "startup async", "startup sync",
         "shutdown sync", "shutdown async", "lifespan exit"]


def test_lifespan_state_and_hook_order(connect):
    events: list[str] = []
    client = connect(lifespan_app(events))
    assert events == ORDER[:3]
    assert client.get("/state").json() == {"connections": 2, "same_loop": True,
                                           "request_state": {"debug": False},
                                           "app_is_app": True}
    client.close()  # stops the server / leaves the TestClient's lifespan
    assert events == ORDER


def test_testclient_with_block_runs_the_lifespan():
    events: list[str] = []
    app = lifespan_app(events)
    with TestClient(app) as client:
        assert client.get("/state").status_code == 200
        assert events == ORDER[:3]
    assert events == ORDER
    assert app.lifespan_state == {}


async def test_async_testclient_runs_the_lifespan():
    events: list[str] = []
    async with AsyncTestClient(lifespan_app(events)) as client:
        assert (await client.get("/state")).json()["same_loop"] is True
    assert events == ORDER


def test_request_state_is_a_copy_per_request():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"counter": 0}

    app = Pronghorn(lifespan=lifespan)

    @app.get("/")
    def bump(request: Request):
        request.state.counter += 1
        return request.state.counter

    with TestClient(app) as client:
        assert [client.get("/").json() for _ in range(3)] == [1, 1, 1]
    assert app.state.counter == 0


def test_app_state_set_by_startup_hooks(connect):
    app = Pronghorn()

    @app.on_event("startup")
    def configure():
        app.state.greeting = "hello"

    @app.get("/")
    def index(request: Request):
        return request.app.state.greeting

    assert connect(app).get("/").json() == "hello"


# ---- failures ---------------------------------------------------------------------------


def test_lifespan_failure_before_yield_is_raised_by_the_testclient():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        raise ConnectionError("database unreachable")
        yield  # pragma: no cover

    app = Pronghorn(lifespan=lifespan)
    with pytest.raises(ConnectionError, match="database unreachable"):
        with TestClient(app):
            pass  # pragma: no cover


def test_startup_hook_failure_leaves_the_lifespan():
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("enter")
        try:
            yield
        except RuntimeError as exc:
            events.append(f"exit with {exc}")
            raise

    def broken():
        raise RuntimeError("bad config")

    app = Pronghorn(lifespan=lifespan, on_startup=[broken])
    with pytest.raises(RuntimeError, match="bad config"):
        with TestClient(app):
            pass  # pragma: no cover
    assert events == ["enter", "exit with bad config"]
    with pytest.raises(RuntimeError, match="bad config"):
        LiveClient(app)  # the server is not started when startup fails


def test_shutdown_failures_are_logged_and_everything_still_runs(caplog):
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        events.append("lifespan exit")
        raise RuntimeError("lifespan cleanup failed")

    def broken():
        raise RuntimeError("hook failed")

    app = Pronghorn(lifespan=lifespan, on_shutdown=[broken, lambda: events.append("hook")])
    with caplog.at_level(logging.ERROR, logger="pronghorn.error"):
        with TestClient(app):
            pass
    assert events == ["hook", "lifespan exit"]
    assert "hook failed" in caplog.text and "lifespan cleanup failed" in caplog.text


def test_lifespan_runs_again_for_each_with_block():
    events: list[str] = []
    app = lifespan_app(events)
    client = TestClient(app)
    for _ in range(2):
        with client:
            pass
    assert events == ORDER * 2


def test_unknown_event_is_refused():
    with pytest.raises(ValueError, match="startup"):
        Pronghorn().on_event("boot")


def test_docs_lifespan_examples_run():
    run_markdown_examples("docs/lifespan.md")
