"""Routes, routers and mounts: what path and method reach which endpoint.

Owns: ``Route`` (one endpoint for a path pattern and methods), ``Mount``
(another app under a prefix), ``APIRouter`` (a group of routes with a
prefix, included into an app) and the per-app route table that feeds the C
radix router (``pronghorn._core.Router``). Path syntax is Starlette's
(``/users/{user_id}``, ``{id:int}``, ``{x:float}``, ``{u:uuid}``,
``{rest:path}``); priority is static > typed parameter > str > path,
whatever the registration order (decided by the C router).

Invariants: everything about an endpoint is compiled once, when its route
is added to an app (``endpoints.compile_endpoint``); the table maps each
path pattern to one dict ``{method: call}`` that the server's C fast path
reads directly. ``GET`` routes answer ``HEAD`` unless a ``HEAD`` route is
registered for the path.

Must not know about: sockets, HTTP framing, response serialisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pronghorn import _core
from pronghorn.serialization import DEFAULT

__all__ = ["APIRouter", "Mount", "NoMatchFound", "Route", "WEBSOCKET", "WebSocketRoute"]

#: The pseudo-method a websocket endpoint is registered under in the route table. Upgrade
#: requests never take the C fast path; the app dispatches them to this key.
WEBSOCKET = "WEBSOCKET"

Endpoint = Callable[..., Any]
EndpointT = TypeVar("EndpointT", bound=Endpoint)

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?}")


class NoMatchFound(Exception):
    """``url_path_for`` found no route with that name and those parameters."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        keys = ", ".join(params)
        super().__init__(f'No route exists for name "{name}" and params "{keys}".')


def _param_names(path: str) -> tuple[str, ...]:
    return tuple(m.group(1) for m in _PARAM.finditer(path))


def _fill(path: str, params: dict[str, Any]) -> str:
    """``path`` with its ``{name}`` parameters replaced by ``params`` values."""

    def value(match: re.Match[str]) -> str:
        text = str(params[match.group(1)])
        if match.group(2) != "path" and ("/" in text or not text):
            raise ValueError(f"invalid value {text!r} for path parameter {match.group(1)!r}")
        return text

    return _PARAM.sub(value, path)


class Route:
    """One endpoint bound to a path pattern and a set of methods.

    Besides how it is served (``status_code``, ``response_class``, ``threaded``),
    a route keeps FastAPI's path-operation options: ``response_model`` (and its
    ``response_model_*`` filters), ``dependencies`` (solved before the endpoint,
    values unused), and what OpenAPI shows (``tags``, ``summary``,
    ``description``, ``response_description``, ``responses``, ``deprecated``,
    ``operation_id``, ``include_in_schema``, ``openapi_extra``, ``callbacks``).
    Other keyword arguments are kept in ``extra``. ``plan`` is set when the route
    is compiled into an app (``dependencies.Plan``).
    """

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        methods: Iterable[str] | None = None,
        name: str | None = None,
        status_code: int | None = None,
        response_class: type | None = None,
        threaded: bool | None = None,
        include_in_schema: bool = True,
        raw: bool = False,
        response_model: Any = DEFAULT,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        dependencies: Sequence[Any] | None = None,
        tags: list[Any] | None = None,
        summary: str | None = None,
        description: str | None = None,
        response_description: str = "Successful Response",
        responses: dict[int | str, dict[str, Any]] | None = None,
        deprecated: bool | None = None,
        operation_id: str | None = None,
        openapi_extra: dict[str, Any] | None = None,
        callbacks: list[Any] | None = None,
        **extra: Any,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        self.path = path
        self.endpoint = endpoint
        self.methods = tuple(m.upper() for m in (("GET",) if methods is None else methods))
        if not self.methods:
            raise ValueError("a route needs at least one method")
        self.name = name if name is not None else getattr(endpoint, "__name__", None)
        self.status_code = status_code
        self.response_class = response_class
        self.threaded = threaded
        self.include_in_schema = include_in_schema
        self.raw = raw  # Starlette-style endpoint: endpoint(request) -> Response
        self.response_model = response_model
        self.response_model_include = response_model_include
        self.response_model_exclude = response_model_exclude
        self.response_model_by_alias = response_model_by_alias
        self.response_model_exclude_unset = response_model_exclude_unset
        self.response_model_exclude_defaults = response_model_exclude_defaults
        self.response_model_exclude_none = response_model_exclude_none
        self.dependencies = list(dependencies or ())
        self.tags = list(tags or ())
        self.summary = summary
        self.description = description
        self.response_description = response_description
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.operation_id = operation_id
        self.openapi_extra = openapi_extra
        self.callbacks = callbacks
        self.extra = extra
        self.param_names = _param_names(path)
        self.plan: Any = None

    def with_prefix(self, prefix: str) -> Route:
        route = type(self).__new__(type(self))
        route.__dict__.update(self.__dict__)
        route.path = prefix + self.path
        route.plan = None
        return route

    def included(self, prefix: str, *, tags: Sequence[Any] = (), dependencies: Sequence[Any] = (),
                 responses: dict[int | str, dict[str, Any]] | None = None,
                 deprecated: bool | None = None, include_in_schema: bool = True) -> Route:
        """A copy for ``include_router``: under ``prefix``, with the including router's
        tags and dependencies first and its responses as defaults."""
        route = self.with_prefix(prefix)
        route.tags = [*tags, *self.tags]
        route.dependencies = [*dependencies, *self.dependencies]
        route.responses = {**(responses or {}), **self.responses}
        route.deprecated = self.deprecated or deprecated
        route.include_in_schema = self.include_in_schema and include_in_schema
        return route

    def url_path_for(self, name: str, params: dict[str, Any]) -> str | None:
        if name != self.name or set(params) != set(self.param_names):
            return None
        return _fill(self.path, params)

    def __repr__(self) -> str:
        return f"Route(path={self.path!r}, name={self.name!r}, methods={list(self.methods)!r})"


class WebSocketRoute(Route):
    """A websocket endpoint for a path pattern (Starlette's ``WebSocketRoute``).

    ``endpoint`` receives the ``WebSocket`` (by annotation, or as a parameter named
    ``websocket``), typed path parameters and dependencies like an HTTP endpoint.
    ``options`` are the engine's session settings (``websockets.WebSocketOptions``:
    ``max_message_size``, ``max_queue``, ``compression``, ``ping_interval``,
    ``ping_timeout``, ``close_timeout``). Never in the OpenAPI document.
    """

    def __init__(self, path: str, endpoint: Endpoint, *, name: str | None = None,
                 dependencies: Sequence[Any] | None = None, **options: Any) -> None:
        from pronghorn.websockets import WebSocketOptions

        super().__init__(path, endpoint, methods=(WEBSOCKET,), name=name,
                         dependencies=dependencies, include_in_schema=False)
        self.options = WebSocketOptions(**options)  # TypeError for an unknown option

    def __repr__(self) -> str:
        return f"WebSocketRoute(path={self.path!r}, name={self.name!r})"


class Mount:
    """Another application (a Pronghorn app, or any ASGI app) served under ``path``."""

    def __init__(self, path: str, app: Any, *, name: str | None = None) -> None:
        if not path.startswith("/") or path.endswith("/"):
            raise ValueError(f"mount path must start with '/' and not end with '/': {path!r}")
        self.path = path
        self.app = app
        self.name = name

    def with_prefix(self, prefix: str) -> Mount:
        return Mount(prefix + self.path, self.app, name=self.name)

    def url_path_for(self, name: str, params: dict[str, Any]) -> str | None:
        if self.name is not None and name == self.name and "path" in params:
            return self.path + "/" + str(params["path"]).lstrip("/")
        prefix = f"{self.name}:" if self.name else ""
        if prefix and not name.startswith(prefix):
            return None
        inner = getattr(self.app, "url_path_for_or_none", None)
        if inner is None:
            return None
        found = inner(name[len(prefix):], **params)
        return None if found is None else self.path + found

    def __repr__(self) -> str:
        return f"Mount(path={self.path!r}, name={self.name!r}, app={self.app!r})"


class APIRouter:
    """A group of routes, registered with decorators and included into an app.

    >>> router = APIRouter(prefix="/items")
    >>> @router.get("/{item_id}")
    ... async def read_item(item_id: int): ...
    >>> app.include_router(router)
    """

    def __init__(self, prefix: str = "", *, routes: Sequence[Route | Mount] | None = None,
                 default_response_class: type | None = None, tags: list[Any] | None = None,
                 dependencies: Sequence[Any] | None = None,
                 responses: dict[int | str, dict[str, Any]] | None = None,
                 deprecated: bool | None = None, include_in_schema: bool = True,
                 **defaults: Any) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"a prefix must start with '/' and not end with '/': {prefix!r}")
        self.prefix = prefix
        self.routes: list[Route | Mount] = []
        self.default_response_class = default_response_class
        # Applied to every route of this router (FastAPI's router-level options):
        # tags and dependencies come first, responses are defaults.
        self.tags = list(tags or ())
        self.dependencies = list(dependencies or ())
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.defaults = defaults
        for route in routes or ():
            self._add(route)

    def _add(self, route: Route | Mount) -> None:
        self.routes.append(route.with_prefix(self.prefix) if self.prefix else route)

    def add_api_route(self, path: str, endpoint: Endpoint, *, methods: Iterable[str] | None = None,
                      **options: Any) -> Route:
        """Register ``endpoint`` for ``path`` and ``methods`` (default GET)."""
        for key, value in self.defaults.items():
            options.setdefault(key, value)
        if self.default_response_class is not None:
            options.setdefault("response_class", self.default_response_class)
        options["tags"] = [*self.tags, *(options.get("tags") or ())]
        options["dependencies"] = [*self.dependencies, *(options.get("dependencies") or ())]
        options["responses"] = {**self.responses, **(options.get("responses") or {})}
        options["deprecated"] = options.get("deprecated") or self.deprecated
        options["include_in_schema"] = options.get("include_in_schema", True) and (
            self.include_in_schema)
        route = Route(self.prefix + path, endpoint, methods=methods, **options)  # "" is "/items"
        if self.prefix:
            self.routes.append(route)
        else:
            self._add(route)
        return route

    def add_route(self, path: str, endpoint: Endpoint, methods: Iterable[str] | None = None,
                  name: str | None = None, include_in_schema: bool = True) -> Route:
        """Starlette style: ``endpoint(request)`` returns a Response (sync or async)."""
        return self.add_api_route(path, endpoint, methods=methods, name=name,
                                  include_in_schema=include_in_schema, raw=True)

    def api_route(self, path: str, *, methods: Iterable[str] | None = None,
                  **options: Any) -> Callable[[EndpointT], EndpointT]:
        def decorator(endpoint: EndpointT) -> EndpointT:
            self.add_api_route(path, endpoint, methods=methods, **options)
            return endpoint

        return decorator

    def route(self, path: str, methods: Iterable[str] | None = None, name: str | None = None,
              include_in_schema: bool = True) -> Callable[[EndpointT], EndpointT]:
        """Decorator form of ``add_route`` (Starlette style: ``endpoint(request)``)."""

        def decorator(endpoint: EndpointT) -> EndpointT:
            self.add_route(path, endpoint, methods=methods, name=name,
                           include_in_schema=include_in_schema)
            return endpoint

        return decorator

    def add_api_websocket_route(self, path: str, endpoint: Endpoint, name: str | None = None,
                                *, dependencies: Sequence[Any] | None = None,
                                **options: Any) -> WebSocketRoute:
        """Register a websocket endpoint for ``path`` (``options``: see ``WebSocketRoute``)."""
        route = WebSocketRoute(self.prefix + path, endpoint, name=name,
                               dependencies=[*self.dependencies, *(dependencies or ())],
                               **options)
        if self.prefix:
            self.routes.append(route)
        else:
            self._add(route)
        return route

    def add_websocket_route(self, path: str, endpoint: Endpoint,
                            name: str | None = None) -> WebSocketRoute:
        """Starlette's spelling of ``add_api_websocket_route``."""
        return self.add_api_websocket_route(path, endpoint, name=name)

    def websocket(self, path: str, name: str | None = None, *,
                  dependencies: Sequence[Any] | None = None,
                  **options: Any) -> Callable[[EndpointT], EndpointT]:
        """``@app.websocket("/ws/{room}") async def chat(websocket: WebSocket, room: str)``"""

        def decorator(endpoint: EndpointT) -> EndpointT:
            self.add_api_websocket_route(path, endpoint, name=name, dependencies=dependencies,
                                         **options)
            return endpoint

        return decorator

    def websocket_route(self, path: str, name: str | None = None
                        ) -> Callable[[EndpointT], EndpointT]:
        """Starlette's decorator: ``endpoint(websocket)``."""
        return self.websocket(path, name=name)

    def get(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("DELETE",), **options)

    def head(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("HEAD",), **options)

    def options(self, path: str, **options: Any) -> Callable[[EndpointT], EndpointT]:
        return self.api_route(path, methods=("OPTIONS",), **options)

    def include_router(self, router: APIRouter, *, prefix: str = "",
                       tags: list[Any] | None = None, dependencies: Sequence[Any] | None = None,
                       responses: dict[int | str, dict[str, Any]] | None = None,
                       deprecated: bool | None = None, include_in_schema: bool = True) -> None:
        """Add ``router``'s routes (as they are now) under ``prefix``; ``tags``,
        ``dependencies`` (and this router's own) come before the routes' own."""
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"a prefix must start with '/' and not end with '/': {prefix!r}")
        for route in router.routes:
            if isinstance(route, Route):
                route = route.included(
                    prefix, tags=[*self.tags, *(tags or ())],
                    dependencies=[*self.dependencies, *(dependencies or ())],
                    responses={**self.responses, **(responses or {})},
                    deprecated=deprecated or self.deprecated,
                    include_in_schema=include_in_schema and self.include_in_schema)
            elif prefix:
                route = route.with_prefix(prefix)
            self._add(route)

    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        """Serve ``app`` (a Pronghorn app or an ASGI app) under ``path``."""
        self._add(Mount(path, app, name=name))

    def url_path_for_or_none(self, name: str, /, **params: Any) -> str | None:
        for route in self.routes:
            found = route.url_path_for(name, params)
            if found is not None:
                return found
        return None

    def url_path_for(self, name: str, /, **params: Any) -> str:
        found = self.url_path_for_or_none(name, **params)
        if found is None:
            raise NoMatchFound(name, params)
        return found


class RouteTable:
    """An app's routes in the C router: path pattern -> ``{method: call}``.

    ``compile`` turns a Route into the per-request callable (done once here).
    """

    def __init__(self, compile: Callable[[Route], Callable[[Any], Any]]) -> None:
        self.core = _core.Router()
        self._compile = compile
        self._by_path: dict[str, dict[str, Any]] = {}
        self._explicit: dict[str, set[str]] = {}
        self.allow: dict[int, str] = {}

    def add(self, route: Route) -> None:
        table = self._by_path.get(route.path)
        explicit = self._explicit.setdefault(route.path, set())
        for method in route.methods:
            if method in explicit:
                raise ValueError(f"route {method} {route.path} is already registered")
        call = self._compile(route)
        if table is None:
            table = {}
            self.core.add(route.path, table)  # validates the pattern (ValueError)
            self._by_path[route.path] = table
        for method in route.methods:
            table[method] = call
            explicit.add(method)
        if "GET" in route.methods and "HEAD" not in explicit:
            table["HEAD"] = call
        self.allow[id(table)] = ", ".join(sorted(m for m in table if m != WEBSOCKET))

    def match(self, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return self.core.match(path)

    def allow_header(self, table: dict[str, Any]) -> str:
        return self.allow[id(table)]
