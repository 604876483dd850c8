"""Response models: validating and filtering what a handler returns, straight to JSON bytes.

Owns: ``ResponseModel`` — built once per route from ``response_model=`` (or
the handler's return annotation) — whose ``serialize(value)`` checks the
handler's result against the model (dicts, objects with attributes, other
models), keeps only the model's fields and encodes JSON, and
``resolve_response_model``, FastAPI's rule for which annotation is one.

Invariants: msgspec types (Structs, dataclasses, TypedDicts, builtins) are
converted by ``msgspec.convert(..., from_attributes=True)`` and encoded by
msgspec with no intermediate dict; types containing pydantic models go
through a pydantic ``TypeAdapter`` (``validate_python`` then ``dump_json``,
which is also bytes). ``exclude_unset``/``exclude_none`` need the fields as
data, so only then is a dict built. A result that does not fit the model
raises ``ResponseValidationError`` (a 500: the server's fault, not the
client's).

Must not know about: requests, routing, response classes.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import msgspec

from pronghorn.exceptions import ResponseValidationError
from pronghorn.responses import JSONResponse, Response
from pronghorn.scalars import Invalid
from pronghorn.validation import (
    compile_validator,
    contains_pydantic,
    msgspec_drops_defaults,
    pydantic_adapter,
    pydantic_errors,
    unwrap,
)

__all__ = ["DEFAULT", "ResponseModel", "resolve_response_model"]

_encode = JSONResponse.encode


class _Default:
    """``response_model`` not given: the return annotation decides."""

    def __repr__(self) -> str:
        return "DEFAULT"

    def __bool__(self) -> bool:
        return False


DEFAULT: Any = _Default()


def _is_response_type(annotation: Any) -> bool:
    annotation = unwrap(annotation)[0]
    if isinstance(annotation, type):
        return issubclass(annotation, Response)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_response_type(arg) for arg in typing.get_args(annotation))
    return False


def resolve_response_model(response_model: Any, endpoint: Any) -> Any:
    """The annotation to validate results with, or None: ``response_model=`` when given
    (``None`` disables it), else the return annotation — unless it is (or includes) a
    Response class, ``None`` or ``Any``."""
    if response_model is DEFAULT:
        try:
            hints = typing.get_type_hints(endpoint, include_extras=True)
        except Exception:
            hints = {}
        response_model = hints.get("return", None)
        if response_model is None:
            annotation = getattr(inspect.unwrap(endpoint), "__annotations__", {}).get("return")
            if annotation is not None and not isinstance(annotation, str):
                response_model = annotation
    if response_model is None or response_model is type(None) or response_model is Any:
        return None
    if _is_response_type(response_model):
        return None
    return response_model


def _prune(data: Any, original: Any, exclude_unset: bool, exclude_none: bool) -> Any:
    """``data`` (plain JSON-able values) without the keys that were not set in
    ``original`` (when it is a dict) and/or whose value is None."""
    if isinstance(data, dict):
        result = {}
        for key, value in data.items():
            if exclude_none and value is None:
                continue
            source = _MISSING
            if isinstance(original, dict):
                if exclude_unset and key not in original:
                    continue
                source = original.get(key, _MISSING)
            elif original is not None and not isinstance(original, (list, tuple)):
                source = getattr(original, key, _MISSING)
                if exclude_unset and source is msgspec.UNSET:
                    continue
            result[key] = _prune(value, None if source is _MISSING else source,
                                 exclude_unset, exclude_none)
        return result
    if isinstance(data, list):
        originals = original if isinstance(original, (list, tuple)) else [None] * len(data)
        if len(originals) != len(data):
            originals = [None] * len(data)
        return [_prune(v, o, exclude_unset, exclude_none) for v, o in zip(data, originals)]
    return data


_MISSING = object()


class ResponseModel:
    """Validation and serialisation of a route's results against ``annotation``."""

    __slots__ = ("annotation", "serialize", "to_python")

    def __init__(self, annotation: Any, *, exclude_unset: bool = False,
                 exclude_none: bool = False, exclude_defaults: bool = False,
                 include: Any = None, exclude: Any = None, by_alias: bool = True) -> None:
        self.annotation = annotation
        if contains_pydantic(annotation):
            self._pydantic(annotation, exclude_unset=exclude_unset, exclude_none=exclude_none,
                           exclude_defaults=exclude_defaults, include=include, exclude=exclude,
                           by_alias=by_alias)
        else:
            self._msgspec(annotation, exclude_unset, exclude_none)

    def _msgspec(self, annotation: Any, exclude_unset: bool, exclude_none: bool) -> None:
        convert = msgspec.convert
        to_builtins = msgspec.to_builtins
        prune = exclude_unset or exclude_none
        # Dataclasses with plain defaults: rebuilt through __init__ (see msgspec_drops_defaults).
        rebuild = compile_validator(annotation) if msgspec_drops_defaults(annotation) else None

        def check(value: Any) -> Any:
            try:
                converted = convert(value, annotation, strict=False, from_attributes=True)
                if rebuild is not None:
                    converted = rebuild(to_builtins(converted))
                return converted
            except msgspec.ValidationError as exc:
                raise ResponseValidationError(
                    [{"type": "value_error", "loc": ("response",), "msg": str(exc),
                      "input": value}], body=value) from None
            except Invalid as exc:
                raise ResponseValidationError(
                    [{**e, "loc": ("response", *e["loc"])} for e in exc.errors],
                    body=value) from None

        def to_python(value: Any) -> Any:
            data = to_builtins(check(value), enc_hook=_enc_hook)
            return _prune(data, value, exclude_unset, exclude_none) if prune else data

        if prune:
            def serialize(value: Any) -> bytes:
                return _encode(to_python(value))
        else:
            def serialize(value: Any) -> bytes:
                return _encode(check(value))

        self.serialize = serialize
        self.to_python = to_python

    def _pydantic(self, annotation: Any, **options: Any) -> None:
        adapter = pydantic_adapter(annotation)
        validate = adapter.validate_python
        import pydantic

        def check(value: Any) -> Any:
            try:
                return validate(value, from_attributes=True)
            except pydantic.ValidationError as exc:
                errors = [{**e, "loc": ("response", *e["loc"])} for e in pydantic_errors(exc)]
                raise ResponseValidationError(errors, body=value) from None

        def serialize(value: Any) -> bytes:
            return adapter.dump_json(check(value), **options)

        def to_python(value: Any) -> Any:
            return adapter.dump_python(check(value), mode="json", **options)

        self.serialize = serialize
        self.to_python = to_python


def _enc_hook(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
