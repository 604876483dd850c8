"""pronghorn.testclient: TestClient and AsyncTestClient over the in-memory engine."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from pronghorn import HTTPException, PlainTextResponse, Pronghorn, Request, Response
from pronghorn._wire import ResponseReader
from pronghorn.testclient import AsyncTestClient, TestClient, _ResponseReader
from tests.conftest import run_markdown_examples


class Boom(Exception):
    pass


def make_app() -> tuple[Pronghorn, dict]:
    app = Pronghorn()
    seen: dict = {"events": []}

    async def startup():
        seen["events"].append("startup")
        seen["startup_loop"] = asyncio.get_running_loop()

    def shutdown():
        seen["events"].append("shutdown")

    app.add_event_handler("startup", startup)
    app.add_event_handler("shutdown", shutdown)

    @app.get("/")
    def index():
        return {"hello": "world"}

    @app.get("/loop")
    async def loop_route():
        await asyncio.sleep(0)
        return {"same_loop": asyncio.get_running_loop() is seen.get("startup_loop")}

    @app.get("/sleep")
    async def sleep_route():
        await asyncio.sleep(0.2)
        return "slept"

    @app.get("/boom")
    def boom():
        raise Boom("sync boom")

    @app.get("/aboom")
    async def aboom():
        await asyncio.sleep(0)
        raise Boom("async boom")

    @app.get("/http-error")
    def http_error():
        raise HTTPException(409, "conflict")

    @app.get("/redirect")
    def redirect(request: Request):
        target = request.query_params.get("to", "/")
        return Response(b"", 307, {"location": target})

    @app.get("/set-cookie")
    def set_cookie():
        return Response(b"", 200, {"set-cookie": "session=abc123; Path=/"})

    @app.get("/cookies")
    def cookies(request: Request):
        return request.cookies

    @app.get("/headers")
    def headers(request: Request):
        return dict(request.headers)

    @app.get("/request-info")
    def request_info(request: Request):
        return {"url": str(request.url), "client": list(request.client or ())}

    @app.post("/echo")
    async def echo(request: Request):
        return PlainTextResponse(await request.body())

    return app, seen


@pytest.fixture
def app_and_seen():
    return make_app()


@pytest.fixture
def app(app_and_seen):
    return app_and_seen[0]


@pytest.fixture
def seen(app_and_seen):
    return app_and_seen[1]


def portal_threads() -> int:
    return sum(t.name == "pronghorn-testclient" for t in threading.enumerate())


# ---- lifespan ---------------------------------------------------------------------------


def test_lifespan_runs_around_the_with_block_on_the_handlers_loop(app, seen):
    with TestClient(app) as client:
        assert seen["events"] == ["startup"]
        assert client.get("/loop").json() == {"same_loop": True}
        assert client.get("/").json() == {"hello": "world"}
    assert seen["events"] == ["startup", "shutdown"]
    assert portal_threads() == 0


def test_no_lifespan_outside_a_with_block(app, seen):
    client = TestClient(app)
    assert client.get("/").status_code == 200
    assert client.get("/loop").json() == {"same_loop": False}
    assert seen["events"] == []
    assert portal_threads() == 0


def test_with_block_can_be_repeated_but_not_nested(app, seen):
    client = TestClient(app)
    with client:
        with pytest.raises(RuntimeError, match="already running"):
            client.__enter__()
    with client:
        assert client.get("/").status_code == 200
    assert seen["events"] == ["startup", "shutdown", "startup", "shutdown"]


def test_startup_failure_is_raised_from_enter():
    app = Pronghorn()

    def broken():
        raise RuntimeError("database is down")

    app.add_event_handler("startup", broken)
    with pytest.raises(RuntimeError, match="database is down"):
        with TestClient(app):
            pass  # pragma: no cover
    assert portal_threads() == 0


# ---- exceptions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "message"), [("/boom", "sync boom"), ("/aboom", "async boom")])
def test_server_exceptions_are_raised_by_default(app, path, message):
    with TestClient(app) as client:
        with pytest.raises(Boom, match=message):
            client.get(path)
        assert client.get("/").status_code == 200  # the client still works


@pytest.mark.parametrize("path", ["/boom", "/aboom"])
def test_server_exceptions_become_500_when_not_raised(app, path):
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(path)
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_http_exception_is_a_response_not_a_server_exception(app):
    response = TestClient(app).get("/http-error")
    assert (response.status_code, response.json()) == (409, {"detail": "conflict"})


def test_plain_handler_app():
    def handler(request):
        if request.path == "/fail":
            raise Boom("plain")
        return PlainTextResponse(f"plain {request.method}")

    client = TestClient(handler)
    assert client.get("/").text == "plain GET"
    with pytest.raises(Boom):
        client.get("/fail")
    assert TestClient(handler, raise_server_exceptions=False).get("/fail").status_code == 500


# ---- httpx features ----------------------------------------------------------------------


def test_redirects_are_followed(app):
    client = TestClient(app)
    response = client.get("/redirect", params={"to": "/redirect?to=/"})
    assert response.status_code == 200 and response.json() == {"hello": "world"}
    assert [r.status_code for r in response.history] == [307, 307]
    assert response.url == "http://testserver/"


def test_redirects_not_followed_when_asked(app):
    response = TestClient(app, follow_redirects=False).get("/redirect")
    assert response.status_code == 307 and response.headers["location"] == "/"
    response = TestClient(app).get("/redirect", follow_redirects=False)
    assert response.is_redirect


def test_cookies_round_trip(app):
    client = TestClient(app)
    client.get("/set-cookie")
    assert client.cookies["session"] == "abc123"
    assert client.get("/cookies").json() == {"session": "abc123"}


def test_client_and_per_request_cookies(app):
    client = TestClient(app, cookies={"a": "1"})
    assert client.get("/cookies").json() == {"a": "1"}
    # per-request cookies work without httpx's deprecation warning (warnings are errors here)
    assert client.get("/cookies", cookies={"b": "2"}).json() == {"a": "1", "b": "2"}


def test_default_and_custom_headers(app):
    client = TestClient(app, headers={"x-token": "t"})
    headers = client.get("/headers", headers={"x-extra": "e"}).json()
    assert headers["user-agent"] == "testclient"
    assert headers["host"] == "testserver"
    assert (headers["x-token"], headers["x-extra"]) == ("t", "e")


def test_base_url_and_client_address(app):
    client = TestClient(app, base_url="http://example.org:8080", client=("10.1.2.3", 1234))
    assert client.get("/request-info?q=1").json() == {
        "url": "http://example.org:8080/request-info?q=1", "client": ["10.1.2.3", 1234]}
    assert TestClient(app).get("/request-info").json()["client"] == ["testclient", 50000]


def test_methods_and_bodies(app):
    client = TestClient(app)
    assert client.post("/echo", content=b"raw").text == "raw"
    assert client.post("/echo", json={"a": 1}).text == '{"a":1}'
    assert client.post("/echo", data={"a": "1 2"}).text == "a=1+2"
    assert client.request("POST", "/echo", content="text").text == "text"
    assert client.put("/echo").status_code == 405
    assert client.delete("/").headers["allow"] == "GET, HEAD"
    assert client.options("/").status_code == 405
    assert client.patch("/echo").status_code == 405


def test_head_has_headers_but_no_body(app):
    client = TestClient(app)
    get = client.get("/")
    head = client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_response_metadata(app):
    response = TestClient(app).get("/")
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "OK"
    assert response.headers["content-type"] == "application/json"
    assert "date" in response.headers


# ---- the engine's own behaviour applies ------------------------------------------------------


def test_expect_100_continue(app):
    response = TestClient(app).post("/echo", content=b"payload",
                                    headers={"expect": "100-continue"})
    assert (response.status_code, response.text) == (200, "payload")


def test_engine_limits_apply(app):
    client = TestClient(app)
    too_many = [(f"x-h{i}", "v") for i in range(101)]
    assert client.get("/", headers=too_many).status_code == 431
    assert client.get("/" + "a" * 9000).status_code == 414


def test_chunked_upload_reaches_the_handler_in_pieces(app):
    def body():
        yield b"a" * 10
        yield b"b" * 10

    assert TestClient(app).post("/echo", content=body()).text == "a" * 10 + "b" * 10


# ---- inside a running event loop --------------------------------------------------------------


async def test_testclient_works_inside_an_async_test(app, seen):
    with TestClient(app) as client:
        assert client.get("/loop").json() == {"same_loop": True}
        assert seen["startup_loop"] is not asyncio.get_running_loop()


async def test_async_test_client(app, seen):
    async with AsyncTestClient(app) as client:
        assert seen["startup_loop"] is asyncio.get_running_loop()
        assert (await client.get("/loop")).json() == {"same_loop": True}
        assert (await client.post("/echo", json=[1])).text == "[1]"
        with pytest.raises(Boom):
            await client.get("/aboom")
        await client.get("/set-cookie")
        assert (await client.get("/cookies")).json() == {"session": "abc123"}
        redirected = await client.get("/redirect")
        assert redirected.json() == {"hello": "world"}
    assert seen["events"] == ["startup", "shutdown"]


async def test_async_test_client_without_lifespan(app, seen):
    client = AsyncTestClient(app, raise_server_exceptions=False)
    assert (await client.get("/boom")).status_code == 500
    assert (await client.get("/", cookies={"x": "1"})).json() == {"hello": "world"}
    assert seen["events"] == []
    await client.aclose()


async def test_async_test_client_runs_requests_concurrently(app):
    async with AsyncTestClient(app) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get("/sleep") for _ in range(5)))
        elapsed = time.monotonic() - started
    assert [r.json() for r in responses] == ["slept"] * 5
    assert elapsed < 0.8  # five 0.2 s sleeps overlapped


# ---- reading the engine's responses -------------------------------------------------------------


def reader_for(data: bytes, method: str = "GET", eof: bool = False) -> _ResponseReader:
    reader = _ResponseReader(method)
    for i in range(len(data)):  # byte by byte: framing must not depend on how output arrives
        reader.feed(data[i:i + 1])
    if eof:
        reader.feed_eof()
    return reader


def test_reader_content_length_and_interim_response():
    reader = reader_for(b"HTTP/1.1 100 Continue\r\n\r\n"
                        b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nX: y\r\n\r\nabc")
    assert (reader.complete, reader.status, reader.reason, reader.body) == (
        True, 201, b"Created", b"abc")
    assert reader.headers == [(b"Content-Length", b"3"), (b"X", b"y")]


def test_reader_chunked_uses_the_engine_decoder():
    reader = reader_for(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Checksum: x\r\n\r\n")
    assert reader.complete and reader.body == b"abcde"
    with pytest.raises(httpx.RemoteProtocolError, match="invalid chunked response"):
        reader_for(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n")


def test_reader_body_until_close_and_no_body_cases():
    reader = reader_for(b"HTTP/1.1 200 OK\r\n\r\nuntil close", eof=True)
    assert reader.complete and reader.body == b"until close"
    assert reader_for(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD").complete
    assert reader_for(b"HTTP/1.1 204 No Content\r\n\r\n").complete


def test_reader_incomplete_response_is_an_error():
    with pytest.raises(httpx.RemoteProtocolError, match="without a complete response"):
        reader_for(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", eof=True)


WIRE_RESPONSES = [
    (False, b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"),
    (False, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Checksum: x\r\n\r\n"),
    (False, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n"),
    (False, b"HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nuntil close"),
    (True, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
    (False, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
]


def wire_read(pieces: list[bytes], head_request: bool) -> tuple:
    """Everything a ResponseReader gives for ``pieces`` fed in turn, then the EOF."""
    reader = ResponseReader(head_request=head_request)
    events = [event for piece in pieces for event in reader.feed(piece)]
    events += reader.feed_eof()
    body = b"".join(event[1] for event in events if event[0] == "body")
    kinds = [event for event in events if event[0] != "body"]
    return kinds, body, reader.status, reader.reason, reader.raw_headers, reader.buffer


@pytest.mark.parametrize("head_request, data", WIRE_RESPONSES)
def test_wire_reader_gives_the_same_result_for_any_split(head_request, data):
    whole = wire_read([data], head_request)
    assert wire_read([data[i:i + 1] for i in range(len(data))], head_request) == whole
    for cut in range(1, len(data)):
        assert wire_read([data[:cut], data[cut:]], head_request) == whole


def test_wire_reader_keeps_the_final_head_whole_and_the_bytes_after_it():
    kinds, body, status, reason, raw, rest = wire_read([WIRE_RESPONSES[0][1]], False)
    assert kinds == [("head", 201, [(b"content-length", b"3")]), ("end",)]  # hop-by-hop out
    assert (body, status, reason) == (b"abc", 201, b"Created")
    assert raw == [(b"Content-Length", b"3"), (b"Connection", b"keep-alive")]  # as written
    assert wire_read([WIRE_RESPONSES[2][1]], False)[1] == b"zz"  # chunked is the last coding
    kinds, body, status, _, _, rest = wire_read([WIRE_RESPONSES[5][1]], False)
    assert (status, body, rest) == (101, b"", b"\x81\x02hi")  # a 101's first frame is kept


def test_docs_testing_examples_run():
    run_markdown_examples("docs/testing.md")


def test_server_address_and_scheme_follow_the_url():
    app = Pronghorn()

    @app.get("/where")
    def where(request: Request):
        return {"server": list(request.server), "scheme": request.scheme,
                "client": list(request.client), "url": str(request.url)}

    client = TestClient(app, base_url="https://api.example:8443", client=("2001:db8::7", 4000))
    assert client.get("/where").json() == {
        "server": ["api.example", 8443], "scheme": "https", "client": ["2001:db8::7", 4000],
        "url": "https://api.example:8443/where"}
    assert TestClient(app).get("/where").json()["server"] == ["testserver", 80]
    assert TestClient(app).get("https://secure.example/where").json()["server"] == [
        "secure.example", 443]


def test_pronghorn_apps_are_served_through_the_c_router():
    app = Pronghorn()
    calls = []
    original = app._handle

    def spy(request):
        calls.append(request.path)
        return original(request)

    app._handle = spy  # the engine's fallback handler: only what the C router does not route

    @app.get("/routed")
    def routed():
        return "ok"

    client = TestClient(app)
    assert client.get("/routed").json() == "ok"
    assert client.get("/missing").status_code == 404
    assert calls == ["/missing"]
