"""Response objects expose exactly what the C writer reads, validated once."""

import msgspec
import pytest

from pronghorn.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    json_response,
)


def test_response_defaults():
    r = Response()
    assert r.status_code == 200
    assert r.body == b""
    assert r.raw_headers == []


def test_response_bytes_and_str_content():
    assert Response(b"abc").body == b"abc"
    assert Response("héllo").body == "héllo".encode()
    assert Response(bytearray(b"xy")).body == b"xy"
    assert Response(None).body == b""


def test_response_rejects_other_content():
    with pytest.raises(TypeError):
        Response({"a": 1})


def test_media_type_sets_content_type():
    r = Response(b"x", media_type="application/octet-stream")
    assert r.raw_headers == [(b"content-type", b"application/octet-stream")]


@pytest.mark.parametrize(
    ("cls", "content_type"),
    [
        (PlainTextResponse, b"text/plain; charset=utf-8"),
        (HTMLResponse, b"text/html; charset=utf-8"),
        (JSONResponse, b"application/json"),
    ],
)
def test_subclass_content_types(cls, content_type):
    r = cls("x")
    assert (b"content-type", content_type) in r.raw_headers
    assert [name for name, _ in r.raw_headers].count(b"content-type") == 1


def test_plain_text_body():
    r = PlainTextResponse("Hello, world!", status_code=201)
    assert r.status_code == 201
    assert r.body == b"Hello, world!"


def test_json_response_uses_msgspec():
    data = {"a": [1, 2.5, None, True], "b": "é"}
    r = JSONResponse(data)
    assert r.body == msgspec.json.encode(data)
    assert msgspec.json.decode(r.body) == data


def test_json_response_str_is_json_encoded():
    assert JSONResponse("hi").body == b'"hi"'


def test_json_response_helper_matches_class():
    r = json_response({"x": 1})
    assert isinstance(r, JSONResponse)
    assert (r.status_code, r.body, r.raw_headers) == (200, b'{"x":1}', JSONResponse({"x": 1}).raw_headers)


def test_headers_lowercased_and_bytes():
    r = Response(b"", headers={"X-Thing": "1", b"X-Other": b"2"})
    assert r.raw_headers == [(b"x-thing", b"1"), (b"x-other", b"2")]


def test_headers_as_pairs_keep_duplicates_and_order():
    r = Response(b"", headers=[("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert r.raw_headers == [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_explicit_content_type_wins():
    r = PlainTextResponse("x", headers={"Content-Type": "text/csv"})
    assert r.raw_headers == [(b"content-type", b"text/csv")]


def test_content_length_is_left_to_the_writer():
    r = Response(b"abc", headers={"Content-Length": "99"})
    assert r.raw_headers == []


def test_charset_kept_when_given():
    r = Response("x", media_type="text/plain; charset=latin-1")
    assert r.raw_headers == [(b"content-type", b"text/plain; charset=latin-1")]


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", b"a\r\nb"])
def test_header_value_with_cr_lf_nul_rejected(bad):
    with pytest.raises(ValueError):
        Response(b"", headers={"x-a": bad})


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "x\x00", "", "with space", "colon:", b"a\nb"])
def test_header_name_invalid_rejected(bad):
    with pytest.raises(ValueError):
        Response(b"", headers={bad: "v"})


def test_media_type_with_crlf_rejected():
    with pytest.raises(ValueError):
        Response(b"", media_type="text/plain\r\nx-injected: 1")


def test_header_type_checked():
    with pytest.raises(TypeError):
        Response(b"", headers={"x-a": 1})


@pytest.mark.parametrize("status", [99, 1000, "200", 200.0, True])
def test_invalid_status_rejected(status):
    with pytest.raises(ValueError):
        Response(b"", status_code=status)


def test_slots_no_dict():
    r = PlainTextResponse("x")
    assert not hasattr(r, "__dict__")
    with pytest.raises(AttributeError):
        r.other = 1


def test_fields_live_in_the_engines_base_and_read_like_slots():
    from pronghorn import _core

    r = object.__new__(Response)  # how the per-request helpers make one
    assert isinstance(r, _core.ResponseBase)
    with pytest.raises(AttributeError):
        r.body
    r.body = b"x"
    del r.body
    with pytest.raises(AttributeError):
        r.body


def test_subclass_render_and_charset_are_honoured():
    class Shouting(Response):
        media_type = "text/plain"

        def render(self, content):
            return content.upper().encode()

    class Latin(Response):
        charset = "latin-1"
        media_type = "text/plain"

    assert Shouting("hey").body == b"HEY"
    assert Latin("caf\u00e9").body == b"caf\xe9"
    assert Latin("x").raw_headers == [(b"content-type", b"text/plain; charset=latin-1")]
    assert Response(memoryview(b"mv")).body == b"mv"


def test_a_response_missing_a_field_is_a_500():
    from pronghorn import Pronghorn
    from pronghorn.testclient import TestClient

    app = Pronghorn()

    @app.get("/broken")
    def broken():
        r = object.__new__(Response)
        r.status_code = 200
        r.raw_headers = []
        return r  # no body

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/broken").status_code == 500
