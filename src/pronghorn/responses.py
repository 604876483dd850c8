"""Response objects: what a handler returns and what the C writer sends.

Owns: turning handler content into the three attributes the engine's
response writer reads, and nothing else:

- ``status_code``: int,
- ``body``: bytes,
- ``raw_headers``: list of ``(name, value)`` byte pairs, names lowercased,
  ``content-type`` included when there is one.

Invariants: header names are HTTP tokens and values carry no CR, LF or NUL
(checked here, once, at construction); ``raw_headers`` never holds
``content-length``, because the writer derives it from ``len(body)``; the
writer also adds ``date`` and ``connection`` and drops the body of HEAD, 204
and 304 responses. This module must not know about sockets or the engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Union

import msgspec

__all__ = ["HTMLResponse", "JSONResponse", "PlainTextResponse", "Response"]

HeaderPart = Union[str, bytes]
HeadersArg = Union[Mapping[HeaderPart, HeaderPart], Iterable[tuple[HeaderPart, HeaderPart]], None]

# RFC 9110 §5.1 field-name = token; §5.5 field-value: no CR, LF or NUL.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\r\n\x00]")

_json_encode = msgspec.json.Encoder().encode


def _as_bytes(part: HeaderPart, what: str) -> bytes:
    if isinstance(part, str):
        return part.encode("latin-1")
    if isinstance(part, bytes):
        return part
    raise TypeError(f"header {what} must be str or bytes, not {type(part).__name__}")


def _encode_headers(headers: HeadersArg) -> list[tuple[bytes, bytes]]:
    """Validate app-supplied headers into lowercase (name, value) byte pairs.

    ``content-length`` is dropped: the writer computes it from the body.
    """
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    raw: list[tuple[bytes, bytes]] = []
    for name, value in items:
        bname = _as_bytes(name, "name")
        bvalue = _as_bytes(value, "value")
        if _TOKEN.fullmatch(bname) is None:
            raise ValueError(f"invalid header name: {bname!r}")
        if _BAD_VALUE.search(bvalue) is not None:
            raise ValueError(f"invalid header value for {bname!r}: CR, LF and NUL are not allowed")
        bname = bname.lower()
        if bname != b"content-length":
            raw.append((bname, bvalue))
    return raw


_ctype_cache: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """The (validated, cached) content-type header pair for a media type."""
    key = (media_type, charset)
    pair = _ctype_cache.get(key)
    if pair is None:
        value = media_type
        if value.startswith("text/") and "charset=" not in value:
            value = f"{value}; charset={charset}"
        encoded = value.encode("latin-1")
        if _BAD_VALUE.search(encoded) is not None:
            raise ValueError("invalid media type: CR, LF and NUL are not allowed")
        pair = (b"content-type", encoded)
        if len(_ctype_cache) < 256:
            _ctype_cache[key] = pair
    return pair


class Response:
    """A complete response: status, headers and body bytes.

    ``content`` may be bytes, str (encoded as UTF-8) or None (empty body).
    ``media_type`` sets ``content-type`` unless ``headers`` already has one;
    ``text/*`` types get ``; charset=utf-8``.
    """

    __slots__ = ("status_code", "body", "raw_headers")

    media_type: ClassVar[str | None] = None
    charset: ClassVar[str] = "utf-8"
    # The content-type pair for the class's own media_type (set per subclass).
    _default_content_type: ClassVar[tuple[bytes, bytes] | None] = None

    status_code: int
    body: bytes
    raw_headers: list[tuple[bytes, bytes]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._default_content_type = (
            None if cls.media_type is None else _content_type(cls.media_type, cls.charset))

    def __init__(
        self,
        content: Any = b"",
        status_code: int = 200,
        headers: HeadersArg = None,
        media_type: str | None = None,
    ) -> None:
        if status_code.__class__ is not int or not 100 <= status_code <= 999:
            raise ValueError(f"invalid status code: {status_code!r}")
        self.status_code = status_code
        self.body = self.render(content)
        if headers is None and media_type is None:  # the common case
            content_type = self._default_content_type
            self.raw_headers = [] if content_type is None else [content_type]
            return
        raw = _encode_headers(headers)
        if not any(name == b"content-type" for name, _ in raw):
            if media_type is not None:
                raw.append(_content_type(media_type, self.charset))
            elif self._default_content_type is not None:
                raw.append(self._default_content_type)
        self.raw_headers = raw

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

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} {len(self.body)} bytes>"


class PlainTextResponse(Response):
    __slots__ = ()
    media_type = "text/plain"


class HTMLResponse(Response):
    __slots__ = ()
    media_type = "text/html"


class JSONResponse(Response):
    """``content`` encoded as JSON by msgspec (any type msgspec can encode)."""

    __slots__ = ()
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _json_encode(content)


_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


def json_response(content: Any) -> JSONResponse:
    """A 200 JSONResponse for a handler's return value, skipping argument checks.

    Equivalent to ``JSONResponse(content)``; used on the per-request path.
    """
    response = object.__new__(JSONResponse)
    response.status_code = 200
    response.body = _json_encode(content)
    response.raw_headers = [_JSON_CONTENT_TYPE]
    return response
