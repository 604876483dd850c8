"""FileResponse: a file sent with sendfile(2), with HTTP caching and ranges.

Owns: the validators (``ETag`` from mtime and size, ``Last-Modified``),
conditional GET (``If-None-Match`` / ``If-Modified-Since`` -> 304), byte
ranges (``Range``: one range -> 206 with ``Content-Range``; several ->
``multipart/byteranges``, at most ``MAX_RANGES`` after merging, else the
whole file; unsatisfiable -> 416; ``If-Range`` honoured) and
``Content-Disposition`` for downloads. The bytes go out through the
engine's ``_sendfile``; the engine drops them for HEAD.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import secrets
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from pronghorn.responses import HeadersArg, Response

__all__ = ["FileResponse"]

MAX_RANGES = 16


def _parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """``bytes=0-9,20-`` -> [(start, end_exclusive)], merged; [] if unsatisfiable; None if
    the header is malformed or not bytes (then the whole file is sent)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    ranges = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (first and not first.isdigit()) or (last and not last.isdigit()):
            return None
        if not first:
            if not last:
                return None
            length = int(last)
            if length == 0:
                continue
            ranges.append((max(size - length, 0), size))
        else:
            start = int(first)
            end = size if not last else min(int(last) + 1, size)
            if last and int(last) < start:
                return None
            if start < size:
                ranges.append((start, end))
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class FileResponse(Response):
    """Send the file at ``path``. ``filename`` makes it a download
    (``Content-Disposition``); ``media_type`` defaults from the file name."""

    __slots__ = ("path", "stat_result", "_filename", "_disposition")
    _streaming = True

    def __init__(self, path: str | os.PathLike[str], status_code: int = 200,
                 headers: HeadersArg = None, media_type: str | None = None,
                 background: Any = None, filename: str | None = None,
                 stat_result: os.stat_result | None = None,
                 content_disposition_type: str = "attachment") -> None:
        self.path = os.fspath(path)
        if media_type is None:
            media_type = mimetypes.guess_type(filename or self.path)[0] or "text/plain"
        super().__init__(b"", status_code, headers, media_type, background)
        self.stat_result = stat_result
        if filename is not None:
            quoted = quote(filename)
            if quoted != filename:
                value = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                value = f'{content_disposition_type}; filename="{filename}"'
            self.headers.setdefault("content-disposition", value)

    def _validators(self, st: os.stat_result) -> tuple[str, str]:
        base = f"{st.st_mtime}-{st.st_size}"
        etag = f'"{hashlib.md5(base.encode(), usedforsecurity=False).hexdigest()}"'
        return etag, formatdate(st.st_mtime, usegmt=True)

    @staticmethod
    def _not_modified(request: Any, etag: str, mtime: float) -> bool:
        headers = request.headers
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None:
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return "*" in tags or etag in tags
        since = headers.get("if-modified-since")
        if since:
            try:
                return int(mtime) <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False

    async def _stream(self, request: Any) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise RuntimeError(f"File at path {self.path} cannot be opened: {exc}") from None
        try:
            st = os.fstat(fd) if self.stat_result is None else self.stat_result
            await self._send(request, fd, st)
        finally:
            os.close(fd)

    async def _send(self, request: Any, fd: int, st: os.stat_result) -> None:
        size = st.st_size
        etag, last_modified = self._validators(st)
        headers = self.headers
        headers.setdefault("etag", etag)
        headers.setdefault("last-modified", last_modified)
        headers.setdefault("accept-ranges", "bytes")
        status = self.status_code
        method = request.method
        if status == 200 and method in ("GET", "HEAD"):
            if self._not_modified(request, etag, st.st_mtime):
                keep = [(k, v) for k, v in self.raw_headers
                        if k in (b"etag", b"last-modified", b"cache-control", b"vary")]
                # No content-length: on a 304 it would have to be the size a 200 sends
                # (RFC 9110 §8.6), and 0 would claim an empty representation.
                request._start(304, keep, -1)
                request._end()
                return
            range_header = request.headers.get("range")
            if_range = request.headers.get("if-range")
            if range_header and (if_range is None or if_range in (etag, last_modified)):
                ranges = _parse_ranges(range_header, size)
                if ranges == []:
                    headers["content-range"] = f"bytes */{size}"
                    request._start(416, self.raw_headers, 0)
                    request._end()
                    return
                if ranges is not None and len(ranges) == 1:
                    start, end = ranges[0]
                    headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
                    await self._send_file(request, 206, fd, start, end - start)
                    return
                if ranges is not None and len(ranges) <= MAX_RANGES:
                    await self._send_multipart(request, fd, ranges, size)
                    return
        await self._send_file(request, status, fd, 0, size)

    async def _send_file(self, request: Any, status: int, fd: int, offset: int,
                         count: int) -> None:
        request._start(status, self.raw_headers, count)
        waiter = request._sendfile(fd, offset, count)
        if waiter is not None:
            await waiter
        request._end()

    async def _send_multipart(self, request: Any, fd: int, ranges: list[tuple[int, int]],
                              size: int) -> None:
        boundary = secrets.token_hex(16)
        content_type = self.headers.get("content-type", "application/octet-stream")
        parts = [
            (f"--{boundary}\r\ncontent-type: {content_type}\r\n"
             f"content-range: bytes {start}-{end - 1}/{size}\r\n\r\n").encode("latin-1")
            for start, end in ranges
        ]
        closing = f"--{boundary}--\r\n".encode()
        total = sum(len(p) + (end - start) + 2 for p, (start, end) in zip(parts, ranges))
        total += len(closing)
        headers = self.headers
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        request._start(206, self.raw_headers, total)
        for part, (start, end) in zip(parts, ranges):
            # One step at a time: output queued after a pending sendfile would overtake it.
            for step in (lambda: request._write(part),
                         lambda: request._sendfile(fd, start, end - start),
                         lambda: request._write(b"\r\n")):
                waiter = step()
                if waiter is not None:
                    await waiter
        request._write(closing)
        request._end()
