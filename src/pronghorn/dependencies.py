"""The parameter plan of an endpoint: compiled once from signatures, solved per request.

Owns: ``compile_plan`` — which reads the signatures of a handler and of its
dependencies (recursively) once, at route registration, and decides for
every parameter where its value comes from (path, query, header, cookie,
body, form, a dependency, the request itself...) and how it is validated —
and the per-request solving of the resulting ``Plan``: extract and validate
every value, call the dependencies in order (with a per-request cache),
enter ``yield`` dependencies, collect every error into one
``RequestValidationError``.

The rules are FastAPI's: a parameter named in the path is a path
parameter; otherwise a scalar (or ``Query``-marked list) is a query
parameter and a model, dict or list is the body; ``Annotated[T, Marker]``
and ``= Marker(...)`` mean the same; ``Request``, ``Response``,
``BackgroundTasks`` and ``SecurityScopes`` parameters receive those objects.
Dependencies are solved depth first in declaration order, each one before
the parameters of the callable that needs it; a dependency whose own
parameters are invalid is not called; errors are reported in that order
(within one callable: path, query, header, cookie, then body).

Invariants: no ``inspect`` or regex compilation per request. A plan with
no dependency, body or special parameter is solved by ``Plan.solve_lean``:
one loop over precompiled extractor closures (extraction.py), no exception
unless a value is invalid; one with a body too by ``Plan.solve_lean_async``.
A plan needs the event loop (``Plan.is_async``) only when it reads a body
or calls an async dependency. ``yield`` dependencies entered while solving
are left by exits.py: after the response is sent, or at once with the
handler's exception.

Must not know about: the engine, routing tables, OpenAPI (which reads
``Plan.params``, ``Plan.body``, ``Plan.security``, ``Plan.response_model``).
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pronghorn import params as markers
from pronghorn.background import BackgroundTasks
from pronghorn.bodies import BodyReader
from pronghorn.concurrency import run_in_threadpool
from pronghorn.exceptions import RequestValidationError
from pronghorn.exits import DependencyError, finish, finish_async, unwind, unwind_async
from pronghorn.extraction import errors_of, extractor, lean_solver
from pronghorn.params import UNSET, Depends, Param
from pronghorn.requests import Request
from pronghorn.responses import Response
from pronghorn.scalars import Invalid
from pronghorn.security import SecurityBase, SecurityScopes
from pronghorn.validation import (
    compile_validator,
    is_model_type,
    is_sequence_annotation,
    is_union,
    unwrap,
)

__all__ = ["BodySpec", "Dependant", "DependencyError", "ParamSpec", "Plan", "compile_plan",
           "finish", "finish_async", "get_dependant", "unwind", "unwind_async"]

_SOURCE_ORDER = {"path": 0, "query": 1, "header": 2, "cookie": 3}
_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset)

# Kinds of dependency callables.
SYNC, ASYNC, GEN, AGEN = "sync", "async", "gen", "agen"


# ---- specs ---------------------------------------------------------------------------

class ParamSpec:
    """One request parameter: where it is read (``source``: path, query, header, cookie,
    body, form, file), under which wire name (``alias``), its type and marker."""

    __slots__ = ("name", "source", "alias", "annotation", "required", "default",
                 "default_factory", "marker", "constraints", "multi", "validate")

    def __init__(self, name: str, source: str, alias: str, annotation: Any, marker: Param,
                 default: Any, default_factory: Callable[[], Any] | None) -> None:
        self.name = name
        self.source = source
        self.alias = alias
        self.annotation = annotation
        self.marker = marker
        self.required = (default is UNSET or default is ...) and default_factory is None
        self.default = None if self.required or default is UNSET else default
        self.default_factory = default_factory
        self.constraints = marker.constraints()
        # list[str] = Query() reads every value of a repeated key
        self.multi = source in ("query", "header", "form", "file") and is_sequence_annotation(
            annotation)
        self.validate = compile_validator(annotation, self.constraints)

    def get_default(self) -> Any:
        """The default for a request without this parameter: a fresh copy when mutable."""
        if self.default_factory is not None:
            return self.default_factory()
        default = self.default
        if default.__class__ in _IMMUTABLE:
            return default
        return copy.deepcopy(default)

    def __repr__(self) -> str:
        return f"ParamSpec({self.source}:{self.alias}, {self.annotation!r})"


class BodySpec:
    """The request body of a route: ``annotation`` is the type of the one body parameter,
    or, when the body is an object of several (or embedded) parameters, a dict of their
    aliases to their annotations; ``fields`` are the body parameters (form fields and
    files too)."""

    __slots__ = ("annotation", "embed", "media_type", "required", "fields")

    def __init__(self, annotation: Any, embed: bool, media_type: str, required: bool,
                 fields: list[ParamSpec]) -> None:
        self.annotation = annotation
        self.embed = embed
        self.media_type = media_type
        self.required = required
        self.fields = fields

    def __repr__(self) -> str:
        return f"BodySpec({self.annotation!r}, embed={self.embed}, {self.media_type})"


class Dependant:
    """A callable (endpoint or dependency) with what its parameters need."""

    __slots__ = ("call", "name", "kind", "use_cache", "scope", "scopes", "path_params",
                 "dependencies", "params", "body_params", "extractors", "specials",
                 "cache_key", "uses_scopes", "security", "is_async")

    def __init__(self, call: Callable[..., Any], name: str | None, use_cache: bool,
                 scope: str | None, scopes: list[str], path_params: frozenset[str]) -> None:
        self.call = call
        self.name = name
        self.kind = _kind(call)
        self.use_cache = use_cache
        self.scope = scope
        self.scopes = scopes  # OAuth2 scopes required on the way here (parents' first)
        self.path_params = path_params
        self.dependencies: list[Dependant] = []
        self.params: list[ParamSpec] = []       # path, query, header, cookie
        self.body_params: list[ParamSpec] = []  # body, form, file
        self.extractors: list[tuple[str, Callable[[Any], Any]]] = []
        self.specials: list[tuple[str, str]] = []  # (parameter name, what it receives)
        self.security = call if isinstance(call, SecurityBase) else None
        self.cache_key: Any = None
        self.uses_scopes = False
        self.is_async = False

    def __repr__(self) -> str:
        return f"Dependant({getattr(self.call, '__qualname__', self.call)!r})"


# ---- reading signatures ----------------------------------------------------------------------

def _target(call: Any) -> Any:
    while isinstance(call, functools.partial):
        call = call.func
    return call


def _kind(call: Any) -> str:
    target = _target(call)
    if inspect.isclass(target):
        return SYNC
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = getattr(target, "__call__", target)
    if inspect.isasyncgenfunction(target):
        return AGEN
    if inspect.isgeneratorfunction(target):
        return GEN
    if inspect.iscoroutinefunction(target):
        return ASYNC
    return SYNC


def _hints(call: Any) -> dict[str, Any]:
    target = _target(call)
    if inspect.isclass(target):
        target = target.__init__
    elif not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = getattr(target, "__call__", target)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable names: evaluate what can be, keep the rest
        annotations = dict(getattr(target, "__annotations__", {}))
        namespace = getattr(inspect.unwrap(target), "__globals__", {})
        for key, value in annotations.items():
            if isinstance(value, str):
                try:
                    annotations[key] = eval(value, namespace)  # noqa: S307 (annotation)
                except Exception:
                    pass
        return annotations


def _name(call: Any) -> str:
    return getattr(_target(call), "__qualname__", None) or type(call).__name__


def _special(annotation: Any) -> str | None:
    """What a parameter of this type receives, when it is not request data."""
    if isinstance(annotation, str):
        name = annotation.rpartition(".")[2]
        return {"Request": "request", "HTTPConnection": "request", "WebSocket": "request",
                "SyncWebSocket": "request"}.get(name)
    if not isinstance(annotation, type):
        return None
    if issubclass(annotation, Request) or annotation.__name__ in (
            "Request", "HTTPConnection", "WebSocket", "SyncWebSocket"):
        return "request"  # in a websocket endpoint's plan, the "request" is the WebSocket
    if issubclass(annotation, Response):
        return "response"
    if issubclass(annotation, BackgroundTasks):
        return "background"
    if issubclass(annotation, SecurityScopes):
        return "scopes"
    return None


def _is_scalar(annotation: Any) -> bool:
    """FastAPI's test for "a query parameter unless marked": not a model, dict or sequence."""
    annotation = unwrap(annotation)[0]
    if is_union(annotation):
        return all(_is_scalar(a) for a in typing.get_args(annotation))
    if is_model_type(annotation) or is_sequence_annotation(annotation):
        return False
    origin = typing.get_origin(annotation) or annotation
    return not (isinstance(origin, type) and issubclass(origin, dict))


def _split_annotated(annotation: Any) -> tuple[Any, Param | Depends | None]:
    """``Annotated[T, ..., Marker]`` -> (T with its other metadata, the last marker)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return annotation, None
    args = typing.get_args(annotation)
    found = [m for m in args[1:] if isinstance(m, (Param, Depends))]
    others = [m for m in args[1:] if not isinstance(m, (Param, Depends))]
    base = typing.Annotated[(args[0], *others)] if others else args[0]  # type: ignore
    return base, (found[-1] if found else None)


def _marker_of(name: str, param: inspect.Parameter, annotation: Any, where: str
               ) -> tuple[Any, Param | Depends | None, Any]:
    """(type, marker, default) of a parameter, from its annotation and default."""
    base, marker = _split_annotated(annotation)
    default = UNSET if param.default is inspect.Parameter.empty else param.default
    if isinstance(marker, Param) and (marker.default is not UNSET and marker.default is not ...):
        raise AssertionError(
            f"`{type(marker).__name__}` default value cannot be set in `Annotated` for "
            f"{name!r} ({where}). Set the default value with `=` instead.")
    if isinstance(default, (Param, Depends)):
        if marker is not None:
            raise AssertionError(f"cannot give {name!r} ({where}) a marker both in Annotated "
                                 "and as its default value")
        marker = default
        default = marker.default if isinstance(marker, Param) else UNSET
    return base, marker, default


def get_dependant(call: Callable[..., Any], *, path_params: frozenset[str],
                  name: str | None = None, use_cache: bool = True, scope: str | None = None,
                  scopes: Sequence[str] = (), websocket: bool = False) -> Dependant:
    """The Dependant of ``call`` with its sub-dependencies, compiled recursively.
    ``websocket``: a websocket endpoint's, where an unannotated ``websocket`` parameter
    receives the WebSocket (as ``request`` receives the request)."""
    dependant = Dependant(call, name, use_cache, scope, list(scopes), path_params)
    where = _name(call)
    try:
        signature = inspect.signature(call)
    except (TypeError, ValueError):  # builtins without a signature take nothing we can give
        signature = inspect.Signature()
    hints = _hints(call)
    for pname, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            # pronghorn: **kwargs receives the path parameters not named in the signature
            for missing in sorted(path_params - set(signature.parameters), key=str):
                dependant.params.append(_param_spec(missing, str, None, UNSET, path_params,
                                                    where))
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(f"{where}: parameter {pname!r} must accept a keyword argument")
        annotation = hints.get(pname, param.annotation)
        base, marker, default = _marker_of(pname, param, annotation, where)
        if isinstance(marker, Depends):
            sub_call = marker.dependency if marker.dependency is not None else unwrap(base)[0]
            if not callable(sub_call):
                raise TypeError(f"{where}: Depends() for {pname!r} needs a callable")
            sub = get_dependant(sub_call, path_params=path_params, name=pname,
                                use_cache=marker.use_cache, scope=marker.scope,
                                scopes=[*scopes, *marker.scopes], websocket=websocket)
            _check_scope(dependant, sub, where)
            dependant.dependencies.append(sub)
            continue
        special = _special(unwrap(base)[0]) if marker is None else None
        if special is None and marker is None and (
                pname == "request" or (websocket and pname == "websocket")) and (
                base is inspect.Parameter.empty):
            special = "request"  # pronghorn: an unannotated `request` is the request
        if special is not None:
            dependant.specials.append((pname, special))
            continue
        spec = _param_spec(pname, base, marker, default, path_params, where)
        if spec.source in ("body", "form", "file"):
            dependant.body_params.append(spec)
        else:
            dependant.params.append(spec)
    dependant.params.sort(key=lambda spec: _SOURCE_ORDER[spec.source])
    dependant.extractors = [(spec.name, extractor(spec)) for spec in dependant.params]
    _derive(dependant)
    return dependant


def _check_scope(parent: Dependant, sub: Dependant, where: str) -> None:
    if parent.kind in (GEN, AGEN) and parent.scope != "function" and sub.scope == "function":
        raise TypeError(f'The dependency "{where}" has a scope of "request", it cannot depend '
                        'on dependencies with scope "function".')


def _derive(dependant: Dependant) -> None:
    """The facts about a dependant that depend on its sub-dependencies (cache key...)."""
    subs = dependant.dependencies
    dependant.uses_scopes = any(kind == "scopes" for _, kind in dependant.specials) or any(
        sub.uses_scopes for sub in subs)
    scopes = tuple(sorted(set(dependant.scopes))) if dependant.uses_scopes else ()
    dependant.cache_key = (dependant.call, scopes)
    dependant.is_async = dependant.kind in (ASYNC, AGEN) or any(s.is_async for s in subs)


def _param_spec(name: str, annotation: Any, marker: Param | None, default: Any,
                path_params: frozenset[str], where: str) -> ParamSpec:
    in_path = name in path_params
    if marker is None:
        if in_path:
            marker = markers.Path()
        elif not _is_scalar(annotation):
            marker = markers.Body(default)
        else:
            marker = markers.Query(default)
    if in_path and not isinstance(marker, markers.Path):
        raise AssertionError(f"Cannot use `{type(marker).__name__}` for path param {name!r}")
    if isinstance(marker, markers.Path) and default is not UNSET and default is not ...:
        raise AssertionError("Path parameters cannot have default values")
    source = marker.source
    if marker.alias:
        alias = marker.alias
    elif source == "header" and getattr(marker, "convert_underscores", True):
        alias = name.replace("_", "-")
    else:
        alias = name
    if source == "query" and not (_is_scalar(annotation) or is_sequence_annotation(annotation)
                                  or is_model_type(annotation)):
        raise AssertionError(f"Query parameter {name!r} ({where}) must be one of the "
                             "supported types")
    return ParamSpec(name, source, alias, annotation, marker, default, marker.default_factory)


# ---- the plan --------------------------------------------------------------------------------

def _walk(dependant: Dependant) -> typing.Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield from _walk(sub)
    yield dependant


class Plan:
    """What an endpoint needs per request, and how to get it.

    ``params``: every path/query/header/cookie parameter read by the endpoint and its
    dependencies (one per source and wire name); ``body``: the BodySpec or None;
    ``security``: ``(scheme, scopes)`` of each security dependency; ``response_model``:
    the annotation results are validated against, or None.
    """

    def __init__(self, dependant: Dependant, response_model: Any,
                 websocket: bool = False) -> None:
        self.dependant = dependant
        self.websocket = websocket
        self.response_model = response_model
        self.params: list[ParamSpec] = []
        self.security: list[tuple[SecurityBase, list[str]]] = []
        seen: set[tuple[str, str]] = set()
        body_params: dict[str, ParamSpec] = {}
        for node in _walk(dependant):
            for spec in node.params:
                if (spec.source, spec.alias) not in seen:
                    seen.add((spec.source, spec.alias))
                    self.params.append(spec)
            for spec in node.body_params:
                body_params.setdefault(spec.name, spec)
            if node.security is not None:
                entry = (node.security, list(node.scopes))
                if entry not in self.security:
                    self.security.append(entry)
        self.body = _body_spec(list(body_params.values()))
        self._reader = None
        if self.body is not None:
            is_form = any(f.source in ("form", "file") for f in self.body.fields)
            self._reader = BodyReader(self.body.fields, self.body.embed, is_form)
        self.is_async = dependant.is_async or self.body is not None
        self._overrides: dict[tuple[int, Any], Dependant] = {}
        root = dependant
        self.solve_lean: Callable[[Any], dict[str, Any]] | None = None
        self.solve_lean_async: Callable[[Any], Any] | None = None
        if not root.dependencies and all(kind == "request" for _, kind in root.specials):
            lean = lean_solver(root.extractors, [name for name, _ in root.specials])
            if self._reader is None:
                self.solve_lean = lean
            else:
                self.solve_lean_async = self._lean_with_body(lean, root.extractors)

    # -- per request ---------------------------------------------------------------------

    def solve(self, request: Any) -> tuple[_State, dict[str, Any]]:
        """Values for the endpoint (sync plan); raises RequestValidationError."""
        state = _State(request, self)
        values = _solve_sync(self.dependant, state)
        if state.errors:
            raise RequestValidationError(state.errors)
        return state, values

    async def solve_async(self, request: Any, overrides: dict[Any, Any] | None,
                          threaded: bool) -> tuple[_State, dict[str, Any]]:
        state = _State(request, self)
        state.overrides = overrides or None
        state.threaded = threaded
        if self._reader is not None:
            state.body_values, state.body_errors = await self._reader.read(request)
        values = await _solve_async(self.dependant, state)
        if state.errors:
            body = None if self._reader is None else await self._reader.received(request)
            raise RequestValidationError(state.errors, body=body)
        return state, values

    def _lean_with_body(self, lean: Callable[[Any], dict[str, Any]],
                        extractors: list[tuple[str, Callable[[Any], Any]]]) -> Any:
        """A plan of extractors and a body only: solved without the general machinery."""
        reader = self._reader
        order = [spec.name for spec in self.body.fields]  # type: ignore[union-attr]

        async def solve(request: Any) -> dict[str, Any]:
            body_values, body_errors = await reader.read(request)  # type: ignore[union-attr]
            if not body_errors:
                try:
                    values = lean(request)
                except RequestValidationError as exc:
                    exc.body = await reader.received(request)  # type: ignore[union-attr]
                    raise
                values.update(body_values)
                return values
            errors = errors_of(extractors, request)
            for name in order:
                errors.extend(body_errors.get(name, ()))
            raise RequestValidationError(errors, body=await reader.received(request))

        return solve

    def override(self, sub: Dependant, replacement: Callable[..., Any]) -> Dependant:
        """The Dependant of ``replacement`` standing in for ``sub`` (compiled once)."""
        key = (id(sub), replacement)
        found = self._overrides.get(key)
        if found is None:
            found = get_dependant(replacement, path_params=sub.path_params, name=sub.name,
                                  use_cache=sub.use_cache, scope=sub.scope, scopes=sub.scopes,
                                  websocket=self.websocket)
            found.cache_key = sub.cache_key  # cached under the dependency it replaces
            self._overrides[key] = found
        return found


def _body_spec(fields: list[ParamSpec]) -> BodySpec | None:
    if not fields:
        return None
    first = fields[0]
    if any(f.source in ("form", "file") for f in fields):
        embed = not (len(fields) == 1 and is_model_type(first.annotation))
        multipart = any(f.source == "file" or f.marker.media_type == "multipart/form-data"
                        for f in fields)  # type: ignore[attr-defined]
        media_type = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
    else:
        embed = len(fields) > 1 or bool(first.marker.embed)  # type: ignore[attr-defined]
        kinds = {f.marker.media_type for f in fields}  # type: ignore[attr-defined]
        media_type = kinds.pop() if len(kinds) == 1 else "application/json"
    annotation = {f.alias: f.annotation for f in fields} if embed else first.annotation
    return BodySpec(annotation, embed, media_type, any(f.required for f in fields), fields)


# ---- solving -----------------------------------------------------------------------------------

class _State:
    """One request's solving: errors so far, the dependency cache, what to leave after."""

    __slots__ = ("request", "plan", "errors", "cache", "body_values", "body_errors",
                 "response", "background", "stack", "function_stack", "overrides", "threaded")

    def __init__(self, request: Any, plan: Plan) -> None:
        self.request = request
        self.plan = plan
        self.errors: list[dict[str, Any]] = []
        self.cache: dict[Any, Any] = {}
        self.body_values: dict[str, Any] = {}
        self.body_errors: dict[str, list[dict[str, Any]]] = {}
        self.response: Response | None = None
        self.background: BackgroundTasks | None = None
        self.stack: list[tuple[Any, bool]] = []           # yield dependencies, request scope
        self.function_stack: list[tuple[Any, bool]] = []  # scope="function"
        self.overrides: dict[Any, Any] | None = None
        self.threaded = False

    def special(self, kind: str, dependant: Dependant) -> Any:
        if kind == "request":
            return self.request
        if kind == "response":
            if self.response is None:
                response = object.__new__(Response)
                response.status_code = None  # type: ignore[assignment]  # "not set"
                response.body = b""
                response.raw_headers = []
                response.background = None
                self.response = response
            return self.response
        if kind == "background":
            if self.background is None:
                self.background = BackgroundTasks()
            return self.background
        return SecurityScopes(list(dependant.scopes))


def _own_values(dependant: Dependant, state: _State, values: dict[str, Any]) -> None:
    request = state.request
    errors = state.errors
    for name, extract in dependant.extractors:
        try:
            values[name] = extract(request)
        except Invalid as exc:
            errors.extend(exc.errors)
    for spec in dependant.body_params:
        found = state.body_errors.get(spec.name)
        if found is not None:
            errors.extend(copy.deepcopy(found))
        else:
            values[spec.name] = state.body_values.get(spec.name)
    for name, kind in dependant.specials:
        values[name] = state.special(kind, dependant)


def _enter_gen(dependant: Dependant, state: _State, gen: Any, value: Any, is_async: bool) -> Any:
    stack = state.function_stack if dependant.scope == "function" else state.stack
    stack.append((gen, is_async))
    return value


def _solve_sync(dependant: Dependant, state: _State) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors = state.errors
    cache = state.cache
    for sub in dependant.dependencies:
        key = sub.cache_key
        if sub.use_cache and key in cache:
            value = cache[key]
        else:
            before = len(errors)
            kwargs = _solve_sync(sub, state)
            if len(errors) != before:
                continue
            if sub.kind == GEN:
                gen = sub.call(**kwargs)
                value = _enter_gen(sub, state, gen, _first(gen, sub), False)
            else:
                value = sub.call(**kwargs)
            cache.setdefault(key, value)
        if sub.name is not None:
            values[sub.name] = value
    _own_values(dependant, state, values)
    return values


async def _solve_async(dependant: Dependant, state: _State) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors = state.errors
    cache = state.cache
    overrides = state.overrides
    for sub in dependant.dependencies:
        key = sub.cache_key
        if sub.use_cache and key in cache:
            value = cache[key]
        else:
            use = sub
            if overrides is not None:
                replacement = overrides.get(sub.call)
                if replacement is not None:
                    use = state.plan.override(sub, replacement)
            before = len(errors)
            kwargs = await _solve_async(use, state)
            if len(errors) != before:
                continue
            value = await _call(use, kwargs, state)
            cache.setdefault(key, value)
        if sub.name is not None:
            values[sub.name] = value
    _own_values(dependant, state, values)
    return values


async def _call(dependant: Dependant, kwargs: dict[str, Any], state: _State) -> Any:
    kind = dependant.kind
    call = dependant.call
    if kind == ASYNC:
        return await call(**kwargs)
    if kind == AGEN:
        gen = call(**kwargs)
        try:
            value = await gen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError(f"dependency {_name(call)} did not yield") from None
        return _enter_gen(dependant, state, gen, value, True)
    if kind == GEN:
        gen = call(**kwargs)
        if state.threaded:
            value = await run_in_threadpool(_first, gen, dependant)
        else:
            value = _first(gen, dependant)
        return _enter_gen(dependant, state, gen, value, False)
    if state.threaded:
        return await run_in_threadpool(call, **kwargs)
    return call(**kwargs)


def _first(gen: Any, dependant: Dependant) -> Any:
    try:
        return next(gen)
    except StopIteration:
        raise RuntimeError(f"dependency {_name(dependant.call)} did not yield") from None


# ---- compiling a route -------------------------------------------------------------------------

def compile_plan(endpoint: Callable[..., Any], *, path_params: Sequence[str] = (),
                 dependencies: Sequence[Depends] = (), response_model: Any = None,
                 websocket: bool = False) -> Plan:
    """The Plan of ``endpoint`` for a route whose path declares ``path_params``;
    ``dependencies`` (route, router and app level) are solved first, their values unused.
    ``websocket``: the plan of a websocket endpoint, solved with the WebSocket as request."""
    names = frozenset(path_params)
    root = get_dependant(endpoint, path_params=names, websocket=websocket)
    extra = []
    for marker in dependencies:
        if not isinstance(marker, Depends) or marker.dependency is None:
            raise TypeError(f"dependencies= takes Depends(callable) items, not {marker!r}")
        extra.append(get_dependant(marker.dependency, path_params=names, name=None,
                                   use_cache=marker.use_cache, scope=marker.scope,
                                   scopes=list(marker.scopes), websocket=websocket))
    if extra:
        root.dependencies[:0] = extra
        _derive(root)
    return Plan(root, response_model, websocket)
