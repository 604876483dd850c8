"""Handlers (issue 3): async on the loop with a current task and per-request
contextvars, sync inline on the loop, ``threaded=True`` and
``sync_handlers="threadpool"`` off it, and the one-time blocking warning.

The engine-level driving of coroutines is tests/test_handler_task.py; these
are the same guarantees seen from a Pronghorn app, through the TestClient
and over a real socket.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from pronghorn import PlainTextResponse, Pronghorn, Request
from pronghorn import endpoints as endpoints_module
from tests.conftest import IO_TIMEOUT, LiveClient, run_markdown_examples

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def handlers_app(**options) -> Pronghorn:
    app = Pronghorn(**options)
    state = app.state
    state.loop_thread = None

    @app.get("/loop-thread")
    async def loop_thread():
        state.loop_thread = threading.get_ident()
        return "ok"

    @app.get("/task")
    async def task():
        first = asyncio.current_task()
        await asyncio.sleep(0)
        return {"has_task": first is not None, "same_after_await": asyncio.current_task() is first,
                "running_loop": asyncio.get_running_loop() is not None}

    @app.get("/timeout/{seconds:float}")
    async def timeout(seconds):
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(seconds)
        except TimeoutError:
            return "timed out"
        return "in time"

    @app.get("/anyio")
    async def with_anyio():
        with anyio.move_on_after(0.02) as scope:
            await anyio.sleep(1)
        return {"cancelled": scope.cancelled_caught}

    @app.get("/context/{value}")
    async def context(value):
        before = request_id.get()
        request_id.set(value)
        await asyncio.sleep(0.02)  # other requests run meanwhile
        return {"before": before, "after": request_id.get()}

    @app.get("/sync-context/{value}")
    def sync_context(value):
        before = request_id.get()
        request_id.set(value)
        return {"before": before, "after": request_id.get()}

    @app.get("/sync")
    def sync():
        try:
            task = asyncio.current_task() is not None  # needs a running loop
        except RuntimeError:
            return {"thread": threading.get_ident(), "loop": False, "task": False}
        return {"thread": threading.get_ident(), "loop": True, "task": task}

    @app.get("/threaded", threaded=True)
    def threaded():
        return {"thread": threading.get_ident(), "context": request_id.get()}

    @app.get("/inline", threaded=False)
    def inline():
        return {"thread": threading.get_ident()}

    @app.get("/block", threaded=True)
    def block(request: Request):
        assert state.release.wait(IO_TIMEOUT)
        return "unblocked"

    @app.get("/fast")
    async def fast():
        return "fast"

    return app


def loop_thread(client, app) -> int:
    client.get("/loop-thread")
    return app.state.loop_thread


# ---- async handlers ------------------------------------------------------------------------


def test_async_handler_has_a_current_task(connect):
    assert connect(handlers_app()).get("/task").json() == {
        "has_task": True, "same_after_await": True, "running_loop": True}


@pytest.mark.parametrize(("seconds", "expected"), [(1.0, "timed out"), (0.0, "in time")])
def test_asyncio_timeout_in_a_handler(connect, seconds, expected):
    assert connect(handlers_app()).get(f"/timeout/{seconds}").json() == expected


def test_anyio_cancel_scope_in_a_handler(connect):
    assert connect(handlers_app()).get("/anyio").json() == {"cancelled": True}


def test_contextvars_are_per_request(connect):
    client = connect(handlers_app())
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda v: client.get(f"/context/{v}").json(), "abcd"))
    assert results == [{"before": "unset", "after": v} for v in "abcd"]
    assert client.get("/sync-context/x").json() == {"before": "unset", "after": "x"}
    assert client.get("/sync-context/y").json() == {"before": "unset", "after": "y"}


# ---- sync handlers -------------------------------------------------------------------------


def test_sync_handler_runs_inline_on_the_loop_thread(connect):
    app = handlers_app()
    client = connect(app)
    body = client.get("/sync").json()
    assert body["thread"] == loop_thread(client, app)
    assert body["loop"] is True


def test_sync_handler_without_middleware_gets_no_task(connect):
    # The engine's callback calls the endpoint directly: no Task, no coroutine.
    app = handlers_app()
    assert app.engine_options()["router"] is not None
    assert connect(app).get("/sync").json()["task"] is False


def test_threaded_route_runs_off_the_loop_thread(connect):
    app = handlers_app()
    client = connect(app)
    loop = loop_thread(client, app)
    assert client.get("/threaded").json()["thread"] != loop
    assert client.get("/sync").json()["thread"] == loop


def test_threadpool_app_runs_every_sync_handler_off_the_loop(connect):
    app = handlers_app(sync_handlers="threadpool")
    client = connect(app)
    loop = loop_thread(client, app)
    body = client.get("/sync").json()
    assert body["thread"] != loop and body["loop"] is False  # a worker thread has no loop
    assert client.get("/inline").json()["thread"] == loop  # threaded=False opts out


def test_sync_handlers_option_is_checked():
    with pytest.raises(ValueError, match="sync_handlers"):
        Pronghorn(sync_handlers="threads")


def test_blocking_threaded_handler_does_not_delay_other_requests(connect):
    app = handlers_app()
    app.state.release = threading.Event()
    client = connect(app)
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(client.get, "/block")
        time.sleep(0.05)  # /block is now waiting in the thread pool
        started = time.perf_counter()
        for _ in range(5):
            assert client.get("/fast").json() == "fast"
        elapsed = time.perf_counter() - started
        assert not blocked.done()
        app.state.release.set()
        assert blocked.result(IO_TIMEOUT).json() == "unblocked"
    assert elapsed < 1.0


def test_threaded_handler_sees_the_request_context():
    app = handlers_app()

    @app.middleware("http")
    async def tag(request, call_next):
        request_id.set("from-middleware")
        return await call_next(request)

    client = LiveClient(app)
    try:
        assert client.get("/threaded").json()["context"] == "from-middleware"
    finally:
        client.close()


# ---- the blocking warning ------------------------------------------------------------------


def test_blocking_sync_handler_warns_once_naming_the_route(connect, caplog, monkeypatch):
    monkeypatch.setattr(endpoints_module, "BLOCKING_WARN_SECONDS", 0.01)
    app = Pronghorn()

    @app.get("/reports/{year}")
    def slow_report(year):
        time.sleep(0.03)
        return year

    app.get("/quick")(lambda: "quick")
    client = connect(app)
    with caplog.at_level(logging.WARNING, logger="pronghorn.error"):
        client.get("/quick")
        client.get("/reports/2024")
        client.get("/reports/2025")
    warnings = [r for r in caplog.records if "blocked the event loop" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "GET /reports/{year}" in message
    assert "threaded=True" in message and "sync_handlers='threadpool'" in message


def test_threaded_and_async_handlers_never_warn(caplog, monkeypatch):
    monkeypatch.setattr(endpoints_module, "BLOCKING_WARN_SECONDS", 0.0)
    app = Pronghorn()
    app.get("/t", threaded=True)(lambda: time.sleep(0.01))

    @app.get("/a")
    async def slow_async():
        await asyncio.sleep(0.01)

    client = LiveClient(app)
    try:
        with caplog.at_level(logging.WARNING, logger="pronghorn.error"):
            client.get("/t")
            client.get("/a")
    finally:
        client.close()
    assert "blocked the event loop" not in caplog.text


def test_handler_results_and_plain_text(connect):
    app = Pronghorn()
    app.get("/sync")(lambda: PlainTextResponse("s"))

    @app.get("/async")
    async def handler():
        return PlainTextResponse("a")

    client = connect(app)
    assert (client.get("/sync").text, client.get("/async").text) == ("s", "a")


def test_docs_handlers_examples_run():
    run_markdown_examples("docs/handlers.md")
