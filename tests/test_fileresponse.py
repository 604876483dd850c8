"""FileResponse on the wire: validators, conditional GET, ranges, HEAD, downloads.

Every test runs through the TestClient and over a real socket (sendfile).
"""

from __future__ import annotations

import email.utils
import os

import pytest

from pronghorn import Pronghorn
from pronghorn.fileresponse import MAX_RANGES, FileResponse, _parse_ranges

PAYLOAD = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def file_app(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(PAYLOAD)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    (tmp_path / "page.html").write_text("<p>hi</p>")
    app = Pronghorn()

    @app.get("/data")
    def data():
        return FileResponse(path)

    @app.get("/page")
    def page():
        return FileResponse(tmp_path / "page.html")

    @app.get("/download")
    def download():
        return FileResponse(path, filename="report 2024 é.bin")

    @app.get("/simple-download")
    def simple_download():
        return FileResponse(path, filename="report.bin", media_type="application/pdf")

    @app.get("/missing")
    def missing():
        return FileResponse(tmp_path / "nope.txt")

    return app


def test_whole_file_with_validators(connect, file_app):
    response = connect(file_app).get("/data")
    assert response.status_code == 200
    assert response.content == PAYLOAD
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"') and response.headers["etag"].endswith('"')
    assert response.headers["last-modified"] == email.utils.formatdate(1_700_000_000,
                                                                       usegmt=True)


def test_media_type_guessed_from_the_name(connect, file_app):
    response = connect(file_app).get("/page")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>hi</p>"


def test_head_sends_headers_only(connect, file_app):
    response = connect(file_app).head("/data")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert "etag" in response.headers
    assert response.content == b""


@pytest.mark.parametrize("header", ["etag", "last-modified"])
def test_conditional_get_is_304(connect, file_app, header):
    client = connect(file_app)
    first = client.get("/data")
    name = "if-none-match" if header == "etag" else "if-modified-since"
    response = client.get("/data", headers={name: first.headers[header]})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == first.headers["etag"]
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers  # RFC 9110 §8.6: never a wrong one


def test_conditional_get_with_other_validators_is_200(connect, file_app):
    client = connect(file_app)
    assert client.get("/data", headers={"if-none-match": '"other"'}).status_code == 200
    old = email.utils.formatdate(1_600_000_000, usegmt=True)
    assert client.get("/data", headers={"if-modified-since": old}).status_code == 200
    both = {"if-none-match": '"other"',
            "if-modified-since": email.utils.formatdate(1_800_000_000, usegmt=True)}
    assert client.get("/data", headers=both).status_code == 200  # If-None-Match decides
    assert client.get("/data", headers={"if-none-match": "*"}).status_code == 304


@pytest.mark.parametrize(("spec", "start", "end"), [
    ("bytes=0-99", 0, 100),
    ("bytes=10000-", 10000, 10240),
    ("bytes=-40", 10200, 10240),
    ("bytes=10200-99999", 10200, 10240),
])
def test_single_range_is_206(connect, file_app, spec, start, end):
    response = connect(file_app).get("/data", headers={"range": spec})
    assert response.status_code == 206
    assert response.content == PAYLOAD[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(PAYLOAD)}"
    assert response.headers["content-length"] == str(end - start)


def parse_multipart(response):
    boundary = response.headers["content-type"].split("boundary=")[1].encode()
    parts = response.content.split(b"--" + boundary)
    assert parts[0] == b"" and parts[-1] == b"--\r\n"
    found = []
    for part in parts[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n") if line)
        assert body.endswith(b"\r\n")
        found.append((headers[b"content-range"].decode(), body[:-2]))
    return found


def test_multiple_ranges_are_multipart_byteranges(connect, file_app):
    response = connect(file_app).get("/data", headers={"range": "bytes=0-9, 100-109, -5"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(response.headers["content-length"]) == len(response.content)
    size = len(PAYLOAD)
    assert parse_multipart(response) == [
        (f"bytes 0-9/{size}", PAYLOAD[0:10]),
        (f"bytes 100-109/{size}", PAYLOAD[100:110]),
        (f"bytes {size - 5}-{size - 1}/{size}", PAYLOAD[-5:]),
    ]


def test_overlapping_ranges_are_merged(connect, file_app):
    response = connect(file_app).get("/data", headers={"range": "bytes=0-9,5-19"})
    assert response.status_code == 206
    assert response.content == PAYLOAD[:20]


def test_too_many_ranges_send_the_whole_file(connect, file_app):
    spec = "bytes=" + ",".join(f"{i * 100}-{i * 100 + 9}" for i in range(MAX_RANGES + 1))
    response = connect(file_app).get("/data", headers={"range": spec})
    assert response.status_code == 200
    assert response.content == PAYLOAD


def test_unsatisfiable_range_is_416(connect, file_app):
    response = connect(file_app).get("/data", headers={"range": "bytes=20000-30000"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    assert response.content == b""


@pytest.mark.parametrize("spec", ["items=0-1", "bytes=5-1", "bytes=x-3", "bytes=-"])
def test_malformed_range_is_ignored(connect, file_app, spec):
    response = connect(file_app).get("/data", headers={"range": spec})
    assert (response.status_code, response.content) == (200, PAYLOAD)


def test_if_range(connect, file_app):
    client = connect(file_app)
    etag = client.get("/data").headers["etag"]
    matching = client.get("/data", headers={"range": "bytes=0-3", "if-range": etag})
    assert (matching.status_code, matching.content) == (206, PAYLOAD[:4])
    stale = client.get("/data", headers={"range": "bytes=0-3", "if-range": '"stale"'})
    assert (stale.status_code, stale.content) == (200, PAYLOAD)


def test_download_disposition(connect, file_app):
    client = connect(file_app)
    disposition = client.get("/download").headers["content-disposition"]
    assert disposition == "attachment; filename*=utf-8''report%202024%20%C3%A9.bin"
    response = client.get("/simple-download")
    assert response.headers["content-disposition"] == 'attachment; filename="report.bin"'
    assert response.headers["content-type"] == "application/pdf"


def test_missing_file_is_500(connect, file_app, caplog):
    # Opened when the body is sent, by the engine's stream task: logged, answered 500.
    assert connect(file_app).get("/missing").status_code == 500
    assert "cannot be opened" in caplog.text


def test_parse_ranges():
    assert _parse_ranges("bytes=0-0", 10) == [(0, 1)]
    assert _parse_ranges("bytes=-0", 10) == []
    assert _parse_ranges("bytes=9-", 10) == [(9, 10)]
    assert _parse_ranges("bytes=10-", 10) == []
    assert _parse_ranges("bytes=0-1,,2-3", 10) == [(0, 4)]
    assert _parse_ranges("bytes=", 10) is None
