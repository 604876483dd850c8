"""The benchmark routes on pronghorn's native API (served by ``pronghorn run``).

Where pronghorn does not have a feature yet, the route does the same work by
hand, and ``NOTES`` says so (the runner prints it under the table):
typed query parameters (``q: str``) and typed bodies (``item: Item``).
"""

from __future__ import annotations

import asyncio

import msgspec

from benchmarks.apps.common import MESSAGE, PLAINTEXT, item_summary, many_routes
from pronghorn import PlainTextResponse, Pronghorn
from pronghorn.exceptions import RequestValidationError

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


def _missing_query(name: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}])


def _typed_query_supported() -> bool:
    async def probe(user_id: int, q: str): ...

    try:
        Pronghorn().get("/users/{user_id}")(probe)
    except TypeError:
        return False
    return True


if _typed_query_supported():
    @app.get("/users/{user_id}")
    async def get_user(user_id: int, q: str):
        return {"user_id": user_id, "q": q}
else:
    NOTES.append("params: `user_id: int` is converted by pronghorn; `q` is read from "
                 "`request.query_params` (typed query parameters are not supported yet)")

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, request):
        q = request.query_params.get("q")
        if q is None:
            raise _missing_query("q")
        return {"user_id": user_id, "q": q}


NOTES.append("post: the body is decoded with `msgspec.json.decode(await request.body(), "
             "type=Item)` (typed body parameters are not supported yet)")


@app.post("/items")
async def create_item(request):
    try:
        item = msgspec.json.decode(await request.body(), type=Item)
    except msgspec.ValidationError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ["body"], "msg": str(exc), "input": None}]) from None
    except msgspec.DecodeError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error",
              "input": None}]) from None
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
