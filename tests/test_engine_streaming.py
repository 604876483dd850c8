"""The engine's streaming primitives: Request._start/_write/_sendfile/_end.

These are what StreamingResponse, FileResponse and the ASGI server's send()
are built on. Checked over a real socket (backpressure, sendfile) and in
memory.
"""
import asyncio
import os
import socket

import pytest

from pronghorn import _core

CHUNKS = [b"alpha", b"", b"beta" * 1000, b"gamma"]


async def handler(request):
    path = request.path
    if path == "/stream":
        request._start(200, [(b"content-type", b"text/plain")])
        for chunk in CHUNKS:
            waiter = request._write(chunk)
            if waiter is not None:
                await waiter
            await asyncio.sleep(0)
        request._end()
    elif path == "/big":
        size = int(request.query_string)
        request._start(200, [], size)
        block = b"x" * 65536
        sent = 0
        while sent < size:
            part = block[: min(len(block), size - sent)]
            waiter = request._write(part)
            sent += len(part)
            if waiter is not None:
                await waiter
        request._end()
    elif path == "/file":
        name = request.query_string.decode()
        size = os.path.getsize(name)
        with open(name, "rb") as f:
            request._start(200, [(b"content-type", b"application/octet-stream")], size - 3)
            waiter = request._sendfile(f.fileno(), 3, size - 3)
            if waiter is not None:
                await waiter
            request._end()
    elif path == "/unfinished":
        request._start(200, [], 10)
        request._write(b"12345")
    elif path == "/bad-header":
        try:
            request._start(200, [(b"x-a", b"v\r\nevil: 1")])
        except RuntimeError as exc:
            request._start(500, [], len(str(exc)))
            request._write(str(exc).encode())
        request._end()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    headers = dict(
        line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if line
    )
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    else:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return head, headers, body


@pytest.fixture
async def served():
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    srv = _core.Server(handler)
    srv.listen(sock.fileno())
    srv.start(loop)
    yield srv, sock.getsockname()[1]
    srv.close_all()
    sock.close()


async def test_chunked_stream_over_socket(served):
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(2):
        head, headers, body = await asyncio.wait_for(read_response(reader), 5)
        assert headers[b"transfer-encoding"] == b"chunked"
        assert body == b"".join(CHUNKS)
    writer.close()


async def test_head_of_stream_has_no_body(served):
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nHEAD /big?10 HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert first.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in first
    assert b"content-length: 10" in second
    writer.close()


def rss_kib():
    with open(f"/proc/{os.getpid()}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1])


async def test_backpressure_with_slow_reader(served):
    srv, port = served
    size = 64 * 1024 * 1024
    before = rss_kib()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /big HTTP/1.1\r\nHost: x\r\n\r\n".encode().replace(b"/big", b"/big?%d" % size))
    sock.setblocking(False)
    await asyncio.sleep(0.3)  # the client reads nothing: the server must stop producing
    grown = rss_kib() - before
    assert grown < 16 * 1024, f"RSS grew {grown} KiB: the 64 MiB body was buffered"
    loop = asyncio.get_running_loop()
    received = 0
    while received < size:
        data = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10)
        assert data
        received += len(data)
    assert received >= size
    sock.close()


async def test_sendfile(served, tmp_path):
    _, port = served
    name = tmp_path / "blob.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    name.write_bytes(payload)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
    writer.write(f"GET /file?{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head, headers, body = await asyncio.wait_for(read_response(reader), 10)
    assert body == payload[3:]
    writer.write(f"HEAD /file?{name} HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert f"content-length: {len(payload) - 3}".encode() in head
    head, headers, body = await asyncio.wait_for(read_response(reader), 5)
    assert body == b"".join(CHUNKS)  # nothing of the file leaked into the stream
    writer.close()


async def test_sendfile_in_memory(tmp_path):
    name = tmp_path / "small.txt"
    name.write_bytes(b"0123456789")
    srv = _core.Server(handler)
    conn = srv.memory_connection()
    conn.feed(f"GET /file?{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    for _ in range(100):
        out = conn.output()
        if out:
            break
        await asyncio.sleep(0.01)
    assert out.endswith(b"\r\n\r\n3456789")


async def test_unfinished_stream_aborts_connection(served, caplog):
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /unfinished HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)  # EOF: connection aborted
    assert data.endswith(b"12345")
    assert any("Incomplete streamed response" in r.message for r in caplog.records)
    writer.close()


async def test_invalid_header_refused_before_writing(served):
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /bad-header HTTP/1.1\r\nHost: x\r\n\r\n")
    head, headers, body = await asyncio.wait_for(read_response(reader), 5)
    assert head.startswith(b"HTTP/1.1 500") and b"evil" not in head
    assert b"CR, LF or NUL" in body
    writer.close()
