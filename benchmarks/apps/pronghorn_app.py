"""The benchmark routes on pronghorn's native API (served by ``pronghorn run``).

Written as the FastAPI app is: typed path and query parameters
(``user_id: int, q: str``) and a typed JSON body (``item: Item``, a msgspec
Struct decoded by the route's compiled plan). Where pronghorn does not have
a feature, a route does the same work by hand and ``NOTES`` says so (the
runner prints it under the table).
"""

from __future__ import annotations

import asyncio

import msgspec

from benchmarks.apps.common import MESSAGE, PLAINTEXT, item_summary, many_routes
from pronghorn import PlainTextResponse, Pronghorn

app = Pronghorn()
NOTES: list[str] = []


class Item(msgspec.Struct):
    name: str
    price: float
    quantity: int
    tags: list[str]
    description: str
    attributes: dict[str, str]


@app.get("/")
def plaintext():
    return PlainTextResponse(PLAINTEXT)


@app.get("/json")
async def json():
    return MESSAGE


@app.get("/users/{user_id}")
async def get_user(user_id: int, q: str):
    return {"user_id": user_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return item_summary(item.name, item.quantity, item.tags)


@app.get("/sleep")
async def sleep():
    await asyncio.sleep(0)
    return PlainTextResponse(PLAINTEXT)


def _static_route(i: int):
    async def static():
        return {"route": i}

    return static


def _param_route(i: int):
    async def with_param(item_id: int):
        return {"route": i, "item_id": item_id}

    return with_param


for _i, _param in many_routes():
    if _param is None:
        app.get(f"/route{_i}/info")(_static_route(_i))
    else:
        app.get(f"/route{_i}/{{{_param}}}")(_param_route(_i))
