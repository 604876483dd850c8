"""Request bodies: JSON decoded straight into the declared types, and form fields.

Owns: ``JSONBody`` (one annotation, decoded by msgspec's typed decoder in C
when it accepts the body, else by the Python validator, which names every
error), ``parse_json`` (untyped decoding with FastAPI's answers for
malformed input), ``read_form`` (the seam to the form parser) and
``BodyReader``, which reads a route's body once per request into one value
(or errors) per body parameter, with FastAPI's rules:

- one body parameter is the whole body, unless ``Body(embed=True)``;
  several are the keys of a JSON object, named by their aliases;
- JSON is read only when the Content-Type says so (``application/json`` or
  ``application/*+json``); any other body is given to the validator as
  bytes (a model then fails with ``model_attributes_type``, a ``str``
  parameter gets the text), an empty body is a missing one;
- malformed JSON is one ``json_invalid`` error at the stdlib json module's
  offset; nesting deeper than the interpreter's recursion limit, numbers
  msgspec cannot hold and undecodable bytes are a 400.

Form bodies: ``application/x-www-form-urlencoded`` is decoded by the
engine's percent-decoder (``_core.parse_query``); ``multipart/form-data``
waits for the multipart parser: ``request.form()`` is used as soon as the
Request has one, until then such a request raises NotImplementedError.

Must not know about: dependencies, how parameters were declared (it reads
``name``, ``alias``, ``annotation``, ``required``, ``validate``... of the
specs it is given).
"""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec

from pronghorn import _core
from pronghorn.datastructures import QueryParams
from pronghorn.exceptions import HTTPException, RequestValidationError
from pronghorn.params import UNSET
from pronghorn.scalars import Invalid, error
from pronghorn.validation import (
    compile_validator,
    contains_pydantic,
    is_model_type,
    is_union,
    metadata_constraints,
    msgspec_drops_defaults,
    prefix_errors,
    unwrap,
)

__all__ = ["BodyParseError", "BodyReader", "JSONBody", "JSONInvalid", "content_type",
           "is_json_content_type", "msgspec_type", "parse_json", "read_form", "typed_decoder"]

NoneType = type(None)


class BodyParseError(Exception):
    """A body that cannot be parsed at all (answered 400, as FastAPI does)."""


class JSONInvalid(Invalid):
    """Malformed JSON: one ``json_invalid`` error, reported alone (FastAPI validates
    nothing else of such a request)."""


# ---- msgspec's typed decoder -------------------------------------------------------------

_MSGSPEC_META = ("gt", "ge", "lt", "le", "multiple_of", "pattern", "min_length", "max_length")


def _foreign_constraints(annotation: Any, seen: set[int]) -> bool:
    """Whether ``annotation`` carries constraints msgspec would ignore (pydantic ``Field``,
    annotated-types) anywhere inside it."""
    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    if typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        for item in args[1:]:
            if not isinstance(item, msgspec.Meta) and metadata_constraints([item]):
                return True
        return _foreign_constraints(args[0], seen)
    if isinstance(annotation, type):
        if issubclass(annotation, msgspec.Struct):
            return any(_foreign_constraints(f.type, seen)
                       for f in msgspec.structs.fields(annotation))
        if is_model_type(annotation):
            try:
                hints = typing.get_type_hints(annotation, include_extras=True)
            except Exception:
                return True
            return any(_foreign_constraints(t, seen) for t in hints.values())
        return False
    return any(_foreign_constraints(arg, seen) for arg in typing.get_args(annotation)
               if not isinstance(arg, (str, int, bytes, bool)) and arg is not ...)


def msgspec_type(annotation: Any, constraints: dict[str, Any] | None = None) -> Any:
    """``annotation`` (with ``constraints`` as ``msgspec.Meta``) for msgspec's typed decoder,
    or None when msgspec cannot decode it with the same meaning (pydantic models,
    constraints only the Python validator knows)."""
    constraints = {k: v for k, v in (constraints or {}).items() if v is not None}
    if (contains_pydantic(annotation) or _foreign_constraints(annotation, set())
            or msgspec_drops_defaults(annotation)):
        return None
    if set(constraints) - set(_MSGSPEC_META) - {"strict"}:
        return None  # allow_inf_nan, max_digits...: the Python validator checks them
    meta = {k: v for k, v in constraints.items() if k in _MSGSPEC_META}
    target = _with_meta(annotation, meta) if meta else annotation
    try:
        msgspec.json.Decoder(target, strict=False)
    except (TypeError, ValueError):
        return None
    return target


def _with_meta(annotation: Any, meta: dict[str, Any]) -> Any:
    inner, _ = unwrap(annotation)
    if is_union(inner):
        members = [m if m is NoneType else _with_meta(m, meta) for m in typing.get_args(inner)]
        return typing.Union[tuple(members)]  # type: ignore[return-value]
    return typing.Annotated[annotation, msgspec.Meta(**meta)]


# ---- JSON ----------------------------------------------------------------------------

_decode_any = msgspec.json.Decoder().decode


def parse_json(body: bytes) -> Any:
    """``body`` decoded untyped; raises JSONInvalid (``loc`` is ``(offset,)``) for
    malformed JSON and BodyParseError for what cannot be parsed at all."""
    try:
        return _decode_any(body)
    except msgspec.DecodeError:
        pass
    except (msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        # numbers out of range, nesting, strings that are not UTF-8
        raise BodyParseError("There was an error parsing the body") from None
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        raise JSONInvalid([error("json_invalid", "JSON decode error", {}, {"error": exc.msg},
                                 loc=(exc.pos,))]) from None
    except (ValueError, RecursionError):  # not UTF-8, too many digits...
        raise BodyParseError("There was an error parsing the body") from None
    # Python's json accepts NaN and Infinity; RFC 8259 (and msgspec) do not.
    raise JSONInvalid([error("json_invalid", "JSON decode error", {},
                             {"error": "NaN and Infinity are not JSON"}, loc=(0,))])


_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError,
                  UnicodeDecodeError)


def typed_decoder(target: Any) -> Any:
    """msgspec's decoder for ``target``: strict first (about a third faster), lax (``"5"``
    for an int...) when strict refuses the types. Raises what msgspec raises."""
    strict = msgspec.json.Decoder(target).decode
    lax = msgspec.json.Decoder(target, strict=False).decode

    def decode(body: bytes) -> Any:
        try:
            return strict(body)
        except msgspec.ValidationError:
            return lax(body)

    return decode


class JSONBody:
    """Decodes a JSON body into ``annotation``: msgspec's typed decoder when it accepts
    the body, the Python validator otherwise (it names every error)."""

    __slots__ = ("annotation", "validate", "_typed")

    def __init__(self, annotation: Any, constraints: dict[str, Any] | None = None) -> None:
        self.annotation = annotation
        self.validate = compile_validator(annotation, constraints)
        target = msgspec_type(annotation, constraints)
        self._typed = None if target is None else typed_decoder(target)

    def decode(self, body: bytes) -> Any:
        """The validated value; raises Invalid (loc relative to the body), JSONInvalid or
        BodyParseError."""
        typed = self._typed
        if typed is not None:
            try:
                return typed(body)
            except _DECODE_ERRORS:
                pass
        return self.validate(parse_json(body))


def content_type(request: Any) -> str | None:
    """The request's (first) Content-Type, read from the raw header pairs when it can."""
    raw = getattr(request, "raw_headers", None)
    if raw is None:
        return request.headers.get("content-type")
    for name, value in raw:
        if name == b"content-type":
            return value.decode("latin-1")
    return None


def is_json_content_type(value: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json`` (parameters ignored)."""
    if value == "application/json":
        return True
    if not value:
        return False
    media = value.partition(";")[0].strip().lower()
    if not media.startswith("application/"):
        return False
    subtype = media[12:]
    return subtype == "json" or subtype.endswith("+json")


def _media_type(request: Any) -> str:
    value = content_type(request) or ""
    return value.partition(";")[0].strip().lower()


# ---- forms -----------------------------------------------------------------------------

async def read_form(request: Any) -> Any:
    """The request's form fields as a multi-dict (``get``, ``getlist``, ``multi_items``)."""
    form = getattr(request, "form", None)
    if form is not None:
        return await form()
    media = _media_type(request)
    if media == "application/x-www-form-urlencoded":
        body = await request.body()
        try:
            return QueryParams._from_list(_core.parse_query(body))
        except ValueError as exc:
            raise HTTPException(400, f"Invalid form body: {exc}") from exc
    if media.startswith("multipart/"):
        raise NotImplementedError(
            "multipart/form-data bodies cannot be read yet: the multipart parser is not part "
            "of this version (send application/x-www-form-urlencoded for Form fields)")
    return QueryParams()


# ---- a route's body ------------------------------------------------------------------------

def _missing(loc: tuple[Any, ...]) -> dict[str, Any]:
    return error("missing", "Field required", None, loc=loc)


def _text_inputs(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Body bytes given as ``input`` are shown as text, as FastAPI's encoder does."""
    for item in errors:
        if isinstance(item.get("input"), (bytes, bytearray)):
            item["input"] = bytes(item["input"]).decode("utf-8", "replace")
    return errors


class BodyReader:
    """A route's body parameters, read from each request: ``await reader.read(request)``
    gives ``(values, errors)``, both by parameter name (``errors[name]`` are complete
    FastAPI error dicts)."""

    def __init__(self, specs: list[Any], embed: bool, form: bool) -> None:
        self.specs = specs
        self.embed = embed
        self.form = form
        self._single: JSONBody | None = None
        self._struct: Any = None
        self._late: list[Any] = []  # embedded fields msgspec cannot type: validated after
        if form:
            return
        if not embed:
            spec = specs[0]
            self._single = JSONBody(spec.annotation, spec.constraints)
            return
        fields = []
        rename = {}
        for index, spec in enumerate(specs):
            target = msgspec_type(spec.annotation, spec.constraints)
            if target is None:
                target = Any
                self._late.append(spec)
            key = f"f{index}"
            rename[key] = spec.alias
            if spec.required:
                fields.append((key, target))
            else:
                fields.append((key, target | msgspec.UnsetType, msgspec.UNSET))
        try:
            struct = msgspec.defstruct("Body", fields, rename=rename)
            self._struct = typed_decoder(struct)
        except (TypeError, ValueError):
            self._struct = None

    async def read(self, request: Any) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        body = None
        try:
            if self.form:
                return self._from_form(await read_form(request))
            body = await request.body()
            if not body:
                return self._from_object(UNSET)
            if not is_json_content_type(content_type(request)):
                if self._single is not None:
                    return self._validate_single(body, _text_inputs)
                return self._from_object(UNSET)
            if self._single is not None:
                return self._decode_single(body)
            return self._decode_embedded(body)
        except JSONInvalid as exc:
            raise RequestValidationError(prefix_errors(("body",), exc.errors),
                                         body=body) from None
        except BodyParseError as exc:
            raise HTTPException(400, str(exc)) from None

    async def received(self, request: Any) -> Any:
        """The body as FastAPI shows it in ``RequestValidationError.body``: the decoded JSON,
        the form, the bytes of another body, or None (for the error path only)."""
        if self.form:
            return await read_form(request)
        body = await request.body()
        if not body:
            return None
        if is_json_content_type(content_type(request)):
            try:
                return parse_json(body)
            except (Invalid, BodyParseError):
                return body
        return body

    # -- JSON ------------------------------------------------------------------------

    def _decode_single(self, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = self.specs[0]
        try:
            return {spec.name: self._single.decode(body)}, {}  # type: ignore[union-attr]
        except JSONInvalid:
            raise
        except Invalid as exc:
            return {}, {spec.name: prefix_errors(("body",), exc.errors)}

    def _validate_single(self, value: Any, fix: Any = None) -> tuple[dict[str, Any], dict]:
        spec = self.specs[0]
        try:
            return {spec.name: self._single.validate(value)}, {}  # type: ignore[union-attr]
        except Invalid as exc:
            errors = prefix_errors(("body",), exc.errors)
            return {}, {spec.name: fix(errors) if fix else errors}

    def _decode_embedded(self, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._struct is not None:
            try:
                decoded = self._struct(body)
            except _DECODE_ERRORS:
                pass
            else:
                values: dict[str, Any] = {}
                errors: dict[str, Any] = {}
                for index, spec in enumerate(self.specs):
                    value = getattr(decoded, f"f{index}")
                    if value is msgspec.UNSET:
                        values[spec.name] = spec.get_default()
                    elif spec in self._late:
                        self._check(spec, value, values, errors)
                    else:
                        values[spec.name] = value
                return values, errors
        return self._from_object(parse_json(body))

    def _check(self, spec: Any, value: Any, values: dict, errors: dict) -> None:
        try:
            values[spec.name] = spec.validate(value)
        except Invalid as exc:
            errors[spec.name] = prefix_errors(("body", spec.alias), exc.errors)

    def _from_object(self, data: Any) -> tuple[dict, dict]:
        """Each parameter from the key of a decoded object. No body (``UNSET``) or a
        non-JSON one: every parameter is absent; JSON that is not an object: every
        parameter is missing, required or not (FastAPI's rule)."""
        values: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        if self._single is not None:  # a single parameter and no body
            spec = self.specs[0]
            if spec.required:
                errors[spec.name] = [_missing(("body",))]
            else:
                values[spec.name] = spec.get_default()
            return values, errors
        absent = data is UNSET or isinstance(data, (bytes, bytearray))
        for spec in self.specs:
            if not absent and not isinstance(data, dict):
                errors[spec.name] = [_missing(("body", spec.alias))]
            elif absent or spec.alias not in data:
                if spec.required:
                    errors[spec.name] = [_missing(("body", spec.alias))]
                else:
                    values[spec.name] = spec.get_default()
            else:
                self._check(spec, data[spec.alias], values, errors)
        return values, errors

    # -- forms -------------------------------------------------------------------------

    def _from_form(self, form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        values: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        if not self.embed:  # one model of form fields
            spec = self.specs[0]
            data = {key: value for key, value in form.multi_items() if value != ""}
            try:
                values[spec.name] = spec.validate(data)
            except Invalid as exc:
                errors[spec.name] = prefix_errors(("body",), exc.errors)
            return values, errors
        for spec in self.specs:
            if spec.multi:
                value = [item for item in form.getlist(spec.alias) if item != ""] or None
            else:
                value = form.get(spec.alias)
                if value == "":
                    value = None
            if value is None:
                if spec.required:
                    errors[spec.name] = [_missing(("body", spec.alias))]
                else:
                    values[spec.name] = spec.get_default()
                continue
            self._check(spec, value, values, errors)
        return values, errors
