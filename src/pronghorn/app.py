"""The application object: route registration, dispatch and lifespan hooks.

Owns: the table of routes, the per-request entry point ``Pronghorn._handle``
that the engine calls, conversion of handler results into responses, and
the startup/shutdown hooks that the server runs.

Invariants: everything about a handler (sync or async, whether it wants the
request, which path parameters it takes) is decided once, at registration;
the per-request path does dictionary look-ups and one call, and creates a
coroutine only for ``async def`` handlers. ``_handle`` never raises for a
handler's error: it logs it and answers 500.

Must not know about: sockets, HTTP framing, the event loop (the engine
drives the coroutines ``_handle`` returns).

Path matching lives in ``_compile_path``/``_match_dynamic`` only: it is a
stopgap until the C radix router takes over.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from pronghorn._core import ClientDisconnect
from pronghorn.exceptions import HTTPException, http_exception_response
from pronghorn.responses import JSONResponse, PlainTextResponse, Response, json_response

__all__ = ["Pronghorn"]

logger = logging.getLogger("pronghorn.error")

Handler = Callable[..., Any]
HandlerT = TypeVar("HandlerT", bound=Handler)
Hook = Callable[[], Any]

_PARAM = re.compile(r"{([^{}]*)}")


class Route:
    """One handler bound to one path and a set of methods (decided at registration)."""

    __slots__ = ("path", "methods", "endpoint", "is_async", "wants_request", "param_names",
                 "pass_params")

    def __init__(self, path: str, methods: Sequence[str], endpoint: Handler,
                 param_names: tuple[str, ...]) -> None:
        self.path = path
        self.methods = tuple(methods)
        self.endpoint = endpoint
        self.is_async = _is_async_callable(endpoint)
        self.param_names = param_names
        self.wants_request, self.pass_params = _plan_call(endpoint, path, param_names)


class _PathEntry:
    """The routes registered for one path pattern, keyed by method."""

    __slots__ = ("path", "methods", "allow", "regex")

    def __init__(self, path: str, regex: re.Pattern[str] | None) -> None:
        self.path = path
        self.regex = regex
        self.methods: dict[str, Route] = {}
        self.allow = ""


class Pronghorn:
    """A pronghorn application.

    >>> app = Pronghorn()
    >>> @app.get("/")
    ... def index():
    ...     return {"hello": "world"}

    Handlers may be ``def`` or ``async def``. Their return value is sent as
    is when it is a :class:`Response`, as raw bytes for ``bytes``, and as
    JSON (msgspec) otherwise. ``{name}`` segments of the path are passed as
    ``str`` keyword arguments; a parameter named ``request`` (or annotated
    ``Request``) receives the request object.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        on_startup: Iterable[Hook] | None = None,
        on_shutdown: Iterable[Hook] | None = None,
    ) -> None:
        self.debug = debug
        self.on_startup: list[Hook] = list(on_startup or ())
        self.on_shutdown: list[Hook] = list(on_shutdown or ())
        self.routes: list[Route] = []
        self._static: dict[str, _PathEntry] = {}
        self._dynamic: list[_PathEntry] = []

    # ---- registration -------------------------------------------------

    def add_route(self, path: str, endpoint: Handler, methods: Iterable[str] = ("GET",)) -> Route:
        """Register ``endpoint`` for ``path`` and ``methods``; GET also answers HEAD."""
        methods = [m.upper() for m in methods]
        if not methods:
            raise ValueError("a route needs at least one method")
        regex, param_names = _compile_path(path)
        route = Route(path, methods, endpoint, param_names)
        entry = self._static.get(path) if regex is None else next(
            (e for e in self._dynamic if e.path == path), None)
        if entry is None:
            entry = _PathEntry(path, regex)
            if regex is None:
                self._static[path] = entry
            else:
                self._dynamic.append(entry)
        for method in methods:
            existing = entry.methods.get(method)
            if existing is not None and method in existing.methods:  # not an implicit HEAD
                raise ValueError(f"route {method} {path} is already registered")
        for method in methods:
            entry.methods[method] = route
        if "GET" in methods and "HEAD" not in entry.methods:
            entry.methods["HEAD"] = route
        entry.allow = ", ".join(entry.methods)
        self.routes.append(route)
        return route

    def route(self, path: str, methods: Iterable[str] = ("GET",)) -> Callable[[HandlerT], HandlerT]:
        """Decorator form of :meth:`add_route`."""

        def decorator(endpoint: HandlerT) -> HandlerT:
            self.add_route(path, endpoint, methods)
            return endpoint

        return decorator

    def get(self, path: str) -> Callable[[HandlerT], HandlerT]:
        return self.route(path, ("GET",))

    def post(self, path: str) -> Callable[[HandlerT], HandlerT]:
        return self.route(path, ("POST",))

    def put(self, path: str) -> Callable[[HandlerT], HandlerT]:
        return self.route(path, ("PUT",))

    def delete(self, path: str) -> Callable[[HandlerT], HandlerT]:
        return self.route(path, ("DELETE",))

    def patch(self, path: str) -> Callable[[HandlerT], HandlerT]:
        return self.route(path, ("PATCH",))

    # ---- lifespan -----------------------------------------------------

    def add_event_handler(self, event: str, func: Hook) -> None:
        """Add a startup or shutdown hook (sync function or coroutine function)."""
        if event == "startup":
            self.on_startup.append(func)
        elif event == "shutdown":
            self.on_shutdown.append(func)
        else:
            raise ValueError(f"unknown event {event!r}: expected 'startup' or 'shutdown'")

    async def startup(self) -> None:
        """Run the startup hooks in order; the first failure propagates."""
        for hook in self.on_startup:
            result = hook()
            if inspect.isawaitable(result):
                await result

    async def shutdown(self) -> None:
        """Run every shutdown hook in order; failures are logged, not raised."""
        for hook in self.on_shutdown:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("Error in shutdown hook %r", hook)

    # ---- per request --------------------------------------------------

    def _handle(self, request: Any) -> Response | Awaitable[Response]:
        """The engine's entry point: a Response, or a coroutine resolving to one."""
        entry = self._static.get(request.path)
        if entry is None:
            found = _match_dynamic(self._dynamic, request.path)
            if found is None:
                return JSONResponse({"detail": "Not Found"}, 404)
            entry, params = found
            request.path_params = params
        else:
            params = None
        route = entry.methods.get(request.method)
        if route is None:
            return JSONResponse({"detail": "Method Not Allowed"}, 405, {"allow": entry.allow})
        try:
            if params is None or not route.pass_params:
                if route.wants_request:
                    result = route.endpoint(request=request)
                else:
                    result = route.endpoint()
            else:
                if route.pass_params is not True:
                    params = {name: params[name] for name in route.pass_params}
                if route.wants_request:
                    result = route.endpoint(request=request, **params)
                else:
                    result = route.endpoint(**params)
            if route.is_async:
                return self._finish(result, request)
            if isinstance(result, Response):
                return result
            return _to_response(result)
        except Exception as exc:
            return self._error_response(exc, request)

    async def _finish(self, coro: Awaitable[Any], request: Any) -> Response:
        """Await an async handler's coroutine and convert its result."""
        try:
            result = await coro
            if isinstance(result, Response):
                return result
            return _to_response(result)
        except Exception as exc:
            return self._error_response(exc, request)

    def _error_response(self, exc: BaseException, request: Any) -> Response:
        if isinstance(exc, HTTPException):
            return http_exception_response(exc)
        if isinstance(exc, ClientDisconnect):
            # The engine has answered already (e.g. 413) or the peer is gone:
            # this response is never sent.
            logger.debug("Client disconnected during %s %s", request.method, request.path)
            return PlainTextResponse("Client Disconnected", 400)
        logger.error(
            "Exception in handler for %s %s", getattr(request, "method", "?"),
            getattr(request, "path", "?"), exc_info=exc,
        )
        # Kept on the request so that TestClient(raise_server_exceptions=True) can re-raise it.
        request.__dict__["_server_exception"] = exc
        if self.debug:
            text = "".join(traceback.format_exception(exc))
            return PlainTextResponse(text, 500)
        return PlainTextResponse("Internal Server Error", 500)


def _to_response(result: Any) -> Response:
    """Convert a non-Response handler result: bytes as is, anything else as JSON."""
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Response(result, media_type="application/octet-stream")
    return json_response(result)


# ---- registration-time analysis --------------------------------------------


def _is_async_callable(obj: Any) -> bool:
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return False
    return inspect.iscoroutinefunction(getattr(obj, "__call__", None))  # callable instance


def _is_request_annotation(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.rpartition(".")[2] == "Request"
    return isinstance(annotation, type) and annotation.__name__ == "Request"


def _plan_call(endpoint: Handler, path: str,
               param_names: tuple[str, ...]) -> tuple[bool, bool | tuple[str, ...]]:
    """Decide how to call ``endpoint``: (wants_request, path params to pass).

    The second item is True (pass all path parameters), False (none) or the
    tuple of names the handler accepts.
    """
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError):  # some builtins have no signature
        return False, bool(param_names)
    wants_request = False
    accepted: list[str] = []
    takes_var_kw = False
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_var_kw = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if name == "request" or _is_request_annotation(param.annotation):
            if param.kind is inspect.Parameter.POSITIONAL_ONLY or name != "request":
                raise TypeError(
                    f"handler {endpoint!r} for {path}: the request parameter must be named "
                    "'request' and accept a keyword argument"
                )
            wants_request = True
        elif name in param_names and param.kind is not inspect.Parameter.POSITIONAL_ONLY:
            accepted.append(name)
        elif param.default is inspect.Parameter.empty:
            raise TypeError(
                f"handler {endpoint!r} for {path}: parameter {name!r} is neither a path "
                "parameter nor 'request' and has no default"
            )
    if takes_var_kw or len(accepted) == len(param_names):
        return wants_request, bool(param_names)
    return wants_request, tuple(accepted) if accepted else False


# ---- path matching (temporary: replaced by the C radix router) -------------


def _compile_path(path: str) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """Compile a route path: (None, ()) for a static path, else a regex and the names.

    ``{name}`` matches one non-empty path segment (no ``/``).
    """
    if not path.startswith("/"):
        raise ValueError(f"route path must start with '/': {path!r}")
    names = _PARAM.findall(path)
    if not names:
        if "{" in path or "}" in path:
            raise ValueError(f"unbalanced braces in route path {path!r}")
        return None, ()
    pattern = ["^"]
    pos = 0
    for match in _PARAM.finditer(path):
        name = match.group(1)
        if not name.isidentifier():
            raise ValueError(f"invalid parameter name {name!r} in route path {path!r}")
        literal = path[pos:match.start()]
        if "{" in literal or "}" in literal:
            raise ValueError(f"unbalanced braces in route path {path!r}")
        pattern.append(re.escape(literal))
        pattern.append(f"(?P<{name}>[^/]+)")
        pos = match.end()
    tail = path[pos:]
    if "{" in tail or "}" in tail:
        raise ValueError(f"unbalanced braces in route path {path!r}")
    pattern.append(re.escape(tail))
    pattern.append("$")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate parameter name in route path {path!r}")
    return re.compile("".join(pattern)), tuple(names)


def _match_dynamic(entries: list[_PathEntry], path: str) -> tuple[_PathEntry, dict[str, str]] | None:
    """The first parametrised path matching ``path``, with its parameters."""
    for entry in entries:
        match = entry.regex.match(path)  # type: ignore[union-attr]
        if match is not None:
            return entry, match.groupdict()
    return None
