"""Compiling an endpoint into the callable the engine runs per request.

Owns: reading a handler's signature once, at registration, and producing
``call(request)`` which returns a Response (sync handler) or a coroutine
resolving to one (async or threaded handler). Path parameters are passed by
name and converted by the handler's annotation (``user_id: int``); a value
that does not convert is a 422 with FastAPI's error shape. A parameter named
``request`` (or annotated ``Request``) receives the request.

Invariants: no ``inspect`` work per request; a sync handler never creates a
coroutine; exceptions never escape ``call``: they go to the app's exception
handling, which answers (500 when nothing else applies).

Must not know about: sockets, routing tables, the engine.
"""

from __future__ import annotations

import decimal
import inspect
import logging
import time
import typing
import uuid
from collections.abc import Callable
from typing import Any

from pronghorn.background import BackgroundTasks
from pronghorn.concurrency import is_async_callable, run_in_threadpool
from pronghorn.exceptions import RequestValidationError
from pronghorn.responses import JSONResponse, Response

__all__ = ["compile_endpoint", "run_in_threadpool"]

logger = logging.getLogger("pronghorn.error")

# A sync handler that holds the event loop longer than this gets a one-time warning.
BLOCKING_WARN_SECONDS = 0.1

_json_encode = JSONResponse.encode


# ---- path parameter conversion ---------------------------------------------

def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "on", "yes", "t", "y"):
        return True
    if lowered in ("0", "false", "off", "no", "f", "n"):
        return False
    raise ValueError(text)


# (converter, error type, message) per annotation, FastAPI's wording.
_CONVERTERS: dict[Any, tuple[Callable[[str], Any], str, str]] = {
    int: (int, "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    float: (float, "float_parsing", "Input should be a valid number, unable to parse string as a number"),
    bool: (_to_bool, "bool_parsing", "Input should be a valid boolean, unable to interpret input"),
    uuid.UUID: (uuid.UUID, "uuid_parsing", "Input should be a valid UUID"),
    decimal.Decimal: (decimal.Decimal, "decimal_parsing", "Input should be a valid decimal"),
}


def _plain_type(annotation: Any) -> Any:
    """``Optional[int]`` / ``Annotated[int, ...]`` -> ``int``; anything else unchanged."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _plain_type(typing.get_args(annotation)[0])
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _plain_type(args[0])
    return annotation


def _path_converter(annotation: Any) -> Callable[[Any], Any] | None:
    """A function converting a path value for ``annotation``, or None when none is needed."""
    target = _plain_type(annotation)
    if target is inspect.Parameter.empty or target is str or target is Any:
        return None
    spec = _CONVERTERS.get(target)
    if spec is None and isinstance(target, type) and issubclass(target, int):
        spec = (target, "int_parsing", _CONVERTERS[int][2])
    if spec is None:
        return None
    convert, kind, message = spec

    def converter(value: Any, name: str) -> Any:
        if isinstance(value, target) and not (target is int and isinstance(value, bool)):
            return value  # already converted by the route's {name:int} converter
        try:
            if kind == "float_parsing" and isinstance(value, str) and value.lower() in ("nan", "inf"):
                raise ValueError(value)
            return convert(value if isinstance(value, str) else str(value))
        except (ValueError, TypeError, decimal.InvalidOperation):
            raise RequestValidationError(
                [{"type": kind, "loc": ["path", name], "msg": message, "input": value}]
            ) from None

    return converter


# ---- compilation -----------------------------------------------------------

class _Plan:
    """What to pass to an endpoint, decided from its signature."""

    __slots__ = ("wants_request", "params", "background")

    def __init__(self, wants_request: str | None, params: tuple[tuple[str, Any], ...],
                 background: str | None = None) -> None:
        self.wants_request = wants_request  # the parameter receiving the request
        self.params = params  # (name, converter or None)
        self.background = background  # the parameter receiving a BackgroundTasks


def _is_request_annotation(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.rpartition(".")[2] == "Request"
    return isinstance(annotation, type) and annotation.__name__ == "Request"


def _is_background_annotation(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.rpartition(".")[2] == "BackgroundTasks"
    return isinstance(annotation, type) and issubclass(annotation, BackgroundTasks)


def _plan(endpoint: Callable[..., Any], path: str, param_names: tuple[str, ...]) -> _Plan:
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError):  # some builtins have no signature
        return _Plan(None, tuple((name, None) for name in param_names))
    try:
        hints = typing.get_type_hints(endpoint, include_extras=True)
    except Exception:  # unresolvable string annotations: use them as written
        hints = {}
    wants_request = background = None
    params: list[tuple[str, Any]] = []
    takes_var_kw = False
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_var_kw = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        annotation = hints.get(name, param.annotation)
        if name == "request" or _is_request_annotation(annotation):
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"{path}: the request parameter must accept a keyword argument")
            wants_request = name
            continue
        if _is_background_annotation(annotation):
            background = name
            continue
        if name in param_names:
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"{path}: path parameter {name!r} must accept a keyword argument")
            params.append((name, _path_converter(annotation)))
        elif param.default is inspect.Parameter.empty:
            raise TypeError(
                f"handler {getattr(endpoint, '__qualname__', endpoint)!r} for {path}: parameter "
                f"{name!r} is neither a path parameter nor 'request' and has no default"
            )
    if takes_var_kw:
        known = {name for name, _ in params}
        params.extend((name, None) for name in param_names if name not in known)
    return _Plan(wants_request, tuple(params), background)


def compile_endpoint(route: Any, app: Any) -> Callable[[Any], Any]:
    """The per-request callable for ``route`` in ``app``."""
    endpoint = route.endpoint
    is_async = is_async_callable(endpoint)
    threaded = route.threaded if route.threaded is not None else app.sync_handlers == "threadpool"
    handle_exception = app._exception_response
    status_code = route.status_code
    response_class = route.response_class

    background = None
    if route.raw:  # Starlette style: endpoint(request) -> Response
        def args_of(request: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return (request,), {}
    else:
        plan = _plan(endpoint, route.path, route.param_names)
        wants_request = plan.wants_request
        params = plan.params
        background = plan.background
        if not params and not wants_request and not background:
            empty: dict[str, Any] = {}

            def args_of(request: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
                return (), empty
        else:
            def args_of(request: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
                values = request.path_params
                kwargs = {}
                for name, convert in params:
                    value = values[name]
                    kwargs[name] = value if convert is None else convert(value, name)
                if wants_request:
                    kwargs[wants_request] = request
                if background:
                    kwargs[background] = BackgroundTasks()
                return (), kwargs

    def convert(result: Any) -> Any:
        if isinstance(result, Response):
            return result
        if isinstance(result, (bytes, bytearray)):
            result = bytes(result).decode()  # FastAPI: bytes become a JSON string
        if response_class is not None:
            return response_class(result, status_code or 200)
        if status_code is None:
            return JSONResponse.ok(result)
        return JSONResponse(result, status_code)

    if background is None:
        def to_response(result: Any, kwargs: dict[str, Any]) -> Any:
            return convert(result)
    else:
        def to_response(result: Any, kwargs: dict[str, Any]) -> Any:
            response = convert(result)
            tasks = kwargs[background]
            if tasks.tasks and response.background is None:
                response.background = tasks
            return response

    if is_async:
        async def call_async(request: Any) -> Any:
            try:
                args, kwargs = args_of(request)
                return to_response(await endpoint(*args, **kwargs), kwargs)
            except Exception as exc:
                response = handle_exception(request, exc)
                return await response if inspect.isawaitable(response) else response

        return call_async

    if threaded:
        async def call_threaded(request: Any) -> Any:
            try:
                args, kwargs = args_of(request)
                return to_response(await run_in_threadpool(endpoint, *args, **kwargs), kwargs)
            except Exception as exc:
                response = handle_exception(request, exc)
                return await response if inspect.isawaitable(response) else response

        return call_threaded

    warned = False
    route_desc = f"{'/'.join(route.methods)} {route.path}"

    def call_sync(request: Any) -> Any:
        nonlocal warned
        started = time.perf_counter()
        try:
            args, kwargs = args_of(request)
            response = to_response(endpoint(*args, **kwargs), kwargs)
        except Exception as exc:
            response = handle_exception(request, exc)
        if not warned and time.perf_counter() - started > BLOCKING_WARN_SECONDS:
            warned = True
            logger.warning(
                "Sync handler for %s blocked the event loop for %.0f ms. Blocking code should "
                "run in the thread pool: declare the route with threaded=True, use "
                "Pronghorn(sync_handlers='threadpool'), or make the handler async.",
                route_desc, (time.perf_counter() - started) * 1000,
            )
        return response

    return call_sync
