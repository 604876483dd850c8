"""The application: routes, exception handlers, middleware, lifespan, state.

Owns: ``Pronghorn`` — registration (it is an ``APIRouter`` whose routes go
straight into the app's C route table), the per-request entry point
``_handle`` (404, 405 with ``Allow``, trailing-slash redirects, mounts,
function middleware; ASGI middleware classes are run by
``pronghorn.middleware``), exception handling (``HTTPException``, validation
errors, ``exception_handler`` registrations, 500 for the rest) and the
lifespan (``lifespan=`` context manager, ``on_startup``/``on_shutdown``).

Invariants: a routed request on an app without middleware never reaches
``_handle`` — the server's C fast path calls the route's compiled endpoint
directly (``engine_options``); ``_handle`` is the same dispatch in Python and
is what middleware wraps. Exceptions never escape a handler's call: they
become the response of the matching exception handler.

Must not know about: sockets, HTTP framing, the event loop's internals.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from pronghorn.datastructures import State
from pronghorn import endpoints
from pronghorn.endpoints import compile_endpoint
from pronghorn.exceptions import HTTPException, RequestValidationError, http_exception_response
from pronghorn.openapi.docs import install as install_docs
from pronghorn.openapi.document import generate as generate_openapi
from pronghorn.requests import ClientDisconnect
from pronghorn.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pronghorn.routing import WEBSOCKET, APIRouter, Mount, Route, RouteTable

__all__ = ["Pronghorn", "server_exception_observer"]

logger = logging.getLogger("pronghorn.error")

# Called with each exception answered by a 500 (after it is logged), when set in the context
# the engine dispatches the request in: the TestClient's raise_server_exceptions.
server_exception_observer: contextvars.ContextVar[Callable[[BaseException], None] | None] = (
    contextvars.ContextVar("pronghorn.server_exception_observer", default=None))

Hook = Callable[[], Any]
ExceptionHandler = Callable[[Any, Exception], Any]
Middleware = Callable[[Any, Callable[[Any], Awaitable[Response]]], Awaitable[Response]]


def validation_error_response(request: Any, exc: RequestValidationError) -> Response:
    """FastAPI's 422 body: ``{"detail": [{"type", "loc", "msg", "input"}, ...]}``."""
    return JSONResponse({"detail": exc.errors()}, 422)


class Pronghorn(APIRouter):
    """A pronghorn application.

    >>> app = Pronghorn()
    >>> @app.get("/users/{user_id}")
    ... async def get_user(user_id: int):
    ...     return {"user_id": user_id}

    ``def`` handlers run inline on the event loop unless the route says
    ``threaded=True`` or the app ``sync_handlers="threadpool"``.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        routes: Sequence[Route | Mount] | None = None,
        exception_handlers: dict[Any, ExceptionHandler] | None = None,
        on_startup: Iterable[Hook] | None = None,
        on_shutdown: Iterable[Hook] | None = None,
        lifespan: Callable[[Pronghorn], contextlib.AbstractAsyncContextManager[Any]] | None = None,
        sync_handlers: str = "inline",
        redirect_slashes: bool = True,
        title: str = "Pronghorn",
        summary: str | None = None,
        description: str = "",
        version: str = "0.1.0",
        openapi_url: str | None = "/openapi.json",
        openapi_tags: list[dict[str, Any]] | None = None,
        servers: list[dict[str, Any]] | None = None,
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
        swagger_ui_init_oauth: dict[str, Any] | None = None,
        swagger_ui_parameters: dict[str, Any] | None = None,
        terms_of_service: str | None = None,
        contact: dict[str, Any] | None = None,
        license_info: dict[str, Any] | None = None,
        root_path_in_servers: bool = True,
        separate_input_output_schemas: bool = True,
        generate_unique_id_function: Callable[[Route], str] | None = None,
        **defaults: Any,
    ) -> None:
        if sync_handlers not in ("inline", "threadpool"):
            raise ValueError("sync_handlers must be 'inline' or 'threadpool'")
        self.debug = debug
        self.sync_handlers = sync_handlers
        self.redirect_slashes = redirect_slashes
        self.state = State()
        self.on_startup: list[Hook] = list(on_startup or ())
        self.on_shutdown: list[Hook] = list(on_shutdown or ())
        self.lifespan_context = lifespan
        self._lifespan_cm: contextlib.AbstractAsyncContextManager[Any] | None = None
        # What the lifespan yielded: copied into each request.state when first touched.
        self.lifespan_state: dict[str, Any] = {}
        self._exception_handlers: dict[Any, ExceptionHandler] = dict(exception_handlers or {})
        # Dependency callable -> replacement, consulted per request (for tests).
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._middleware: list[Middleware] = []
        self._asgi_middleware: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = []
        self._table = RouteTable(lambda route: compile_endpoint(route, self))
        self._dispatch: Callable[[Any], Any] = self._route
        # OpenAPI (pronghorn.openapi): FastAPI's settings, names and defaults.
        self.title, self.summary, self.description, self.version = (
            title, summary, description, version)
        self.openapi_version = "3.1.0"
        self.openapi_url, self.docs_url, self.redoc_url = openapi_url, docs_url, redoc_url
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        self.swagger_ui_parameters = swagger_ui_parameters
        self.openapi_tags, self.servers = openapi_tags, servers
        self.terms_of_service, self.contact, self.license_info = (
            terms_of_service, contact, license_info)
        self.root_path_in_servers = root_path_in_servers
        self.separate_input_output_schemas = separate_input_output_schemas
        self.generate_unique_id_function = generate_unique_id_function
        self.openapi_schema: dict[str, Any] | None = None
        self.docs_routes: list[Route] = []
        super().__init__(routes=routes, **defaults)
        install_docs(self)

    # ---- registration -------------------------------------------------

    def _add(self, route: Route | Mount) -> None:
        if isinstance(route, Mount):
            self._table.core.add(route.path, route)
            self._table.core.add(route.path + "/{__mount_path:path}", route)
        else:
            self._table.add(route)
        self.routes.append(route)
        self.openapi_schema = None

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI document: generated on first use, again after a route is added."""
        if self.openapi_schema is None:
            self.openapi_schema = generate_openapi(self)
        return self.openapi_schema

    def exception_handler(self, exc_class_or_status: type[Exception] | int
                          ) -> Callable[[ExceptionHandler], ExceptionHandler]:
        """Decorator: ``handler(request, exc)`` answers ``exc_class_or_status``."""

        def decorator(handler: ExceptionHandler) -> ExceptionHandler:
            self.add_exception_handler(exc_class_or_status, handler)
            return handler

        return decorator

    def add_exception_handler(self, exc_class_or_status: type[Exception] | int,
                              handler: ExceptionHandler) -> None:
        self._exception_handlers[exc_class_or_status] = handler

    def middleware(self, kind: str) -> Callable[[Middleware], Middleware]:
        """``@app.middleware("http") async def m(request, call_next): ...``"""
        if kind != "http":
            raise ValueError('only "http" middleware is supported')

        def decorator(func: Middleware) -> Middleware:
            self.add_http_middleware(func)
            return func

        return decorator

    def add_http_middleware(self, func: Middleware) -> None:
        """Wrap the app in ``func(request, call_next)``; the last added runs first."""
        self._middleware.append(func)
        self._build_dispatch()

    def add_middleware(self, middleware_class: type, *args: Any, **options: Any) -> None:
        """Wrap the app in an ASGI middleware class: ``middleware_class(app, *args, **options)``
        (Starlette's API; the last added is the outermost). Requests then take the ASGI
        path through the engine's ASGI bridge; the function middleware runs inside."""
        self._asgi_middleware.insert(0, (middleware_class, args, options))
        self._build_dispatch()

    def _build_dispatch(self) -> None:
        dispatch = self._route
        if self._middleware:
            for middleware in self._middleware[:-1]:
                dispatch = _wrap(middleware, dispatch)
            # The outermost one also answers what escapes the middleware (a handler's error).
            dispatch = _wrap(self._middleware[-1], dispatch, self._exception_response)
        if self._asgi_middleware:
            from pronghorn.middleware import asgi_dispatch

            dispatch = asgi_dispatch(self, self._asgi_middleware, dispatch)
        self._dispatch = dispatch

    def add_event_handler(self, event: str, func: Hook) -> None:
        """Add a startup or shutdown hook (sync function or coroutine function)."""
        if event == "startup":
            self.on_startup.append(func)
        elif event == "shutdown":
            self.on_shutdown.append(func)
        else:
            raise ValueError(f"unknown event {event!r}: expected 'startup' or 'shutdown'")

    def on_event(self, event: str) -> Callable[[Hook], Hook]:
        """Decorator form of ``add_event_handler``."""
        if event not in ("startup", "shutdown"):
            raise ValueError(f"unknown event {event!r}: expected 'startup' or 'shutdown'")

        def decorator(func: Hook) -> Hook:
            self.add_event_handler(event, func)
            return func

        return decorator

    # ---- lifespan -----------------------------------------------------

    async def startup(self) -> None:
        """Enter the lifespan context, then run the startup hooks in order.

        The mapping the lifespan yields updates ``app.state`` and starts each
        request's ``request.state`` (as Starlette). The first failure
        propagates; a lifespan already entered is left with that exception.
        """
        if self.lifespan_context is not None:
            cm = self.lifespan_context(self)
            state = await cm.__aenter__()
            self._lifespan_cm = cm
            if state:
                self.lifespan_state = dict(state)
                for key, value in self.lifespan_state.items():
                    setattr(self.state, key, value)
        try:
            for hook in self.on_startup:
                result = hook()
                if inspect.isawaitable(result):
                    await result
        except BaseException as exc:
            cm, self._lifespan_cm = self._lifespan_cm, None
            if cm is not None:
                with contextlib.suppress(Exception):
                    await cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def shutdown(self) -> None:
        """Run every shutdown hook, then leave the lifespan context; failures are logged."""
        for hook in self.on_shutdown:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("Error in shutdown hook %r", hook)
        cm, self._lifespan_cm = self._lifespan_cm, None
        self.lifespan_state = {}
        if cm is not None:
            try:
                await cm.__aexit__(None, None, None)
            except Exception:
                logger.exception("Error in lifespan shutdown")

    # ---- serving --------------------------------------------------------

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for ``pronghorn._core.Server`` serving this app."""
        return {
            "app": self,
            # Without middleware the C router calls routed endpoints directly.
            "router": None if self._middleware or self._asgi_middleware else self._table.core,
            "slow_handler": self._on_slow_handler,
            "slow_handler_threshold": endpoints.BLOCKING_WARN_SECONDS,
        }

    def _on_slow_handler(self, request: Any, seconds: float) -> None:
        """The engine saw a sync handler hold the event loop: warn once per route."""
        found = self._table.match(request.path)
        call = found[0].get(request.method) if found is not None and isinstance(found[0], dict) \
            else None
        if call is None or getattr(call, "pronghorn_warned", True):
            return
        call.pronghorn_warned = True
        logger.warning(
            "Sync handler for %s blocked the event loop for %.0f ms. Blocking code should "
            "run in the thread pool: declare the route with threaded=True, use "
            "Pronghorn(sync_handlers='threadpool'), or make the handler async.",
            call.pronghorn_route, seconds * 1000)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI 3.0: serve this app under any ASGI server (through its own engine)."""
        adapter = self.__dict__.get("_asgi_adapter")
        if adapter is None:
            from pronghorn.asgi_app import ASGIAdapter

            adapter = self._asgi_adapter = ASGIAdapter(self)
        await adapter(scope, receive, send)

    def _handle(self, request: Any) -> Any:
        """The engine's entry point: a Response, or a coroutine resolving to one."""
        if getattr(request, "is_websocket", False):  # HTTP middleware never sees WebSockets
            return self._websocket(request)
        return self._dispatch(request)

    def _websocket(self, request: Any) -> Any:
        """An upgrade to WebSocket: 400/426 for a bad handshake, else the websocket route
        (403 when there is none, as Starlette's router answers)."""
        problem = request._ws_check()
        if problem is not None:
            status, reason = problem
            headers = [("sec-websocket-version", "13")] if status == 426 else None
            return PlainTextResponse(reason, status, headers)
        return self._websocket_route(request)

    def _websocket_route(self, request: Any) -> Any:
        root = getattr(request, "root_path", "")
        path = (request.path[len(root):] or "/") if root else request.path
        found = self._table.match(path)
        if found is None:
            return Response(b"", 403)
        target, params = found
        if isinstance(target, Mount):
            return self._mounted(request, target, params)
        call = target.get(WEBSOCKET)
        if call is None:
            return Response(b"", 403)
        request.path_params = params
        return call(request)

    def _route(self, request: Any) -> Any:
        root = getattr(request, "root_path", "")
        if root:  # mounted: route the rest of the path
            return self._resolve(request, request.path[len(root):] or "/")
        return self._resolve(request, request.path)

    def _resolve(self, request: Any, path: str) -> Any:
        """Find and call what answers ``path`` (relative to this app's mount point)."""
        found = self._table.match(path)
        if found is None:
            return self._not_found(request, path)
        target, params = found
        if isinstance(target, Mount):
            return self._mounted(request, target, params)
        request.path_params = params
        call = target.get(request.method)
        if call is None:
            if not _has_http(target):  # a websocket-only path is not found over HTTP
                return self._exception_response(request, HTTPException(404))
            exc = HTTPException(405, headers={"allow": self._table.allow_header(target)})
            return self._exception_response(request, exc)
        return call(request)

    def _not_found(self, request: Any, path: str) -> Any:
        if self.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            found = self._table.match(other)
            if found is not None and not isinstance(found[0], Mount) and _has_http(found[0]):
                raw = request.url.path  # still percent-encoded, as the client sent it
                raw = raw[:-1] if raw.endswith("/") else raw + "/"
                return RedirectResponse(str(request.url.replace(path=raw)))
        return self._exception_response(request, HTTPException(404))

    def _mounted(self, request: Any, mount: Mount, params: dict[str, Any]) -> Any:
        app = mount.app
        if isinstance(app, Pronghorn):  # with its own middleware and exception handlers
            request.__dict__["root_path"] = request.__dict__.get("root_path", "") + mount.path
            if getattr(request, "is_websocket", False):
                return app._websocket_route(request)
            return app._dispatch(request)
        from pronghorn.asgi import call_asgi_app  # ASGI apps: run through the ASGI bridge

        return call_asgi_app(app, request, mount.path)

    # ---- errors -----------------------------------------------------------

    def _exception_response(self, request: Any, exc: Exception) -> Any:
        """The response for ``exc`` raised while handling ``request`` (may be a coroutine)."""
        handler = None
        if isinstance(exc, HTTPException):
            handler = self._exception_handlers.get(exc.status_code)
        if handler is None:
            for cls in type(exc).__mro__:
                if cls is Exception or cls is BaseException:
                    break  # an Exception handler answers unhandled errors only (the 500 path)
                handler = self._exception_handlers.get(cls)
                if handler is not None or cls is HTTPException or cls is RequestValidationError:
                    break  # the app's own answer beats a handler for a base class
        if handler is not None:
            try:
                return handler(request, exc)
            except Exception as inner:
                exc = inner
        elif isinstance(exc, HTTPException):
            return http_exception_response(exc)
        elif isinstance(exc, RequestValidationError):
            return validation_error_response(request, exc)
        elif isinstance(exc, ClientDisconnect):
            # The engine has answered already (e.g. 413) or the peer is gone.
            logger.debug("Client disconnected during %s %s", request.method, request.path)
            return PlainTextResponse("Client Disconnected", 400)
        logger.error("Exception in handler for %s %s", getattr(request, "method", "?"),
                     getattr(request, "path", "?"), exc_info=exc)
        observer = server_exception_observer.get()
        if observer is not None:
            observer(exc)
        handler = self._exception_handlers.get(500) or self._exception_handlers.get(Exception)
        if handler is not None and not isinstance(exc, HTTPException):
            with contextlib.suppress(Exception):
                return handler(request, exc)
        if self.debug:
            return PlainTextResponse("".join(traceback.format_exception(exc)), 500)
        return PlainTextResponse("Internal Server Error", 500)

    async def _websocket_exception(self, websocket: Any, exc: BaseException) -> None:
        """Answer an exception raised by a websocket endpoint (or its dependencies).

        A registered handler for the exception's class (or an HTTPException's status) is
        called with ``(websocket, exc)``; a Response it returns before accept is sent as
        the denial response. Otherwise: ``WebSocketException`` closes with its code,
        invalid parameters close with 1008, an ``HTTPException`` before accept is sent as
        its HTTP response, a disconnect ends quietly; anything else is logged and answered
        500 before accept, close 1011 after (uvicorn's answers). Close before accept is a
        403. ``Exception`` and 500 handlers answer HTTP requests only (as Starlette's).
        """
        from pronghorn.websockets import (
            WebSocketDisconnect,
            WebSocketException,
            WebSocketRequestValidationError,
            WebSocketState,
        )

        connecting = websocket.application_state is WebSocketState.CONNECTING
        try:
            handler = None
            if isinstance(exc, HTTPException):
                handler = self._exception_handlers.get(exc.status_code)
            if handler is None:
                for cls in type(exc).__mro__:
                    if cls is Exception or cls is BaseException:
                        break
                    handler = self._exception_handlers.get(cls)
                    if handler is not None:
                        break
            if handler is not None:
                result = handler(websocket, exc)
                if inspect.isawaitable(result):
                    result = await result
                if isinstance(result, Response) and (
                        websocket.application_state is WebSocketState.CONNECTING):
                    await websocket.send_denial_response(result)
                return
            if isinstance(exc, WebSocketException):
                if websocket.application_state in (WebSocketState.CONNECTING,
                                                   WebSocketState.CONNECTED):
                    await websocket.close(exc.code, exc.reason)
                return
            if isinstance(exc, WebSocketRequestValidationError):
                logger.debug("Invalid websocket parameters for %s: %s", websocket.request.path,
                             exc.errors())
                await websocket.close(1008, "invalid parameters")
                return
            if isinstance(exc, HTTPException) and connecting:
                await websocket.send_denial_response(http_exception_response(exc))
                return
            if isinstance(exc, (WebSocketDisconnect, ClientDisconnect)):
                logger.debug("WebSocket client went away: %r", exc)
                return
        except (WebSocketDisconnect, ClientDisconnect):
            return
        except Exception as inner:
            exc = inner
        logger.error("Exception in websocket endpoint for %s", websocket.request.path,
                     exc_info=exc)
        observer = server_exception_observer.get()
        if observer is not None:
            observer(exc)
        state = websocket.application_state
        try:
            if state is WebSocketState.CONNECTING:
                await websocket.send_denial_response(
                    PlainTextResponse("Internal Server Error", 500))
            elif state is WebSocketState.CONNECTED:
                await websocket.close(1011)
        except (ClientDisconnect, RuntimeError):
            pass


def _has_http(table: dict[str, Any]) -> bool:
    """The route table entry answers some HTTP method (not only WebSocket upgrades)."""
    return len(table) > 1 or WEBSOCKET not in table


def _wrap(middleware: Middleware, inner: Callable[[Any], Any],
          handle_exception: Callable[[Any, Exception], Any] | None = None
          ) -> Callable[[Any], Any]:
    """One function middleware around ``inner`` (which returns a Response or a coroutine).

    With ``handle_exception``, an exception raised by the middleware becomes its answer.
    """

    async def call_next(request: Any) -> Response:
        response = inner(request)
        if inspect.isawaitable(response):
            response = await response
        return response

    if handle_exception is None:
        async def dispatch(request: Any) -> Response:
            return await middleware(request, call_next)
    else:
        async def dispatch(request: Any) -> Response:
            try:
                return await middleware(request, call_next)
            except Exception as exc:
                response = handle_exception(request, exc)
                return await response if inspect.isawaitable(response) else response

    return dispatch

