"""The Request object handlers receive.

The data lives in the C type ``pronghorn._core.Request`` (the raw head plus
offsets, turned into Python objects only when touched). This subclass adds
the async body API on top of its one primitive, ``_read()``.
"""
from __future__ import annotations

from typing import AsyncIterator

from . import _core

ClientDisconnect = _core.ClientDisconnect


class Request(_core.Request):
    """An HTTP request. ``method``, ``path``, ``raw_path``, ``query_string``,
    ``http_version``, ``raw_headers`` (list of lowercased ``(name, value)`` bytes
    pairs), ``client``, ``server``, ``scheme`` and ``path_params`` come from C."""

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive from the socket (never buffered whole)."""
        read = self._read
        while True:
            chunk = read()
            if chunk.__class__ is not bytes:
                await chunk
                continue
            if not chunk:
                return
            yield chunk

    async def body(self) -> bytes:
        """The whole body (bounded by the server's --max-body-size)."""
        cached = self.__dict__.get("_body")
        if cached is not None:
            return cached
        parts = []
        async for chunk in self.stream():
            parts.append(chunk)
        body = b"".join(parts)
        self.__dict__["_body"] = body
        return body

    async def is_disconnected(self) -> bool:
        return self._is_disconnected()
