"""How the engine runs async handlers (src/pronghorn/_core/task.c).

A handler coroutine is stepped from C; these tests pin down that it still
behaves as if it ran in an asyncio Task: current_task(), asyncio.timeout(),
cancellation, contextvars isolation, exceptions, bare yields, and that a
handler which never waits completes synchronously.
"""
import asyncio
import contextvars
import gc

import pytest

from pronghorn import _core
from pronghorn.responses import PlainTextResponse

request_id = contextvars.ContextVar("request_id", default="unset")


def get(path):
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


async def roundtrip(conn, data, timeout=2.0):
    conn.feed(data)
    out = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        out += conn.output()
        if b"\r\n\r\n" in out:
            head, _, body = out.partition(b"\r\n\r\n")
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(body) >= length:
                return head.split(b" ", 2)[1].decode(), body
        if loop.time() > deadline:
            raise AssertionError(f"no complete response: {out!r}")
        await asyncio.sleep(0.001)


async def handler(request):
    path = request.path
    if path == "/current":
        task = asyncio.current_task()
        return PlainTextResponse(type(task).__name__)
    if path == "/current-after-wait":
        before = asyncio.current_task()
        await asyncio.sleep(0.001)
        return PlainTextResponse(str(before is asyncio.current_task() and before is not None))
    if path == "/timeout":
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        except TimeoutError:
            return PlainTextResponse("timed out")
        return PlainTextResponse("no timeout")
    if path == "/timeout-not-hit":
        async with asyncio.timeout(1):
            await asyncio.sleep(0)
        return PlainTextResponse("fine")
    if path == "/wait-for":
        try:
            await asyncio.wait_for(asyncio.sleep(1), 0.01)
        except TimeoutError:
            return PlainTextResponse("wait_for timed out")
    if path.startswith("/ctx/"):
        value = path.split("/")[2]
        request_id.set(value)
        await asyncio.sleep(0.002)
        return PlainTextResponse(request_id.get())
    if path == "/ctx-read":
        return PlainTextResponse(request_id.get())
    if path == "/bare-yield":
        for _ in range(3):
            await asyncio.sleep(0)
        return PlainTextResponse("yielded")
    if path == "/raise-after-wait":
        await asyncio.sleep(0)
        raise ValueError("boom")
    if path == "/future-exception":
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_exception, KeyError("k"))
        try:
            await fut
        except KeyError:
            return PlainTextResponse("caught")
    if path == "/self-cancel":
        asyncio.current_task().cancel()
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()
            return PlainTextResponse("cancel seen")
    if path == "/gather":
        results = await asyncio.gather(asyncio.sleep(0, "a"), asyncio.sleep(0.001, "b"))
        return PlainTextResponse("".join(results))
    if path == "/done-callback":
        seen = []
        task = asyncio.current_task()
        task.add_done_callback(lambda t: seen.append(t.done()))
        return PlainTextResponse("ok")
    return PlainTextResponse("plain")


@pytest.fixture
def server():
    srv = _core.Server(handler)
    yield srv
    srv.close_all()


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/current", "HandlerTask"),
        ("/current-after-wait", "True"),
        ("/timeout", "timed out"),
        ("/timeout-not-hit", "fine"),
        ("/wait-for", "wait_for timed out"),
        ("/bare-yield", "yielded"),
        ("/future-exception", "caught"),
        ("/self-cancel", "cancel seen"),
        ("/gather", "ab"),
        ("/done-callback", "ok"),
    ],
)
async def test_task_semantics(server, path, expected):
    conn = server.memory_connection()
    status, body = await roundtrip(conn, get(path))
    assert (status, body.decode()) == ("200", expected)


async def test_exception_after_wait_is_500(server, caplog):
    conn = server.memory_connection()
    status, body = await roundtrip(conn, get("/raise-after-wait"))
    assert status == "500"
    assert any("boom" in str(r.exc_info) for r in caplog.records if r.exc_info)


async def test_contextvars_isolated_between_requests(server):
    conns = [server.memory_connection() for _ in range(3)]
    results = await asyncio.gather(
        *(roundtrip(c, get(f"/ctx/{i}")) for i, c in enumerate(conns))
    )
    assert [body.decode() for _, body in results] == ["0", "1", "2"]
    # a value set by one request never leaks into a later one
    status, body = await roundtrip(server.memory_connection(), get("/ctx-read"))
    assert body == b"unset"
    assert request_id.get() == "unset"


async def test_handler_that_never_waits_completes_inside_feed(server):
    conn = server.memory_connection()
    conn.feed(get("/plain"))
    out = conn.output()  # no loop iteration in between
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"plain")


async def test_no_reference_cycles_leak_tasks(server):
    conn = server.memory_connection()
    for _ in range(5):
        await roundtrip(conn, get("/current-after-wait"))
    gc.collect()
    leaked = [o for o in gc.get_objects() if type(o).__name__ == "HandlerTask"]
    assert leaked == []
