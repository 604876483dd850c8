"""The benchmark routes on socketify.py's own API (uWebSockets; not ASGI).

Run: ``python -m benchmarks.apps.socketify_app PORT``. socketify has no
validation: the path parameter is converted with ``int()`` and the body is
decoded into a msgspec Struct, the same work as the pronghorn app.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec
from socketify import App

from benchmarks.apps.common import MESSAGE, PLAINTEXT, item_summary, many_routes

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
_encode = msgspec.json.encode


class Item(msgspec.Struct):
    name: str
    price: float
    quantity: int
    tags: list[str]
    description: str
    attributes: dict[str, str]


def _invalid(res, loc: list, kind: str, msg: str) -> None:
    body = {"detail": [{"type": kind, "loc": loc, "msg": msg, "input": None}]}
    res.send(_encode(body), content_type=JSON, status=422)


def plaintext(res, req):
    res.send(PLAINTEXT, content_type=TEXT)


async def json(res, req):
    res.send(_encode(MESSAGE), content_type=JSON)


async def get_user(res, req):
    try:
        user_id = int(req.get_parameter(0))
    except (TypeError, ValueError):
        return _invalid(res, ["path", "user_id"], "int_parsing", "Input should be a valid integer")
    q = req.get_query("q")
    if q is None:
        return _invalid(res, ["query", "q"], "missing", "Field required")
    res.send(_encode({"user_id": user_id, "q": q}), content_type=JSON)


def create_item(res, req):
    # The body arrives through on_data; socketify's `await res.get_data()` crashes the
    # process under load (a freed cffi handle in uws_generic_on_data_handler).
    chunks: list[bytes] = []

    def on_data(res, chunk, is_end):
        if chunk is not None:
            chunks.append(bytes(chunk))
        if is_end:
            try:
                item = msgspec.json.decode(b"".join(chunks), type=Item)
            except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
                return _invalid(res, ["body"], "value_error", str(exc))
            res.send(_encode(item_summary(item.name, item.quantity, item.tags)),
                     content_type=JSON)

    res.on_aborted(lambda res: None)
    res.on_data(on_data)


async def sleep(res, req):
    await asyncio.sleep(0)
    res.send(PLAINTEXT, content_type=TEXT)


def _static_route(i: int):
    body = {"route": i}

    async def static(res, req):
        res.send(_encode(body), content_type=JSON)

    return static


def _param_route(i: int):
    async def with_param(res, req):
        try:
            item_id = int(req.get_parameter(0))
        except (TypeError, ValueError):
            return _invalid(res, ["path", "item_id"], "int_parsing",
                            "Input should be a valid integer")
        res.send(_encode({"route": i, "item_id": item_id}), content_type=JSON)

    return with_param


def main(port: int) -> None:
    app = App()
    app.get("/", plaintext)
    app.get("/json", json)
    app.get("/users/:user_id", get_user)
    app.post("/items", create_item)
    app.get("/sleep", sleep)
    for i, param in many_routes():
        if param is None:
            app.get(f"/route{i}/info", _static_route(i))
        else:
            app.get(f"/route{i}/:{param}", _param_route(i))
    app.listen({"host": "127.0.0.1", "port": port}, lambda config: None)
    app.run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
