"""What typed parameters cost per request, through the engine in memory.

Each route is served by a real engine (``_core.Server``) over one keep-alive
in-memory connection: every request is parsed, routed, dispatched to the
compiled endpoint, answered and written, with no socket. Compared:

- ``typed``: ``GET /users/{user_id}?q=`` with ``user_id: int, q: str | None = None``
  (the parameter plan does the work);
- ``by hand``: the same answer from ``int(request.path_params[...])`` and
  ``request.query_params.get("q")``;
- ``no params``: the same JSON, parameters not read at all;
- ``body``: ``POST /items`` of a 1 KB JSON body into a msgspec Struct parameter,
  and the same decoded by hand with ``msgspec.json.decode(..., type=Item)``.

Reported: instructions per request under callgrind (they do not move with
machine load: the numbers to compare) when valgrind is installed, and the
best wall time per request of a few rounds.

Usage: python benchmarks/params_cost.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pronghorn import Pronghorn, _core  # noqa: E402

app = Pronghorn()


class Item(msgspec.Struct):
    name: str
    price: float
    quantity: int
    tags: list[str]
    description: str
    attributes: dict[str, str]


@app.get("/users/{user_id}")
def typed(user_id: int, q: str | None = None):
    return {"user_id": user_id, "q": q}


@app.get("/hand/{user_id}")
def by_hand(request):
    return {"user_id": int(request.path_params["user_id"]), "q": request.query_params.get("q")}


@app.get("/none/{user_id}")
def no_params():
    return {"user_id": 12345, "q": "hello"}


@app.post("/items")
async def typed_body(item: Item):
    return {"name": item.name, "quantity": item.quantity}


@app.post("/items/hand")
async def body_by_hand(request):
    item = msgspec.json.decode(await request.body(), type=Item)
    return {"name": item.name, "quantity": item.quantity}


BODY = json.dumps({
    "name": "widget", "price": 12.5, "quantity": 3, "tags": [f"tag{i}" for i in range(40)],
    "description": "x" * 420, "attributes": {f"k{i}": f"value{i}" for i in range(20)},
}).encode()
HEAD = b"Host: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n"
CASES = {
    "typed": b"GET /users/12345?q=hello HTTP/1.1\r\n" + HEAD + b"\r\n",
    "by hand": b"GET /hand/12345?q=hello HTTP/1.1\r\n" + HEAD + b"\r\n",
    "no params": b"GET /none/12345?q=hello HTTP/1.1\r\n" + HEAD + b"\r\n",
    "body typed": b"POST /items HTTP/1.1\r\n" + HEAD + b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
    "body by hand": b"POST /items/hand HTTP/1.1\r\n" + HEAD + b"Content-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
}


async def serve(request: bytes, count: int) -> float:
    """Seconds per request for ``count`` requests on one in-memory connection."""
    server = _core.Server(app._handle, **app.engine_options())
    server.start(asyncio.get_running_loop())
    conn = server.memory_connection(client=("127.0.0.1", 50000), server=("bench", 80),
                                    scheme="http")
    feed, output = conn.feed, conn.output
    for _ in range(100):  # warm up, and check the route answers 200
        feed(request)
        await asyncio.sleep(0)
        assert output().startswith(b"HTTP/1.1 200"), "the route must answer 200"
    started = time.perf_counter()
    for _ in range(count):
        feed(request)
        await asyncio.sleep(0)  # lets an async handler that suspended finish
        output()
    elapsed = time.perf_counter() - started
    conn.close()
    server.close_all()
    return elapsed / max(count, 1)


def instructions(case: str, count: int) -> float | None:
    """Instructions per request under callgrind (difference of two runs), or None."""
    if not shutil.which("valgrind"):
        return None

    def run(n: int) -> int:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
             __file__, "--one", case, "--requests", str(n)],
            capture_output=True, text=True, check=True)
        line = next(x for x in done.stderr.splitlines() if "Collected" in x)
        return int(line.split()[-1])

    return (run(count) - run(0)) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a callgrind child: serve one case, nothing else
        asyncio.run(serve(CASES[args.one], args.requests))
        return
    print(f"{'route':14} {'instructions':>13} {'best µs':>9}")
    for case, request in CASES.items():
        best = min(asyncio.run(serve(request, args.requests)) for _ in range(5))
        counted = instructions(case, 2000)
        shown = "n/a" if counted is None else f"{counted:,.0f}"
        print(f"{case:14} {shown:>13} {best * 1e6:>9.2f}")


if __name__ == "__main__":
    main()
