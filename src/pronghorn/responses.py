"""Response objects: what a handler returns and what the C writer sends.

Owns: turning handler content into the three attributes the engine's
response writer reads, and nothing else:

- ``status_code``: int,
- ``body``: bytes,
- ``raw_headers``: list of ``(name, value)`` byte pairs, names lowercased,
  ``content-type`` included when there is one.

Invariants: header names are HTTP tokens and values carry no CR, LF or NUL
(checked once, at construction, by the one header validator,
``datastructures.encode_header_field``); ``raw_headers`` never holds
``content-length``, because the writer derives it from ``len(body)``; the
writer also adds ``date`` and ``connection`` and drops the body of HEAD, 204
and 304 responses. This module must not know about sockets or the engine.
"""

from __future__ import annotations

import http.cookies
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime
from typing import Any, ClassVar, Union
from urllib.parse import quote

import msgspec

from pronghorn import _core
from pronghorn.concurrency import run_in_threadpool
from pronghorn.datastructures import MutableHeaders, encode_header_field

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

HeaderPart = Union[str, bytes]
HeadersArg = Union[Mapping[HeaderPart, HeaderPart], Iterable[tuple[HeaderPart, HeaderPart]], None]


def _json_default(obj: Any) -> Any:
    """Types msgspec does not encode natively: pydantic models, sets of models..."""
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# Decimal as a JSON number, like FastAPI's jsonable_encoder.
_json_encode = msgspec.json.Encoder(decimal_format="number", enc_hook=_json_default).encode


def _encode_headers(headers: HeadersArg) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Validate app-supplied headers into lowercase (name, value) byte pairs, and
    the ``content-length`` they give (dropped: the writer frames the body itself)."""
    if not headers:
        return [], None
    items = headers.items() if isinstance(headers, Mapping) else headers
    raw: list[tuple[bytes, bytes]] = []
    length = None
    for name, value in items:
        pair = encode_header_field(name, value)
        if pair[0] == b"content-length":
            if not pair[1].isdigit():
                raise ValueError(f"invalid content-length: {pair[1]!r}")
            length = int(pair[1])
        else:
            raw.append(pair)
    return raw, length


_ctype_cache: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """The (validated, cached) content-type header pair for a media type."""
    key = (media_type, charset)
    pair = _ctype_cache.get(key)
    if pair is None:
        value = media_type
        if value.startswith("text/") and "charset=" not in value:
            value = f"{value}; charset={charset}"
        pair = encode_header_field(b"content-type", value)
        if len(_ctype_cache) < 256:
            _ctype_cache[key] = pair
    return pair


class Response(_core.ResponseBase):
    """A complete response: status, headers and body bytes.

    ``content`` may be bytes, str (encoded as UTF-8) or None (empty body).
    ``media_type`` sets ``content-type`` unless ``headers`` already has one;
    ``text/*`` types get ``; charset=utf-8``.
    """

    # status_code, body, raw_headers and background are stored by the C base, where the
    # engine's writer reads them.
    __slots__ = ()

    media_type: ClassVar[str | None] = None
    # True for responses whose body Python produces while sending (_stream).
    _streaming: ClassVar[bool] = False
    charset: ClassVar[str] = "utf-8"
    # The content-type pair for the class's own media_type (set per subclass).
    _default_content_type: ClassVar[tuple[bytes, bytes] | None] = None

    status_code: int
    body: bytes
    raw_headers: list[tuple[bytes, bytes]]

    # The class renders with Response.render (str and bytes content are taken inline).
    _base_render: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._default_content_type = (
            None if cls.media_type is None else _content_type(cls.media_type, cls.charset))
        cls._base_render = cls.render is Response.render

    def __init__(
        self,
        content: Any = b"",
        status_code: int = 200,
        headers: HeadersArg = None,
        media_type: str | None = None,
        background: Any = None,
    ) -> None:
        if status_code.__class__ is not int or not 100 <= status_code <= 999:
            raise ValueError(f"invalid status code: {status_code!r}")
        self.status_code = status_code
        self.background = background
        kind = content.__class__
        if self._base_render and (kind is str or kind is bytes):  # Response.render, inline
            self.body = content.encode(self.charset) if kind is str else content
        else:
            self.body = self.render(content)
        if headers is None and media_type is None:  # the common case
            content_type = self._default_content_type
            self.raw_headers = [] if content_type is None else [content_type]
            return
        raw, length = _encode_headers(headers)
        if length is not None:
            self._declared_length(length)
        if not any(name == b"content-type" for name, _ in raw):
            if media_type is not None:
                raw.append(_content_type(media_type, self.charset))
            elif self._default_content_type is not None:
                raw.append(self._default_content_type)
        self.raw_headers = raw

    def _declared_length(self, length: int) -> None:
        """A ``content-length`` header was given: ignored, ``len(body)`` is sent."""

    def render(self, content: Any) -> bytes:
        if content.__class__ is bytes:
            return content
        if isinstance(content, str):
            return content.encode(self.charset)
        if content is None:
            return b""
        if isinstance(content, (bytes, bytearray, memoryview)):
            return bytes(content)
        raise TypeError(
            f"{type(self).__name__} content must be bytes or str, not {type(content).__name__}"
        )

    @property
    def headers(self) -> MutableHeaders:
        """The response headers, changeable in place (a view of ``raw_headers``)."""
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``set-cookie`` header (same arguments as Starlette)."""
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                morsel["expires"] = format_datetime(expires, usegmt=True)
            else:
                morsel["expires"] = expires
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if samesite.lower() not in ("strict", "lax", "none"):
                raise ValueError("samesite must be 'strict', 'lax' or 'none'")
            morsel["samesite"] = samesite
        text = cookie.output(header="").strip()
        if partitioned:
            text += "; Partitioned"
        self.headers.append("set-cookie", text)

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None,
                      secure: bool = False, httponly: bool = False,
                      samesite: str | None = "lax") -> None:
        """Expire the cookie ``key`` on the client."""
        self.set_cookie(key, max_age=0, expires=0, path=path, domain=domain, secure=secure,
                        httponly=httponly, samesite=samesite)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} {len(self.body)} bytes>"


class PlainTextResponse(Response):
    __slots__ = ()
    media_type = "text/plain"


class HTMLResponse(Response):
    __slots__ = ()
    media_type = "text/html"


_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


class JSONResponse(Response):
    """``content`` encoded as JSON by msgspec: dicts, lists, dataclasses, msgspec
    Structs, datetime, UUID, Decimal (as a number), Enum, pydantic models."""

    __slots__ = ()
    media_type = "application/json"
    encode = staticmethod(_json_encode)

    def render(self, content: Any) -> bytes:
        return _json_encode(content)

    @classmethod
    def ok(cls, content: Any) -> JSONResponse:
        """``JSONResponse(content)`` without the argument checks (the per-request path)."""
        response = object.__new__(cls)
        response.status_code = 200
        response.body = _json_encode(content)
        response.raw_headers = [_JSON_CONTENT_TYPE]
        response.background = None
        return response


json_response = JSONResponse.ok


class RedirectResponse(Response):
    """A redirect to ``url`` (307 by default, like Starlette)."""

    __slots__ = ()

    def __init__(self, url: Any, status_code: int = 307, headers: HeadersArg = None,
                 background: Any = None) -> None:
        super().__init__(b"", status_code, headers, background=background)
        location = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")
        self.headers["location"] = location


class StreamingResponse(Response):
    """A body produced while it is sent: ``content`` is an async iterable, or a
    sync iterable (iterated in the thread pool, so it may block), of bytes or
    str. Sent chunked unless a ``content-length`` header is given. A slow
    client pauses the iteration (backpressure)."""

    __slots__ = ("body_iterator", "_length")
    _streaming = True

    def __init__(self, content: Any, status_code: int = 200, headers: HeadersArg = None,
                 media_type: str | None = None, background: Any = None) -> None:
        self._length = -1  # chunked unless a content-length header is given
        super().__init__(b"", status_code, headers, media_type, background)
        self.body_iterator = content

    def _declared_length(self, length: int) -> None:
        self._length = length

    async def _stream(self, request: Any) -> None:
        request._start(self.status_code, self.raw_headers, self._length)
        write = request._write
        charset = self.charset
        iterator = self.body_iterator
        if hasattr(iterator, "__aiter__"):
            chunks = iterator
        else:
            chunks = _iterate_in_threadpool(iterator)
        try:
            async for chunk in chunks:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    chunk = chunk.encode(charset)
                waiter = write(chunk)
                if waiter is not None:
                    await waiter
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        request._end()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} streaming>"


async def _iterate_in_threadpool(iterable: Iterable[Any]) -> Any:
    iterator = iter(iterable)
    done = object()
    while True:
        item = await run_in_threadpool(next, iterator, done)
        if item is done:
            return
        yield item


from pronghorn.fileresponse import FileResponse  # noqa: E402  (depends on Response)
