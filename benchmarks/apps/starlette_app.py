"""The benchmark routes on Starlette (served by uvicorn, granian and pronghorn's ASGI server).

Starlette has no validation of its own: the path parameter is converted with
``int()``, and the body is validated into a pydantic model, as a Starlette
user would do it; invalid input gets FastAPI's 422 shape.
"""

from __future__ import annotations

import asyncio

import pydantic
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from benchmarks.apps.common import MESSAGE, PLAINTEXT, item_summary, many_routes


class Item(pydantic.BaseModel):
    name: str
    price: float
    quantity: int
    tags: list[str]
    description: str
    attributes: dict[str, str]


def _invalid(errors: list) -> JSONResponse:
    return JSONResponse({"detail": errors}, 422)


async def plaintext(request: Request) -> PlainTextResponse:
    return PlainTextResponse(PLAINTEXT)


async def json(request: Request) -> JSONResponse:
    return JSONResponse(MESSAGE)


async def get_user(request: Request) -> JSONResponse:
    raw = request.path_params["user_id"]
    try:
        user_id = int(raw)
    except ValueError:
        return _invalid([{"type": "int_parsing", "loc": ["path", "user_id"], "input": raw,
                          "msg": "Input should be a valid integer"}])
    q = request.query_params.get("q")
    if q is None:
        return _invalid([{"type": "missing", "loc": ["query", "q"], "input": None,
                          "msg": "Field required"}])
    return JSONResponse({"user_id": user_id, "q": q})


async def create_item(request: Request) -> JSONResponse:
    try:
        item = Item.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:
        return _invalid(exc.errors(include_url=False, include_context=False))
    return JSONResponse(item_summary(item.name, item.quantity, item.tags))


async def sleep(request: Request) -> PlainTextResponse:
    await asyncio.sleep(0)
    return PlainTextResponse(PLAINTEXT)


def _static_route(i: int):
    async def static(request: Request) -> JSONResponse:
        return JSONResponse({"route": i})

    return static


def _param_route(i: int):
    async def with_param(request: Request) -> JSONResponse:
        raw = request.path_params["item_id"]
        try:
            item_id = int(raw)
        except ValueError:
            return _invalid([{"type": "int_parsing", "loc": ["path", "item_id"], "input": raw,
                              "msg": "Input should be a valid integer"}])
        return JSONResponse({"route": i, "item_id": item_id})

    return with_param


routes = [
    Route("/", plaintext),
    Route("/json", json),
    Route("/users/{user_id}", get_user),
    Route("/items", create_item, methods=["POST"]),
    Route("/sleep", sleep),
]
for _i, _param in many_routes():
    if _param is None:
        routes.append(Route(f"/route{_i}/info", _static_route(_i)))
    else:
        routes.append(Route(f"/route{_i}/{{{_param}}}", _param_route(_i)))

app = Starlette(routes=routes)
