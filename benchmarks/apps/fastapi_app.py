"""The benchmark routes on FastAPI, written the way its documentation teaches
(typed path and query parameters, a pydantic body model, async handlers)."""

from __future__ import annotations

import asyncio

import pydantic
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from benchmarks.apps.common import MESSAGE, PLAINTEXT, item_summary, many_routes

app = FastAPI()


class Item(pydantic.BaseModel):
    name: str
    price: float
    quantity: int
    tags: list[str]
    description: str
    attributes: dict[str, str]


@app.get("/", response_class=PlainTextResponse)
async def plaintext():
    return PLAINTEXT


@app.get("/json")
async def json():
    return MESSAGE


@app.get("/users/{user_id}")
async def get_user(user_id: int, q: str):
    return {"user_id": user_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return item_summary(item.name, item.quantity, item.tags)


@app.get("/sleep", response_class=PlainTextResponse)
async def sleep():
    await asyncio.sleep(0)
    return PLAINTEXT


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
