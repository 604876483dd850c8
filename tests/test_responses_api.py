"""Responses as handlers use them (issue 3), checked on the wire.

Tests taking ``connect`` run through the TestClient and over a real socket.
Response construction in isolation is tests/test_responses.py; files are
tests/test_fileresponse.py; background tasks tests/test_background.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from decimal import Decimal

import msgspec
import pytest

from pronghorn import HTMLResponse, JSONResponse, PlainTextResponse, Pronghorn, Response
from pronghorn.responses import RedirectResponse, StreamingResponse
from tests.conftest import run_markdown_examples


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class User(msgspec.Struct):
    name: str
    tags: list[str]


UID = uuid.UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)

JSON_CASES = {
    "dict": ({"a": 1, "b": [True, None]}, {"a": 1, "b": [True, None]}),
    "list": ([1, "two", 3.5], [1, "two", 3.5]),
    "dataclass": (Point(1, 2), {"x": 1, "y": 2}),
    "struct": (User("ann", ["admin"]), {"name": "ann", "tags": ["admin"]}),
    "datetime": (WHEN, "2024-05-06T07:08:09Z"),
    "date": (WHEN.date(), "2024-05-06"),
    "uuid": (UID, str(UID)),
    "decimal": (Decimal("12.50"), 12.5),
    "enum": (Color.RED, "red"),
    "nested": ({"when": WHEN, "id": UID, "points": [Point(0, 1)]},
               {"when": "2024-05-06T07:08:09Z", "id": str(UID), "points": [{"x": 0, "y": 1}]}),
}


def json_app() -> Pronghorn:
    app = Pronghorn()
    for name, (value, _) in JSON_CASES.items():
        app.add_api_route(f"/json/{name}", lambda value=value: JSONResponse(value),
                          name=f"json-{name}")
        app.add_api_route(f"/plain/{name}", lambda value=value: value, name=f"plain-{name}")
    return app


@pytest.mark.parametrize("name", JSON_CASES)
def test_json_response_types(connect, name):
    client = connect(json_app())
    expected = JSON_CASES[name][1]
    for prefix in ("/json/", "/plain/"):  # JSONResponse(value), and a returned value
        response = client.get(prefix + name)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == expected


def content_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/text")
    def text():
        return PlainTextResponse("héllo", status_code=202, headers={"x-custom": "1"})

    @app.get("/html")
    def html():
        return HTMLResponse("<h1>hi</h1>")

    @app.get("/media")
    def media():
        return Response(b"a,b\n", media_type="text/csv")

    @app.get("/none")
    def none():
        return None

    @app.get("/str")
    def string():
        return "text"

    @app.post("/created", status_code=201)
    def created():
        return {"id": 1}

    @app.get("/page", response_class=HTMLResponse)
    def page():
        return "<p>page</p>"

    @app.get("/plain", response_class=PlainTextResponse, status_code=203)
    async def plain():
        return "plain"

    @app.get("/explicit", status_code=201)
    def explicit():
        return PlainTextResponse("the returned response wins", 200)

    @app.get("/empty", status_code=204)
    def empty():
        return None

    @app.get("/cookies")
    def cookies():
        response = PlainTextResponse("cookies")
        response.set_cookie("session", "abc", max_age=60, httponly=True)
        response.set_cookie("theme", "dark", path="/ui", samesite="strict", secure=True)
        response.delete_cookie("old")
        return response

    @app.get("/mutate")
    def mutate():
        response = JSONResponse({"ok": True})
        response.headers["x-one"] = "1"
        response.headers.append("x-many", "a")
        response.headers.append("x-many", "b")
        response.status_code = 299
        return response

    for code in (301, 302, 303, 307, 308):
        app.add_api_route(f"/redirect/{code}",
                          lambda code=code: RedirectResponse("/target path?q=ü", code),
                          name=f"redirect-{code}")
    return app


@pytest.mark.parametrize(("path", "status", "content_type", "body"), [
    ("/text", 202, "text/plain; charset=utf-8", "héllo".encode()),
    ("/html", 200, "text/html; charset=utf-8", b"<h1>hi</h1>"),
    ("/media", 200, "text/csv; charset=utf-8", b"a,b\n"),
    ("/none", 200, "application/json", b"null"),
    ("/str", 200, "application/json", b'"text"'),
    ("/page", 200, "text/html; charset=utf-8", b"<p>page</p>"),
    ("/plain", 203, "text/plain; charset=utf-8", b"plain"),
    ("/explicit", 200, "text/plain; charset=utf-8", b"the returned response wins"),
])
def test_content_status_and_media_type(connect, path, status, content_type, body):
    response = connect(content_app()).get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))


def test_status_code_option_and_204(connect):
    client = connect(content_app())
    response = client.post("/created")
    assert (response.status_code, response.json()) == (201, {"id": 1})
    response = client.get("/empty")
    assert (response.status_code, response.content) == (204, b"")
    assert "content-length" not in response.headers


def test_headers_given_and_mutated(connect):
    client = connect(content_app())
    assert client.get("/text").headers["x-custom"] == "1"
    response = client.get("/mutate")
    assert response.status_code == 299
    assert response.headers["x-one"] == "1"
    assert response.headers.get_list("x-many") == ["a", "b"]


def test_set_and_delete_cookie(connect):
    response = connect(content_app()).get("/cookies")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 3
    session, theme, old = cookies
    assert session.startswith("session=abc;") and "HttpOnly" in session
    assert "Max-Age=60" in session and "Path=/" in session and "SameSite=lax" in session
    assert "Path=/ui" in theme and "Secure" in theme and "SameSite=strict" in theme
    assert old.startswith('old="";') and "Max-Age=0" in old
    assert response.cookies["session"] == "abc"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_response(connect, code):
    response = connect(content_app(), follow_redirects=False).get(f"/redirect/{code}")
    assert response.status_code == code
    assert response.headers["location"] == "/target%20path?q=%C3%BC"
    assert response.content == b""


# ---- streaming ------------------------------------------------------------------------


def streaming_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/async")
    def async_stream():
        async def numbers():
            for i in range(5):
                yield f"{i}\n"

        return StreamingResponse(numbers(), media_type="text/plain")

    @app.get("/sync")
    def sync_stream():
        def numbers():  # runs in the thread pool: may block
            yield from (f"{i}\n".encode() for i in range(5))

        return StreamingResponse(numbers())

    @app.get("/sized")
    async def sized():
        return StreamingResponse(iter([b"abc", b"def"]), headers={"content-length": "6"})

    @app.get("/big")
    def big(request):
        size = int(request.query_params["size"])
        block = bytes(range(256)) * 256  # 64 KiB

        async def blocks():
            for _ in range(size // len(block)):
                yield block

        return StreamingResponse(blocks(), media_type="application/octet-stream")

    return app


@pytest.mark.parametrize("path", ["/async", "/sync"])
def test_streaming_response_is_chunked_on_the_wire(connect, path):
    response = connect(streaming_app()).get(path)
    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert response.text == "0\n1\n2\n3\n4\n"


def test_streaming_response_with_content_length(connect):
    response = connect(streaming_app()).get("/sized")
    assert response.headers["content-length"] == "6"
    assert "transfer-encoding" not in response.headers
    assert response.content == b"abcdef"


def test_streaming_raw_chunks_over_a_socket():
    from tests.conftest import LiveServer

    server = LiveServer(streaming_app())
    try:
        reply = server.raw_request(b"GET /async HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        server.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"2\r\n0\n\r\n2\r\n1\n\r\n2\r\n2\n\r\n2\r\n3\n\r\n2\r\n4\n\r\n0\r\n\r\n"


def test_streaming_with_backpressure(connect, transport):
    size = 8 * 1024 * 1024
    client = connect(streaming_app())
    received = bytearray()
    with client.stream("GET", "/big", params={"size": size}) as response:
        for piece in response.iter_bytes(4096):  # read slowly, in small pieces
            received += piece
    assert len(received) == size
    assert received[:256] == bytes(range(256)) and received[-256:] == bytes(range(256))


# ---- header validation ------------------------------------------------------------------


def validation_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/constructor")
    def constructor():
        return Response(b"x", headers={"x-evil": "a\r\nInjected: 1"})

    @app.get("/mutation")
    def mutation():
        response = Response(b"x")
        response.headers["x-evil"] = "a\nInjected: 1"
        return response

    @app.get("/raw")
    def raw():
        response = Response(b"x")
        response.raw_headers.append((b"x-evil", b"a\x00b"))  # past the validator: the engine
        return response

    @app.get("/name")
    def name():
        return Response(b"x", headers={"x evil": "1"})

    return app


@pytest.mark.parametrize("path", ["/constructor", "/mutation", "/raw", "/name"])
def test_invalid_header_is_an_error_never_written(connect, transport, path):
    client = connect(validation_app())
    if transport == "testclient" and path != "/raw":
        # The handler's ValueError, re-raised by the TestClient; the client got a 500.
        with pytest.raises(ValueError, match="not allowed|invalid header name"):
            client.get(path)
        return
    response = client.get(path)
    assert response.status_code == 500
    assert "injected" not in response.headers and "x-evil" not in response.headers
    assert b"Injected" not in response.content


@pytest.mark.parametrize("bad", [{"x-a": "1\r\n"}, {"x-a\n": "1"}, {"x-a": "\x00"}])
def test_header_validation_in_constructors(bad):
    for cls in (Response, JSONResponse, PlainTextResponse):
        with pytest.raises(ValueError):
            cls("x" if cls is not Response else b"x", headers=bad)
    with pytest.raises(ValueError):
        StreamingResponse(iter(()), headers=bad)
    with pytest.raises(ValueError):
        RedirectResponse("/", headers=bad)


def test_redirect_location_cannot_inject_headers():
    response = RedirectResponse("/a\r\nx-evil: 1")
    assert response.headers["location"] == "/a%0D%0Ax-evil:%201"


def test_docs_responses_examples_run():
    run_markdown_examples("docs/responses.md")
