"""Function middleware (issue 3): ``@app.middleware("http")``.

Order, changing the request and the response, short-circuiting, errors in
middleware, and that an app without middleware keeps the C router's fast
path (no Task, no coroutine for a sync route). Through the TestClient and
over a real socket.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from pronghorn import HTTPException, PlainTextResponse, Pronghorn, Request
from pronghorn.responses import StreamingResponse
from tests.conftest import run_markdown_examples


def middleware_app(events: list[str]) -> Pronghorn:
    app = Pronghorn()

    @app.get("/")
    def index(request: Request):
        events.append("handler")
        return {"user": getattr(request.state, "user", None)}

    @app.get("/async")
    async def async_index():
        await asyncio.sleep(0)
        events.append("handler")
        return "async"

    @app.get("/stream")
    def stream():
        return StreamingResponse(iter([b"a", b"b", b"c"]))

    @app.get("/boom")
    def boom():
        raise RuntimeError("handler failed")

    return app


def test_order_last_added_runs_first(connect):
    events: list[str] = []
    app = middleware_app(events)

    @app.middleware("http")
    async def inner(request, call_next):
        events.append("inner in")
        response = await call_next(request)
        events.append("inner out")
        return response

    @app.middleware("http")
    async def outer(request, call_next):
        events.append("outer in")
        response = await call_next(request)
        events.append("outer out")
        return response

    client = connect(app)
    for path in ("/", "/async"):
        events.clear()
        assert client.get(path).status_code == 200
        assert events == ["outer in", "inner in", "handler", "inner out", "outer out"]


def test_modify_request_and_response(connect):
    app = middleware_app([])

    @app.middleware("http")
    async def authenticate(request, call_next):
        request.state.user = request.headers.get("x-user", "anonymous")
        response = await call_next(request)
        response.headers["x-served-by"] = "middleware"
        response.set_cookie("seen", "1")
        return response

    client = connect(app)
    response = client.get("/", headers={"x-user": "ann"})
    assert response.json() == {"user": "ann"}
    assert response.headers["x-served-by"] == "middleware"
    assert response.cookies["seen"] == "1"
    streamed = client.get("/stream")  # streaming responses pass through untouched
    assert (streamed.text, streamed.headers["x-served-by"]) == ("abc", "middleware")


def test_short_circuit(connect):
    events: list[str] = []
    app = middleware_app(events)

    @app.middleware("http")
    async def require_token(request, call_next):
        if request.headers.get("authorization") != "Bearer ok":
            return PlainTextResponse("unauthorized", 401)
        return await call_next(request)

    client = connect(app)
    response = client.get("/")
    assert (response.status_code, response.text) == (401, "unauthorized")
    assert events == []  # the handler never ran
    assert client.get("/", headers={"authorization": "Bearer ok"}).status_code == 200


def test_middleware_sees_404_405_and_500(connect, transport, caplog):
    app = middleware_app([])
    seen = []

    @app.middleware("http")
    async def record(request, call_next):
        response = await call_next(request)
        seen.append(response.status_code)
        return response

    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    client = connect(app, **options)
    with caplog.at_level(logging.CRITICAL, logger="pronghorn.error"):
        client.get("/missing")
        client.post("/")
        client.get("/boom")
    assert seen == [404, 405, 500]


@pytest.mark.parametrize("is_http", [False, True])
def test_exception_in_middleware(connect, transport, caplog, is_http):
    app = middleware_app([])

    @app.middleware("http")
    async def broken(request, call_next):
        if is_http:
            raise HTTPException(429, "slow down", headers={"retry-after": "1"})
        raise RuntimeError("middleware failed")

    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    with caplog.at_level(logging.ERROR, logger="pronghorn.error"):
        response = connect(app, **options).get("/")
    if is_http:  # answered like a handler's HTTPException
        assert (response.status_code, response.json()) == (429, {"detail": "slow down"})
        assert response.headers["retry-after"] == "1"
    else:
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert "middleware failed" in caplog.text


def test_exception_after_call_next_goes_to_exception_handlers(connect):
    app = middleware_app([])

    @app.exception_handler(KeyError)
    def missing_key(request, exc):
        return PlainTextResponse(f"missing {exc.args[0]}", 400)

    @app.middleware("http")
    async def tenant(request, call_next):
        await call_next(request)
        raise KeyError("tenant")

    assert connect(app).get("/").text == "missing tenant"


def test_middleware_of_a_mounted_app_runs_under_the_mount_only(connect):
    events: list[str] = []
    sub = middleware_app(events)

    @sub.middleware("http")
    async def tag(request, call_next):
        response = await call_next(request)
        response.headers["x-sub"] = request.root_path
        return response

    app = Pronghorn()
    app.mount("/sub", sub)
    app.get("/")(lambda: "top")
    client = connect(app)
    assert client.get("/sub/async").headers["x-sub"] == "/sub"
    assert "x-sub" not in client.get("/").headers


def test_only_http_middleware():
    with pytest.raises(ValueError, match="http"):
        Pronghorn().middleware("websocket")


# ---- the cost of no middleware --------------------------------------------------------------


def test_without_middleware_the_c_router_calls_endpoints_directly():
    app = middleware_app([])
    options = app.engine_options()
    assert options["router"] is not None  # the engine's fast path
    assert options["app"] is app

    @app.middleware("http")
    async def passthrough(request, call_next):
        return await call_next(request)

    assert app.engine_options()["router"] is None  # everything goes through _handle now


def test_sync_route_without_middleware_runs_without_task_or_coroutine(connect, monkeypatch):
    app = Pronghorn()
    seen = {}

    @app.get("/")
    def index():
        seen["task"] = asyncio.current_task()
        return "ok"

    def fail(request):
        raise AssertionError("the fallback handler ran for a routed request")

    monkeypatch.setattr(app, "_handle", fail)
    assert connect(app).get("/").json() == "ok"
    assert seen["task"] is None


# ---- ASGI middleware classes: app.add_middleware --------------------------------------------


class ScopeRewriter:
    """A raw ASGI middleware: changes the scope and the response head."""

    def __init__(self, app, tag: str) -> None:
        self.app = app
        self.tag = tag

    async def __call__(self, scope, receive, send):
        scope = dict(scope, client=("203.0.113.9", 1234), scheme="https",
                     headers=[*scope["headers"], (b"x-tag", self.tag.encode())])
        scope["session"] = {"user": "ann"}

        async def wrapped_send(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message["headers"], (b"x-wrapped", b"1")])
            await send(message)

        await self.app(scope, receive, wrapped_send)


def asgi_app() -> Pronghorn:
    app = middleware_app([])

    @app.post("/echo")
    async def echo(request: Request):
        return {"body": (await request.body()).decode(), "client": list(request.client),
                "url": str(request.url), "tag": request.headers.get("x-tag"),
                "session": request.session}

    return app


def test_asgi_middleware_sees_and_changes_the_exchange(connect):
    app = asgi_app()
    app.add_middleware(ScopeRewriter, tag="t1")
    assert app.engine_options()["router"] is None
    client = connect(app)
    response = client.post("/echo", content=b"payload")
    assert response.headers["x-wrapped"] == "1"
    body = response.json()
    assert body["body"] == "payload" and body["tag"] == "t1"
    assert body["client"] == ["203.0.113.9", 1234]
    assert body["url"].startswith("https://") and body["session"] == {"user": "ann"}
    streamed = client.get("/stream")  # streamed bodies go through the middleware's send
    assert (streamed.text, streamed.headers["x-wrapped"]) == ("abc", "1")
    assert client.get("/missing").status_code == 404


def test_starlette_middleware_classes(connect):
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    app = middleware_app([])
    app.get("/big")(lambda: PlainTextResponse("x" * 5000))
    app.add_middleware(GZipMiddleware, minimum_size=100)
    app.add_middleware(CORSMiddleware, allow_origins=["https://example.org"], allow_methods=["*"])
    client = connect(app)
    response = client.get("/big", headers={"accept-encoding": "gzip", "origin":
                                           "https://example.org"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.text == "x" * 5000  # httpx decompresses
    preflight = client.options("/big", headers={
        "origin": "https://example.org", "access-control-request-method": "GET"})
    assert preflight.status_code == 200  # answered by the middleware itself
    strict = middleware_app([])
    strict.add_middleware(TrustedHostMiddleware, allowed_hosts=["good.example"])
    assert connect(strict).get("/").status_code == 400


def test_files_head_background_and_errors_under_asgi_middleware(connect, transport, tmp_path,
                                                                caplog):
    from pronghorn import BackgroundTask, FileResponse

    done = []
    (tmp_path / "f.txt").write_bytes(b"0123456789")
    app = middleware_app([])
    app.get("/file")(lambda: FileResponse(tmp_path / "f.txt"))
    app.get("/bg")(lambda: PlainTextResponse("ok", background=BackgroundTask(done.append, 1)))
    app.add_middleware(ScopeRewriter, tag="t")
    options = {"raise_server_exceptions": False} if transport == "testclient" else {}
    client = connect(app, **options)
    ranged = client.get("/file", headers={"range": "bytes=2-4"})
    assert (ranged.status_code, ranged.text) == (206, "234")
    assert ranged.headers["content-range"] == "bytes 2-4/10"
    etag = client.get("/file").headers["etag"]
    assert client.get("/file", headers={"if-none-match": etag}).status_code == 304
    head = client.head("/file")
    assert (head.headers["content-length"], head.content) == ("10", b"")
    assert client.get("/bg").text == "ok"
    with caplog.at_level(logging.CRITICAL, logger="pronghorn.error"):
        assert client.get("/boom").status_code == 500
    for _ in range(200):  # over a socket the task may still be running after the response
        if done:
            break
        time.sleep(0.01)
    assert done == [1]


def test_function_middleware_runs_inside_asgi_middleware(connect):
    events: list[str] = []
    app = middleware_app(events)

    @app.middleware("http")
    async def inner(request, call_next):
        events.append(f"function sees {request.headers.get('x-tag')}")
        return await call_next(request)

    app.add_middleware(ScopeRewriter, tag="outer")
    connect(app).get("/")
    assert events == ["function sees outer", "handler"]


def test_docs_middleware_examples_run():
    run_markdown_examples("docs/middleware.md")
