"""Background tasks (pronghorn.background): they run after the response is sent.

Over a socket the client has the whole response while the task is still
waiting; the TestClient, like Starlette's, returns once the tasks are done.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from pronghorn import PlainTextResponse, Pronghorn
from pronghorn.background import BackgroundTask, BackgroundTasks
from pronghorn.responses import StreamingResponse
from pronghorn.testclient import AsyncTestClient, TestClient
from tests.conftest import IO_TIMEOUT, LiveClient


class Gate:
    """Lets the test release a task (from any thread) and see that it finished."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()
        self.events: list[str] = []

    async def wait_async(self, label: str) -> None:
        while not self.release.is_set():
            await asyncio.sleep(0.005)
        self.events.append(label)
        self.finished.set()

    def wait_sync(self, label: str) -> None:
        assert self.release.wait(IO_TIMEOUT)
        self.events.append(label)
        self.finished.set()


def gated_app(gate: Gate) -> Pronghorn:
    app = Pronghorn()

    @app.get("/async-task")
    async def async_task():
        await asyncio.sleep(0)
        return PlainTextResponse("sent", background=BackgroundTask(gate.wait_async, "async"))

    @app.get("/sync-task")
    def sync_task():
        return PlainTextResponse("sent", background=BackgroundTask(gate.wait_sync, "sync"))

    @app.get("/streamed")
    def streamed():
        return StreamingResponse(iter([b"a", b"b"]),
                                 background=BackgroundTask(gate.wait_async, "stream"))

    @app.get("/injected")
    def injected(tasks: BackgroundTasks):
        tasks.add_task(gate.wait_sync, "injected")
        return {"queued": len(tasks.tasks)}

    return app


@pytest.mark.parametrize("path", ["/async-task", "/sync-task", "/streamed", "/injected"])
def test_client_has_the_response_before_the_task_finishes(path):
    gate = Gate()
    client = LiveClient(gated_app(gate))
    try:
        response = client.get(path)  # returns while the task waits for the test
        assert response.status_code == 200
        gate.events.append("response")
        assert not gate.finished.is_set()
        gate.release.set()
        assert gate.finished.wait(IO_TIMEOUT)
    finally:
        client.close()
    assert gate.events[0] == "response" and len(gate.events) == 2


def test_testclient_returns_after_the_tasks_like_starlette():
    done = []
    app = Pronghorn()

    @app.post("/signup")
    async def signup(tasks: BackgroundTasks):
        tasks.add_task(done.append, "email")

        async def audit():
            await asyncio.sleep(0.01)
            done.append("audit")

        tasks.add_task(audit)
        return {"ok": True}

    assert TestClient(app).post("/signup").json() == {"ok": True}
    assert done == ["email", "audit"]  # in order, both finished


async def test_async_testclient_waits_for_tasks_too():
    done = []
    app = Pronghorn()
    app.get("/")(lambda: PlainTextResponse("x", background=BackgroundTask(done.append, 1)))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/")).text == "x"
    assert done == [1]


def test_returned_response_runs_its_own_background():
    done = []
    app = Pronghorn()

    @app.get("/")
    def own(tasks: BackgroundTasks):
        tasks.add_task(done.append, "injected")
        return PlainTextResponse("x", background=BackgroundTask(done.append, "own"))

    TestClient(app).get("/")
    assert done[0] == "own"  # a response's own background is kept (and runs first)


def test_no_tasks_no_background():
    app = Pronghorn()
    seen = {}

    @app.get("/")
    def handler(tasks: BackgroundTasks):
        seen["tasks"] = tasks
        return PlainTextResponse("x")

    client = TestClient(app)
    client.get("/")
    first = seen["tasks"]
    client.get("/")
    assert seen["tasks"] is not first  # one per request


def test_failing_task_after_the_response(caplog):
    def broken():
        raise RuntimeError("task failed")

    app = Pronghorn()
    app.get("/")(lambda: PlainTextResponse("ok", background=BackgroundTask(broken)))
    with pytest.raises(RuntimeError, match="task failed"):  # re-raised by the TestClient
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.text) == (200, "ok")
    client = LiveClient(app)
    try:
        assert client.get("/").text == "ok"
    finally:
        client.close()
    assert "task failed" in caplog.text


def test_sync_task_runs_in_the_thread_pool():
    threads = {}
    app = Pronghorn()

    @app.get("/")
    async def handler():
        threads["loop"] = threading.get_ident()
        record = lambda: threads.setdefault("task", threading.get_ident())  # noqa: E731
        return PlainTextResponse("x", background=BackgroundTask(record))

    TestClient(app).get("/")
    assert threads["task"] != threads["loop"]
