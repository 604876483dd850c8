"""Errors (issue 3): HTTPException, exception handlers by class and by status,
unhandled exceptions (500, logged, traceback only with debug=True) and an
exception after the response started (the connection is aborted).

Through the TestClient (``raise_server_exceptions=False`` where the 500 is
what is checked) and over a real socket.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from pronghorn import HTTPException, JSONResponse, PlainTextResponse, Pronghorn, Request
from pronghorn.exceptions import RequestValidationError
from pronghorn.responses import StreamingResponse
from pronghorn.testclient import TestClient
from tests.conftest import LiveClient, run_markdown_examples


class OutOfStock(Exception):
    def __init__(self, item: str) -> None:
        self.item = item


class Discontinued(OutOfStock):
    pass


def errors_app(**options) -> Pronghorn:
    app = Pronghorn(**options)

    @app.get("/items/{name}")
    async def item(name):
        await asyncio.sleep(0)
        if name == "teapot":
            raise HTTPException(418, {"reason": "short and stout"}, headers={"x-pot": "tea"})
        raise HTTPException(404, f"no item {name!r}")

    @app.get("/default-detail")
    def default_detail():
        raise HTTPException(403)

    @app.get("/not-modified")
    def not_modified():
        raise HTTPException(304, headers={"etag": '"v1"'})

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    @app.get("/async-boom")
    async def async_boom():
        await asyncio.sleep(0)
        raise RuntimeError("async kaboom")

    return app


def test_http_exception_detail_and_headers(connect):
    client = connect(errors_app())
    response = client.get("/items/teapot")
    assert response.status_code == 418
    assert response.json() == {"detail": {"reason": "short and stout"}}
    assert response.headers["x-pot"] == "tea"
    response = client.get("/items/pen")
    assert (response.status_code, response.json()) == (404, {"detail": "no item 'pen'"})
    response = client.get("/default-detail")
    assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"})


def test_http_exception_without_body(connect):
    response = connect(errors_app()).get("/not-modified")
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == '"v1"'


def test_304_has_no_wrong_content_length(connect):
    response = connect(errors_app()).get("/not-modified")
    assert "content-length" not in response.headers


# ---- exception handlers ------------------------------------------------------------------


def handled_app() -> Pronghorn:
    app = errors_app()

    @app.exception_handler(OutOfStock)
    def out_of_stock(request: Request, exc: OutOfStock):
        return JSONResponse({"error": "out of stock", "item": exc.item,
                             "class": type(exc).__name__}, 409)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException):
        await asyncio.sleep(0)
        return PlainTextResponse(f"custom 404 for {request.path}: {exc.detail}", 404)

    @app.exception_handler(405)
    def not_allowed(request, exc):
        return PlainTextResponse("nope", 405, headers=exc.headers)

    @app.get("/stock/{name}")
    def stock(name):
        raise (Discontinued if name == "old" else OutOfStock)(name)

    @app.post("/only-post")
    def only_post():
        return "posted"

    return app


def test_handler_by_exception_class_sync(connect):
    client = connect(handled_app())
    response = client.get("/stock/pen")
    assert response.status_code == 409
    assert response.json() == {"error": "out of stock", "item": "pen", "class": "OutOfStock"}
    # A subclass finds its base class's handler (method resolution order).
    assert client.get("/stock/old").json()["class"] == "Discontinued"


def test_handler_by_status_async_custom_404(connect):
    client = connect(handled_app())
    response = client.get("/no/such/route")
    assert (response.status_code, response.text) == (
        404, "custom 404 for /no/such/route: Not Found")
    # The same handler answers a 404 raised by a handler.
    assert client.get("/items/pen").text == "custom 404 for /items/pen: no item 'pen'"
    # Other statuses keep the default answer.
    assert client.get("/items/teapot").status_code == 418


def test_handler_for_405_keeps_allow(connect):
    response = connect(handled_app()).get("/only-post")
    assert (response.status_code, response.text) == (405, "nope")
    assert response.headers["allow"] == "POST"


def test_handler_for_all_http_exceptions_and_validation_errors(connect):
    app = Pronghorn()

    @app.exception_handler(HTTPException)
    def any_http(request, exc):
        return JSONResponse({"status": exc.status_code, "message": exc.detail}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    def invalid(request, exc):
        return JSONResponse({"invalid": [e["loc"] for e in exc.errors()]}, 400)

    @app.get("/typed/{n}")
    def typed(n: int):
        return n

    client = connect(app)
    assert client.get("/missing").json() == {"status": 404, "message": "Not Found"}
    response = client.get("/typed/x")
    assert (response.status_code, response.json()) == (400, {"invalid": [["path", "n"]]})


def test_base_class_handlers_do_not_take_over_the_apps_own_answers(connect, transport):
    app = Pronghorn()

    @app.exception_handler(Exception)
    def unexpected(request, exc):
        return PlainTextResponse(f"unexpected {type(exc).__name__}", 500)

    @app.exception_handler(ValueError)  # RequestValidationError is a ValueError
    def bad_value(request, exc):
        return PlainTextResponse("bad value", 400)

    @app.get("/n/{n}")
    def number(n: int):
        if n == 0:
            raise ValueError("zero")
        raise LookupError("no such number")

    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    client = connect(app, **options)
    assert client.get("/missing").json() == {"detail": "Not Found"}  # not the Exception one
    assert client.get("/n/x").status_code == 422  # not the ValueError one
    assert client.get("/n/0").text == "bad value"
    assert client.get("/n/1").text == "unexpected LookupError"


# ---- unhandled exceptions -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/boom", "/async-boom"])
def test_unhandled_exception_is_500_logged_not_shown(connect, transport, caplog, path):
    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    with caplog.at_level(logging.ERROR, logger="pronghorn.error"):
        response = connect(errors_app(), **options).get(path)
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "kaboom" in caplog.text and "Traceback" in caplog.text
    assert f"GET {path}" in caplog.text


@pytest.mark.parametrize("path", ["/boom", "/async-boom"])
def test_debug_shows_the_traceback(connect, transport, caplog, path):
    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    with caplog.at_level(logging.CRITICAL, logger="pronghorn.error"):
        response = connect(errors_app(debug=True), **options).get(path)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("Traceback (most recent call last):")
    assert "RuntimeError: " in response.text and "kaboom" in response.text


def test_testclient_raises_the_unhandled_exception():
    with pytest.raises(RuntimeError, match="async kaboom"):
        TestClient(errors_app()).get("/async-boom")


def test_500_handler(connect, transport, caplog):
    app = errors_app()

    @app.exception_handler(500)
    def server_error(request, exc):
        return PlainTextResponse(f"sorry: {type(exc).__name__}", 500)

    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    with caplog.at_level(logging.CRITICAL, logger="pronghorn.error"):
        response = connect(app, **options).get("/boom")
    assert (response.status_code, response.text) == (500, "sorry: RuntimeError")


def test_exception_in_an_exception_handler_is_500(connect, transport, caplog):
    app = handled_app()

    @app.exception_handler(OutOfStock)
    def broken_handler(request, exc):
        raise ValueError("handler broke")

    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    with caplog.at_level(logging.ERROR, logger="pronghorn.error"):
        response = connect(app, **options).get("/stock/pen")
    assert response.status_code == 500
    assert "handler broke" in caplog.text


# ---- after the response started ------------------------------------------------------------


def test_exception_after_the_response_started_aborts_the_connection(connect, caplog):
    app = Pronghorn()

    @app.get("/half")
    def half():
        async def chunks():
            yield b"first part"
            await asyncio.sleep(0)
            raise RuntimeError("failed mid-body")

        return StreamingResponse(chunks())

    app.get("/next")(lambda: "next")
    client = connect(app)
    with pytest.raises(httpx.RemoteProtocolError):  # never a complete-looking response
        client.get("/half")
    assert "failed mid-body" in caplog.text
    assert client.get("/next").json() == "next"  # the server is fine


def test_exception_after_the_response_started_on_a_raw_socket():
    app = Pronghorn()

    @app.get("/half")
    def half():
        async def chunks():
            yield b"first part"
            raise RuntimeError("failed mid-body")

        return StreamingResponse(chunks())

    client = LiveClient(app)
    try:
        reply = client.server.raw_request(b"GET /half HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        client.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert b"first part" in reply
    assert not reply.endswith(b"0\r\n\r\n")  # no last chunk: the client knows it is cut


def test_docs_errors_examples_run():
    run_markdown_examples("docs/errors.md")
