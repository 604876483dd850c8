"""What each kind of handler costs, and what a blocking one does to the others.

Drives a Pronghorn app through in-memory engine connections (the same
parser, router and writer as on a socket, without the kernel), fed from a
loop callback as the epoll callback feeds them. Prints:

- the cost per request of a sync handler and of an async handler that
  never suspends (both are answered inside ``feed``, no asyncio Task);
- the extra cost of an async handler that suspends once and of a
  ``threaded=True`` handler (a thread-pool round trip);
- how long a fast request waits behind a handler that blocks for 50 ms,
  inline on the loop versus ``threaded=True``.

Timings depend on the machine; compare the rows with each other.
Usage: python benchmarks/handlers.py
"""

from __future__ import annotations

import asyncio
import time

from pronghorn import PlainTextResponse, Pronghorn, _core

app = Pronghorn()
BLOCK_SECONDS = 0.05


@app.get("/sync")
def sync_handler():
    return PlainTextResponse("x")


@app.get("/async")
async def async_handler():
    return PlainTextResponse("x")


@app.get("/async-suspends")
async def async_suspends():
    await asyncio.sleep(0)
    return PlainTextResponse("x")


@app.get("/threaded", threaded=True)
def threaded_handler():
    return PlainTextResponse("x")


@app.get("/block-inline")
def block_inline():
    time.sleep(BLOCK_SECONDS)
    return PlainTextResponse("x")


@app.get("/block-threaded", threaded=True)
def block_threaded():
    time.sleep(BLOCK_SECONDS)
    return PlainTextResponse("x")


def request(path: str) -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path.encode()


def answered_inside_feed(engine, path: str, n: int) -> float:
    """Seconds per request for handlers that finish inside feed()."""
    conn = engine.memory_connection()
    data = request(path)
    started = time.perf_counter()
    for _ in range(n):
        conn.feed(data)
        if not conn.output():
            raise RuntimeError(f"{path} did not answer inside feed()")
    return (time.perf_counter() - started) / n


async def awaited(engine, path: str, n: int) -> float:
    """Seconds per request, each fed from a loop callback and awaited."""
    loop = asyncio.get_running_loop()
    conn = engine.memory_connection()
    data = request(path)
    started = time.perf_counter()
    for _ in range(n):
        done = conn.wait_output()
        loop.call_soon(conn.feed, data)
        await done
        conn.output()
    return (time.perf_counter() - started) / n


async def in_callback(func, *args):
    loop = asyncio.get_running_loop()
    result = loop.create_future()
    loop.call_soon(lambda: result.set_result(func(*args)))
    return await result


async def waiting_behind(engine, blocker: str) -> float:
    """Seconds a fast request waits when it arrives together with ``blocker``."""
    loop = asyncio.get_running_loop()
    slow, fast = engine.memory_connection(), engine.memory_connection()
    started = time.perf_counter()
    done = fast.wait_output()
    loop.call_soon(slow.feed, request(blocker))
    loop.call_soon(fast.feed, request("/sync"))
    await done
    waited = time.perf_counter() - started
    await asyncio.sleep(BLOCK_SECONDS * 2)
    slow.output()
    return waited


async def main() -> None:
    engine = _core.Server(app._handle, **app.engine_options())
    engine.start(asyncio.get_running_loop())
    try:
        for path in ("/sync", "/async"):
            best = min([await in_callback(answered_inside_feed, engine, path, 20000)
                        for _ in range(5)])
            print(f"{path:18} {best * 1e6:8.2f} us/request (answered inside feed)")
        base = min([await awaited(engine, "/sync", 5000) for _ in range(3)])
        for path, n in (("/async-suspends", 5000), ("/threaded", 2000)):
            best = min([await awaited(engine, path, n) for _ in range(3)])
            print(f"{path:18} {(best - base) * 1e6:+8.2f} us/request over /sync")
        for blocker in ("/block-inline", "/block-threaded"):
            waited = await waiting_behind(engine, blocker)
            print(f"/sync behind {blocker:15} waits {waited * 1e3:6.2f} ms")
    finally:
        engine.close_all()


if __name__ == "__main__":
    asyncio.run(main())
