"""Exceptions a handler raises to answer with an HTTP error.

Owns: ``HTTPException`` (FastAPI semantics: ``detail`` is any JSON-encodable
value and defaults to the status phrase; the answer is ``{"detail": ...}``)
and ``http_exception_response``, the one place that turns it into a
response. The app calls it when a handler raises; nothing else should.
``RequestValidationError`` carries FastAPI-shaped error dicts (``type``,
``loc``, ``msg``, ``input``) for the app's 422 answer;
``ResponseValidationError`` says a handler's result did not fit its
``response_model`` (a 500: the server is at fault).

Must not know about: the engine or routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pronghorn.responses import JSONResponse, Response

__all__ = ["HTTPException", "RequestValidationError", "ResponseValidationError",
           "http_exception_response"]


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


class HTTPException(Exception):
    """Raise to stop handling and answer ``status_code`` with ``{"detail": detail}``.

    >>> raise HTTPException(404, "Item not found", headers={"x-error": "missing"})
    """

    def __init__(self, status_code: int, detail: Any = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if detail is None:
            detail = _phrase(status_code)
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


def http_exception_response(exc: HTTPException) -> Response:
    """The response for ``exc``: JSON ``{"detail": ...}``, or no body when the status has none."""
    status = exc.status_code
    if status < 200 or status in (204, 304):
        return Response(b"", status, exc.headers)
    return JSONResponse({"detail": exc.detail}, status, exc.headers)


class RequestValidationError(ValueError):
    """Request data that does not validate: answered 422 with FastAPI's body,
    ``{"detail": [{"type", "loc", "msg", "input", ...}, ...]}``."""

    def __init__(self, errors: list[dict[str, Any]], *, body: Any = None) -> None:
        super().__init__(errors)
        self._errors = errors
        self.body = body

    def errors(self) -> list[dict[str, Any]]:
        return self._errors

    def __str__(self) -> str:
        lines = [f"{len(self._errors)} validation error(s):"]
        for error in self._errors:
            loc = " -> ".join(str(part) for part in error.get("loc", ()))
            lines.append(f"  {loc}: {error.get('msg')}")
        return "\n".join(lines)


class ResponseValidationError(ValueError):
    """A handler's result that does not fit the route's ``response_model``; unless an
    exception handler is registered for it, it is logged and answered 500."""

    def __init__(self, errors: list[dict[str, Any]], *, body: Any = None) -> None:
        super().__init__(errors)
        self._errors = errors
        self.body = body

    def errors(self) -> list[dict[str, Any]]:
        return self._errors

    def __str__(self) -> str:
        lines = [f"{len(self._errors)} validation error(s) in the response:"]
        for error in self._errors:
            loc = " -> ".join(str(part) for part in error.get("loc", ()))
            lines.append(f"  {loc}: {error.get('msg')}")
        return "\n".join(lines)
