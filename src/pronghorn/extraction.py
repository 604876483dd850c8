"""Reading one parameter from a request: the per-request half of a parameter plan.

Owns: ``extractor(spec)`` — the closure that reads a path, query, header or
cookie parameter (or a parameter model: ``Annotated[Filters, Query()]``)
from a request and validates it — and ``lean_solver``, which solves a plan
made of extractors only.

Invariants: an extractor returns the value or raises ``Invalid`` with
complete FastAPI errors (``loc`` starting with the source and wire name); on
valid input it raises nothing and allocates nothing but the value. A
missing optional parameter gets a fresh copy of its default. The lean
solver collects every error of the request only after one failed (the
extractors are pure, so they are simply run again).

Must not know about: dependencies, bodies, how specs were built (it reads
``source``, ``alias``, ``validate``, ``required``, ``multi``, ``marker``,
``annotation`` and ``get_default`` of a ``dependencies.ParamSpec``).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from pronghorn import _core
from pronghorn.exceptions import RequestValidationError
from pronghorn.requests import Request
from pronghorn.scalars import Invalid, to_int, to_str
from pronghorn.validation import (
    _identity,
    is_model_type,
    is_sequence_annotation,
    prefix_errors,
    unwrap,
)

__all__ = ["errors_of", "extractor", "lean_solver"]

ParamSpec = Any  # dependencies.ParamSpec (not imported: dependencies imports this module)


def _getter(spec: ParamSpec) -> Callable[[Any], Any]:
    """Reads the raw value of ``spec`` from a request (None when absent)."""
    alias = spec.alias
    if spec.source == "path":
        return lambda request: request.path_params.get(alias)
    if spec.source == "query":
        if spec.multi:
            return lambda request: request.query_params.getlist(alias) or None
        return lambda request: request.query_params.get(alias)
    if spec.source == "header":
        if spec.multi:
            return lambda request: request.headers.getlist(alias) or None
        return lambda request: request.headers.get(alias)
    return lambda request: request.cookies.get(alias)


def _model_fields(annotation: Any) -> list[tuple[str, bool]]:
    """(key, is a sequence) of each field of a model type, keys as the input names them."""
    model = unwrap(annotation)[0]
    if hasattr(model, "model_fields"):  # pydantic
        return [(field.alias or name, is_sequence_annotation(field.annotation))
                for name, field in model.model_fields.items()]
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        return [(f.encode_name, is_sequence_annotation(f.type))
                for f in msgspec.structs.fields(model)]
    return [(name, is_sequence_annotation(tp))
            for name, tp in typing.get_type_hints(model, include_extras=True).items()]


def _model_extractor(spec: ParamSpec) -> Callable[[Any], Any]:
    """A query/header/cookie parameter model (FastAPI's ``Annotated[Filters, Query()]``):
    the model's fields, and the other keys of that source, validated together."""
    source = spec.source
    convert = source == "header" and getattr(spec.marker, "convert_underscores", True)
    fields = [(key, key.replace("_", "-") if convert else key, multi)
              for key, multi in _model_fields(spec.annotation)]
    wire_of = {key: wire for key, wire, _ in fields if key != wire}
    declared = {wire.lower() if source == "header" else wire for _, wire, _ in fields}
    declared.update(wire_of)
    validate = spec.validate

    def extract(request: Any) -> Any:
        if source == "cookie":
            cookies = request.cookies
            data = {key: ([cookies[wire]] if multi else cookies[wire])
                    for key, wire, multi in fields if wire in cookies}
            extra: list[tuple[str, Any]] = list(cookies.items())
        else:
            found = request.query_params if source == "query" else request.headers
            data = {}
            for key, wire, multi in fields:
                values = found.getlist(wire)
                if values:
                    data[key] = values if multi else values[0 if source == "header" else -1]
            extra = found.multi_items()
        grouped: dict[str, list[Any]] = {}
        for name, value in extra:
            if name not in declared:
                grouped.setdefault(name, []).append(value)
        for name, values in grouped.items():
            data[name] = values[0] if len(values) == 1 else values
        try:
            return validate(data)
        except Invalid as exc:
            for item in exc.errors:
                loc = item["loc"]
                if loc and loc[0] in wire_of:  # report header names, not field names
                    item["loc"] = (wire_of[loc[0]], *loc[1:])
            raise Invalid(prefix_errors((source,), exc.errors)) from None

    return extract


def extractor(spec: ParamSpec) -> Callable[[Any], Any]:
    """``extract(request)``: the validated value; raises Invalid (``loc`` complete) when it
    is missing or invalid. The query string, the most common source, is read inline."""
    if spec.source != "path" and is_model_type(spec.annotation):
        return _model_extractor(spec)
    alias = spec.alias
    loc = (spec.source, alias)
    validate: Callable[[Any], Any] | None = spec.validate
    if spec.source != "path" and not spec.multi and validate in (to_str, _identity):
        validate = None  # query, header and cookie values are str already
    required = spec.required
    default = spec.get_default
    # What _core.LeanSolver may read itself (it calls this extractor for anything else).
    fast = None
    if not spec.multi and spec.source in ("path", "query"):
        kind = "int" if validate is to_int else (
            "str" if validate is None or validate in (to_str, _identity) else None)
        if kind is not None:
            fast = (spec.source, alias, kind)

    def absent() -> Any:
        if required:
            raise Invalid([{"type": "missing", "loc": loc, "msg": "Field required",
                            "input": None}])
        return default()

    if spec.source == "query" and not spec.multi:
        def extract(request: Any) -> Any:
            value = request.query_params._dict.get(alias)
            if value is None:
                return absent()
            if validate is None:
                return value
            try:
                return validate(value)
            except Invalid as exc:
                raise Invalid(prefix_errors(loc, exc.errors)) from None

        extract.fast = fast  # type: ignore[attr-defined]
        return extract

    get = _getter(spec)

    def extract_other(request: Any) -> Any:
        value = get(request)
        if value is None:
            return absent()
        if validate is None:
            return value
        try:
            return validate(value)
        except Invalid as exc:
            raise Invalid(prefix_errors(loc, exc.errors)) from None

    extract_other.fast = fast  # type: ignore[attr-defined]
    return extract_other


def lean_solver(extractors: Sequence[tuple[str, Callable[[Any], Any]]],
                request_names: Sequence[str]) -> Callable[[Any], dict[str, Any]]:
    """Solves a plan made of extractors only (no dependency, no body): ``solve(request)``
    gives the values by name or raises RequestValidationError with every error.

    The engine's ``LeanSolver`` reads path and query parameters itself where an
    extractor says it may (``extract.fast``) and calls the extractors for the rest."""
    extractors = tuple(extractors)

    def on_invalid(request: Any) -> Any:  # the slow path: every error of the request, in order
        raise RequestValidationError(errors_of(extractors, request))

    items = tuple((name, extract, getattr(extract, "fast", None))
                  for name, extract in extractors)
    return _core.LeanSolver(items, tuple(request_names), Invalid, on_invalid, Request)


def errors_of(extractors: Sequence[tuple[str, Callable[[Any], Any]]], request: Any
               ) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for _, extract in extractors:
        try:
            extract(request)
        except Invalid as exc:
            errors.extend(exc.errors)
    return errors
