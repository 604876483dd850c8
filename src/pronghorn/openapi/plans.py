"""What the OpenAPI generator reads from a route: its inputs and outputs.

Owns: the one place that knows where a route's parameters, body, security
requirements and response model come from. A route compiled by
``endpoints.compile_endpoint`` carries ``route.plan`` (built once from the
handler's signature, with the ``Query``/``Body``/``Depends``... markers);
this module reads it as is. For a route without a plan it falls back to a
minimal read of the handler's signature (path parameters, scalar query
parameters, one model body, the return annotation as response model), so
that the document is still useful for plain handlers.

The shape read, duck-typed (``ParamView``/``BodyView``/``PlanView`` are the
fallback's own objects and what tests build by hand):

- ``plan.params``: items with ``name``, ``source`` (``path``/``query``/
  ``header``/``cookie``), ``alias`` (wire name), ``annotation``,
  ``required``, ``default`` and ``marker`` (``description``, ``examples``,
  ``openapi_examples``, ``deprecated``, ``include_in_schema``, ``title``,
  ``gt/ge/lt/le/min_length/max_length/pattern``; may be None);
- ``plan.body``: None or an item with ``annotation``, ``embed``,
  ``media_type``, ``required`` and ``fields`` (the embedded JSON, form or
  file fields, each shaped like a param);
- ``plan.security``: ``(scheme, scopes)`` pairs, ``scheme.model`` being the
  OpenAPI security scheme and ``scheme.scheme_name`` its name;
- ``plan.response_model``: a type or None.

Must not know about: JSON Schema generation, the document's layout.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["BodyView", "ParamView", "PlanView", "in_fastapi_order", "plan_of", "route_attr"]

_MISSING = object()


@dataclasses.dataclass
class ParamView:
    name: str
    source: str
    annotation: Any = Any
    alias: str | None = None
    required: bool = True
    default: Any = None
    marker: Any = None

    def __post_init__(self) -> None:
        if self.alias is None:
            self.alias = self.name


@dataclasses.dataclass
class BodyView:
    annotation: Any = Any
    embed: bool = False
    media_type: str = "application/json"
    required: bool = True
    fields: list[Any] = dataclasses.field(default_factory=list)
    name: str | None = None


@dataclasses.dataclass
class PlanView:
    params: list[Any] = dataclasses.field(default_factory=list)
    body: Any = None
    security: list[tuple[Any, list[str]]] = dataclasses.field(default_factory=list)
    response_model: Any = None


def route_attr(route: Any, name: str, default: Any = None) -> Any:
    """A route option: its attribute, else the same key in ``route.extra``, else ``default``."""
    value = getattr(route, name, _MISSING)
    if value is not _MISSING:
        return value
    extra = getattr(route, "extra", None)
    if isinstance(extra, dict):
        return extra.get(name, default)
    return default


def in_fastapi_order(plan: Any) -> tuple[list[Any], list[tuple[Any, list[str]]]]:
    """``plan.params`` and ``plan.security`` in the order FastAPI lists them.

    FastAPI walks the dependency tree depth first, in parameter order, each callable
    before what it depends on: an endpoint's own parameters come before those of its
    dependencies, and security schemes in the order that walk meets them. When the plan
    keeps its
    dependency tree (``plan.dependant``: ``params``, ``dependencies``, ``security``,
    ``scopes`` on each node), that order is rebuilt from it; otherwise the plan's
    order is kept.
    """
    params = list(getattr(plan, "params", None) or ())
    security = list(getattr(plan, "security", None) or ())
    root = getattr(plan, "dependant", None)
    if root is None:
        return params, security
    rank: dict[int, int] = {}
    ordered_security: list[tuple[Any, list[str]]] = []

    def visit(node: Any) -> None:  # depth first, each callable before what it depends on
        scheme = getattr(node, "security", None)
        if scheme is not None:
            entry = (scheme, list(getattr(node, "scopes", ())))
            if entry not in ordered_security:
                ordered_security.append(entry)
        for spec in getattr(node, "params", ()):
            rank.setdefault(id(spec), len(rank))
        for child in getattr(node, "dependencies", ()):
            visit(child)

    try:
        visit(root)
    except (AttributeError, TypeError):
        return params, security
    params.sort(key=lambda spec: rank.get(id(spec), len(rank)))
    if sorted(map(repr, ordered_security)) == sorted(map(repr, security)):
        security = ordered_security
    return params, security


def plan_of(route: Any) -> Any:
    """The route's compiled plan, or a fallback read from its handler's signature."""
    plan = getattr(route, "plan", None)
    if plan is not None:
        return plan
    if getattr(route, "raw", False):
        return PlanView()
    return _signature_plan(route)


# ---- fallback: a minimal signature read ----------------------------------------

_SCALARS = (str, int, float, bool, bytes, decimal.Decimal, uuid.UUID, datetime.datetime,
            datetime.date, datetime.time, datetime.timedelta, enum.Enum)
_SEQUENCES = (list, set, frozenset, tuple)
_SKIPPED_CLASS_NAMES = {"Request", "Response", "BackgroundTasks", "WebSocket", "HTTPConnection"}


def _unwrap(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin is typing.Union or origin is types.UnionType


def _is_scalar(annotation: Any) -> bool:
    """Scalars and optional scalars: what FastAPI reads from the query string by default."""
    annotation = _unwrap(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty or annotation is type(None):
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return True
    if _is_union(annotation):
        return all(_is_scalar(arg) for arg in typing.get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, _SCALARS)


def _is_query_value(annotation: Any) -> bool:
    """A scalar, or a sequence of scalars (repeated query parameters)."""
    annotation = _unwrap(annotation)
    if _is_union(annotation):
        return all(_is_query_value(arg) for arg in typing.get_args(annotation))
    origin = typing.get_origin(annotation)
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        return all(_is_scalar(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    return _is_scalar(annotation)


def _is_skipped(name: str, annotation: Any) -> bool:
    if name == "request":
        return True
    annotation = _unwrap(annotation)
    if isinstance(annotation, str):
        return annotation.rpartition(".")[2] in _SKIPPED_CLASS_NAMES
    return isinstance(annotation, type) and any(
        cls.__name__ in _SKIPPED_CLASS_NAMES for cls in annotation.__mro__)


def _hints(endpoint: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(endpoint, include_extras=True)
    except Exception:  # unresolvable string annotations: take them as written
        return dict(getattr(endpoint, "__annotations__", {}))


def _declared_response_model(route: Any) -> tuple[bool, Any]:
    """``(True, model)`` when the route says its response model (None: none), else
    ``(False, None)``: not given, so the return annotation decides."""
    value = getattr(route, "response_model", _MISSING)
    if value is _MISSING:
        extra = getattr(route, "extra", None) or {}
        return ("response_model" in extra, extra.get("response_model"))
    if value is not None and not value and not isinstance(value, type):
        return (False, None)  # the route's "not given" sentinel
    return (True, value)


def _signature_plan(route: Any) -> PlanView:
    endpoint = route.endpoint
    declared, model = _declared_response_model(route)
    plan = PlanView(response_model=model)
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError):
        return plan
    hints = _hints(endpoint)
    path_names = set(getattr(route, "param_names", ()))
    body_fields: list[ParamView] = []
    for name, param in signature.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(name, param.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        if _is_skipped(name, annotation):
            continue
        required = param.default is inspect.Parameter.empty
        default = None if required else param.default
        if name in path_names:
            plan.params.append(ParamView(name, "path", annotation, required=True))
        elif _is_query_value(annotation):
            plan.params.append(ParamView(name, "query", annotation, required=required,
                                         default=default))
        else:
            body_fields.append(ParamView(name, "body", annotation, required=required,
                                         default=default))
    if len(body_fields) == 1:
        only = body_fields[0]
        plan.body = BodyView(only.annotation, required=only.required, fields=[only],
                             name=only.name)
    elif body_fields:
        plan.body = BodyView(dict, embed=True, fields=body_fields,
                             required=any(field.required for field in body_fields))
    if not declared:
        returned = hints.get("return")
        if returned is not None and returned is not type(None) and not _is_skipped("", returned):
            plan.response_model = returned
    return plan
