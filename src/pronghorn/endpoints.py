"""Compiling an endpoint into the callable the engine runs per request.

Owns: ``compile_endpoint(route, app)``, which compiles the route's
parameter plan once (``dependencies.compile_plan``: path, query, header,
cookie and body parameters, dependencies, ``Request``/``Response``/
``BackgroundTasks`` parameters) and its response model, and returns
``call(request)``: a Response (sync handler whose plan needs nothing
asynchronous) or a coroutine resolving to one (async or threaded handler,
a body to read, an async dependency). Invalid request data is a
``RequestValidationError`` (422 with FastAPI's body).

Invariants: no ``inspect`` work per request; a sync handler never creates a
coroutine unless its plan reads a body or awaits a dependency (or
``app.dependency_overrides`` is in use); exceptions never escape ``call``:
they are thrown into the ``yield`` dependencies entered so far, then go to
the app's exception handling, which answers (500 when nothing else
applies). Results are encoded to JSON by msgspec; with a response model,
straight from the model's fields to bytes.

``compile_websocket`` does the same for a ``WebSocketRoute``: the plan is
solved with the ``WebSocket`` as the request (path, query, header and
cookie parameters, dependencies; no body), invalid parameters close the
connection with 1008 (403 before accept, as FastAPI under uvicorn), and
the endpoint's errors go to ``app._websocket_exception``.

Must not know about: sockets, routing tables, the engine.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from pronghorn.background import background_observer
from pronghorn.concurrency import is_async_callable, run_in_threadpool
from pronghorn.dependencies import compile_plan, finish, finish_async, unwind, unwind_async
from pronghorn.exceptions import RequestValidationError
from pronghorn.responses import JSONResponse, PlainTextResponse, Response, json_response
from pronghorn.routing import WebSocketRoute
from pronghorn.serialization import ResponseModel, resolve_response_model

__all__ = ["compile_endpoint", "compile_websocket", "run_in_threadpool", "websocket_answer"]

logger = logging.getLogger("pronghorn.error")

# A sync handler that holds the event loop longer than this gets a one-time warning.
BLOCKING_WARN_SECONDS = 0.1

_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


def _json_bytes(body: bytes, status_code: int) -> Response:
    """A JSON response around already encoded bytes."""
    response = object.__new__(JSONResponse)
    response.status_code = status_code
    response.body = body
    response.raw_headers = [_JSON_CONTENT_TYPE]
    response.background = None
    return response


def _response_model(route: Any) -> ResponseModel | None:
    annotation = resolve_response_model(route.response_model, route.endpoint)
    if annotation is None:
        return None
    return ResponseModel(
        annotation, exclude_unset=route.response_model_exclude_unset,
        exclude_none=route.response_model_exclude_none,
        exclude_defaults=route.response_model_exclude_defaults,
        include=route.response_model_include, exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias)


def compile_endpoint(route: Any, app: Any) -> Callable[[Any], Any]:
    """The per-request callable for ``route`` in ``app``; sets ``route.plan``."""
    if isinstance(route, WebSocketRoute):
        return compile_websocket(route, app)
    endpoint = route.endpoint
    is_async = is_async_callable(endpoint)
    threaded = route.threaded if route.threaded is not None else app.sync_handlers == "threadpool"
    handle_exception = app._exception_response
    status_code = route.status_code
    response_class = route.response_class

    model = None if route.raw else _response_model(route)
    serialize = None if model is None else model.serialize
    to_python = None if model is None else model.to_python

    plain = serialize is None and response_class is None  # dicts and lists: JSONResponse

    def to_response(result: Any) -> Response:
        cls = result.__class__
        if plain and (cls is dict or cls is list):
            if status_code is None:
                return json_response(result)
            return JSONResponse(result, status_code)
        if isinstance(result, Response):
            return result
        if serialize is not None:
            if response_class is None:
                return _json_bytes(serialize(result), status_code or 200)
            result = to_python(result)  # type: ignore[misc]
        elif isinstance(result, (bytes, bytearray)):
            result = bytes(result).decode()  # FastAPI: bytes become a JSON string
        if response_class is not None:
            return response_class(result, status_code or 200)
        cls = result.__class__
        if cls is not dict and cls is not list:
            dump_json = getattr(cls, "__pydantic_serializer__", None)
            if dump_json is not None:  # a pydantic model: its own serializer, to bytes
                return _json_bytes(dump_json.to_json(result, by_alias=True), status_code or 200)
        if status_code is None:
            return JSONResponse.ok(result)
        return JSONResponse(result, status_code)

    if route.raw:  # Starlette style: endpoint(request) -> Response
        return _compile_raw(endpoint, is_async, threaded, to_response, handle_exception)
    plan = compile_plan(endpoint, path_params=route.param_names,
                        dependencies=route.dependencies,
                        response_model=None if model is None else model.annotation)
    route.plan = plan
    lean = plan.solve_lean
    if not is_async and not threaded and not plan.is_async:
        return _compile_sync(route, plan, endpoint, to_response, handle_exception, app)

    solve = plan.solve_async
    lean_async = plan.solve_lean_async  # extractors and a body only
    bare = _takes_nothing(plan)

    if lean is not None and is_async:
        async def call_lean(request: Any) -> Any:
            try:
                return to_response(await (endpoint() if bare else endpoint(**lean(request))))
            except Exception as exc:
                answer = handle_exception(request, await unwind_async(None, exc))
                return await answer if inspect.isawaitable(answer) else answer

        return call_lean

    async def call_async(request: Any) -> Any:
        state = None
        try:
            if lean is not None:
                kwargs = lean(request)
            elif lean_async is not None:
                kwargs = await lean_async(request)
            else:
                state, kwargs = await solve(request, app.dependency_overrides, threaded)
            if is_async:
                result = await endpoint(**kwargs)
            elif threaded:
                result = await run_in_threadpool(endpoint, **kwargs)
            else:
                result = endpoint(**kwargs)
            response = to_response(result)
            if state is not None:
                response = await finish_async(state, result, response)
            return response
        except Exception as exc:
            answer = handle_exception(request, await unwind_async(state, exc))
            return await answer if inspect.isawaitable(answer) else answer

    return call_async


def _takes_nothing(plan: Any) -> bool:
    """A lean plan with no parameter at all: the endpoint is called without arguments."""
    return plan.solve_lean is not None and not plan.dependant.extractors \
        and not plan.dependant.specials


def _compile_sync(route: Any, plan: Any, endpoint: Callable[..., Any],
                  to_response: Callable[[Any], Response], handle_exception: Any,
                  app: Any) -> Callable[[Any], Any]:
    """A sync handler whose plan is solved without awaiting: answered inline."""
    lean = plan.solve_lean
    solve = plan.solve
    bare = _takes_nothing(plan)
    route_desc = f"{'/'.join(route.methods)} {route.path}"

    async def with_overrides(request: Any) -> Any:
        state = None
        try:
            state, kwargs = await plan.solve_async(request, app.dependency_overrides, False)
            result = endpoint(**kwargs)
            return await finish_async(state, result, to_response(result))
        except Exception as exc:
            answer = handle_exception(request, await unwind_async(state, exc))
            return await answer if inspect.isawaitable(answer) else answer

    def call_sync(request: Any) -> Any:
        if app.dependency_overrides and lean is None:  # tests replacing dependencies
            return with_overrides(request)
        state = None
        try:
            if lean is not None:
                result = endpoint() if bare else endpoint(**lean(request))
                response = to_response(result)
            else:
                state, kwargs = solve(request)
                result = endpoint(**kwargs)
                response = finish(state, result, to_response(result))
        except Exception as exc:
            response = handle_exception(request, unwind(state, exc))
        return response

    # The engine times sync calls in C and reports slow ones (Pronghorn._on_slow_handler).
    call_sync.pronghorn_route = route_desc  # type: ignore[attr-defined]
    call_sync.pronghorn_warned = False  # type: ignore[attr-defined]
    return call_sync


def _compile_raw(endpoint: Callable[..., Any], is_async: bool, threaded: bool,
                 to_response: Callable[[Any], Response], handle_exception: Any
                 ) -> Callable[[Any], Any]:
    """Starlette style: ``endpoint(request)`` returns a Response (or content for one)."""
    if is_async or threaded:
        async def call_raw_async(request: Any) -> Any:
            try:
                if is_async:
                    return to_response(await endpoint(request))
                return to_response(await run_in_threadpool(endpoint, request))
            except Exception as exc:
                answer = handle_exception(request, exc)
                return await answer if inspect.isawaitable(answer) else answer

        return call_raw_async

    def call_raw(request: Any) -> Any:
        try:
            return to_response(endpoint(request))
        except Exception as exc:
            return handle_exception(request, exc)

    return call_raw


# ---- websocket endpoints ---------------------------------------------------------------


def compile_websocket(route: Any, app: Any) -> Callable[[Any], Any]:
    """The per-connection callable of a ``WebSocketRoute``: ``call(request)`` runs the
    endpoint with the ``WebSocket`` (or, for a ``def`` endpoint, a ``SyncWebSocket`` in the
    thread pool) and its parameters, and resolves to the HTTP response to send when the
    endpoint did not accept (403, or what an error calls for), else to None (the engine
    then closes the session with 1000 unless the endpoint closed it)."""
    from pronghorn.websockets import SyncWebSocket, WebSocket, WebSocketRequestValidationError

    endpoint = route.endpoint
    is_async = is_async_callable(endpoint)
    plan = compile_plan(endpoint, path_params=route.param_names,
                        dependencies=route.dependencies, websocket=True)
    if plan.body is not None:
        names = ", ".join(spec.name for spec in plan.body.fields)
        raise TypeError(f"websocket endpoint {route.path}: a WebSocket has no request body "
                        f"(parameters {names}); receive messages instead")
    route.plan = plan
    options = route.options
    lean = plan.solve_lean
    solve = plan.solve_async
    on_error = app._websocket_exception

    async def call_websocket(request: Any) -> Any:
        if not request.is_websocket:  # the pseudo-method sent as a real one: no such route
            return PlainTextResponse("Not Found", 404)
        # The session counts as the exchange's background work: the TestClient waits for it.
        observer = background_observer.get()
        finished = None if observer is None else observer()
        try:
            return await run_websocket(request)
        finally:
            if finished is not None:
                finished(None)

    async def run_websocket(request: Any) -> Any:
        websocket = WebSocket(request, options)
        target: Any = websocket
        if not is_async:
            target = SyncWebSocket(websocket, asyncio.get_running_loop())
        state = None
        try:
            try:
                if lean is not None:
                    kwargs = lean(target)
                else:
                    state, kwargs = await solve(target, app.dependency_overrides, not is_async)
            except RequestValidationError as exc:
                raise WebSocketRequestValidationError(exc.errors()) from None
            if is_async:
                await endpoint(**kwargs)
            else:
                await run_in_threadpool(endpoint, **kwargs)
            if state is not None:
                after = await finish_async(state, None, Response())
                if after.background is not None:
                    await after.background.run()
        except Exception as exc:
            await on_error(websocket, await unwind_async(state, exc))
        return websocket_answer(websocket)

    return call_websocket


def websocket_answer(websocket: Any) -> Response | None:
    """What to send once the endpoint returned: 403 if it neither accepted nor answered."""
    from pronghorn.websockets import WebSocketState

    state = websocket.application_state
    if state is WebSocketState.CONNECTING:
        return Response(b"", 403)
    if state is WebSocketState.RESPONSE:  # a denial response started, never finished
        logger.error("Websocket endpoint for %s returned in the middle of its denial response",
                     websocket.request.path)
        return PlainTextResponse("Internal Server Error", 500)
    return None
