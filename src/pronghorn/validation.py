"""Validators compiled from type annotations, with pydantic's rules and error shape.

Owns: ``compile_validator(annotation, constraints)`` — a function turning a
raw value (a string from the query, a header, a form; or a decoded JSON
value) into the annotated type, or raising ``Invalid`` with every problem
found, in pydantic v2's error shape (what FastAPI answers with 422).

Semantics are pydantic's lax mode: ``"5"`` is a valid ``int``, ``"yes"`` a
valid ``bool``, unknown object keys are ignored, all errors are reported
(not just the first). Types: the scalars of ``scalars.py``, ``Enum``,
``Literal``, ``None``, unions (``Optional``, ``X | Y``, smart mode: an exact
type match wins, then the first member that validates), ``list``/``set``/
``frozenset``/``tuple`` (and their abstract bases), ``dict``/``Mapping``,
msgspec ``Struct``, dataclasses, ``TypedDict``, and pydantic models, which
pydantic validates. Constraints (``gt``/``ge``/``lt``/``le``/
``multiple_of``, ``min_length``/``max_length``, ``pattern``,
``max_digits``/``decimal_places``, ``allow_inf_nan``) come from the markers
and from ``Annotated`` metadata (``msgspec.Meta``, annotated-types,
pydantic ``Field``).

Invariants: these validators define what is valid; msgspec's typed JSON
decoder (bodies.py) is a C fast path that agrees with them on valid input.
Recursive types compile once (a forward cell per class). Nothing here
allocates or raises for a valid scalar beyond the builtin conversion.

Must not know about: requests, markers, where a value came from (callers
prefix ``loc``).
"""
from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import inspect
import re
import types
import typing
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Callable

import msgspec

from pronghorn import scalars
from pronghorn.scalars import Invalid, error

__all__ = ["Invalid", "compile_validator", "contains_pydantic", "is_model_type",
           "msgspec_drops_defaults", "type_contains",
           "is_sequence_annotation", "prefix_errors", "pydantic_adapter", "pydantic_errors",
           "type_label", "unwrap"]

Validator = Callable[[Any], Any]
NoneType = type(None)

try:  # pydantic is optional: models of it are validated by it when it is installed
    import pydantic
    from pydantic import TypeAdapter as _TypeAdapter
except ImportError:  # pragma: no cover
    pydantic = None  # type: ignore[assignment]
    _TypeAdapter = None  # type: ignore[assignment,misc]


def prefix_errors(loc: tuple[Any, ...], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item in errors:
        item["loc"] = loc + tuple(item["loc"])
    return errors


# ---- annotations -----------------------------------------------------------------------

_CONSTRAINT_ATTRS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length",
                     "pattern", "max_digits", "decimal_places", "allow_inf_nan")


def metadata_constraints(metadata: typing.Iterable[Any]) -> dict[str, Any]:
    """Constraints found in ``Annotated`` metadata: msgspec.Meta, annotated-types objects
    (``Gt``, ``MaxLen``...), pydantic ``FieldInfo`` (through its ``metadata``)."""
    found: dict[str, Any] = {}
    for item in metadata:
        inner = getattr(item, "metadata", None)
        if isinstance(inner, list) and not isinstance(item, msgspec.Meta):
            found.update(metadata_constraints(inner))
        for name in _CONSTRAINT_ATTRS:
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                found[name] = value
        if type(item).__name__ == "Len":  # annotated_types.Len(min, max)
            found["min_length"] = item.min_length
            if item.max_length is not None:
                found["max_length"] = item.max_length
    return found


def unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, *meta]`` -> (T, meta), through NewTypes and ``type`` aliases."""
    metadata: list[Any] = []
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            args = typing.get_args(annotation)
            annotation = args[0]
            metadata[:0] = args[1:]
        elif hasattr(annotation, "__supertype__"):  # typing.NewType
            annotation = annotation.__supertype__
        elif type(annotation).__name__ == "TypeAliasType":
            annotation = annotation.__value__
        else:
            return annotation, metadata


def is_union(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin is typing.Union or origin is types.UnionType


def is_model_type(annotation: Any) -> bool:
    """A type decoded from a JSON object: Struct, dataclass, TypedDict, pydantic model."""
    annotation = unwrap(annotation)[0]
    if not isinstance(annotation, type):
        return False
    return (issubclass(annotation, msgspec.Struct) or dataclasses.is_dataclass(annotation)
            or is_typeddict(annotation) or _is_pydantic_class(annotation))


def is_typeddict(annotation: Any) -> bool:
    """typing's or typing_extensions' TypedDict classes."""
    return (isinstance(annotation, type) and issubclass(annotation, dict)
            and hasattr(annotation, "__required_keys__") and hasattr(annotation, "__total__"))


def _is_pydantic_class(annotation: Any) -> bool:
    return (pydantic is not None and isinstance(annotation, type)
            and hasattr(annotation, "__pydantic_validator__"))


def type_contains(annotation: Any, test: Callable[[Any], bool],
                  _seen: set[int] | None = None) -> bool:
    """Whether ``test`` holds for ``annotation`` or a type inside it (arguments, fields of
    Structs, dataclasses and TypedDicts)."""
    annotation = unwrap(annotation)[0]
    if test(annotation):
        return True
    seen = _seen if _seen is not None else set()
    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    if isinstance(annotation, type):
        if issubclass(annotation, msgspec.Struct):
            return any(type_contains(f.type, test, seen)
                       for f in msgspec.structs.fields(annotation))
        if dataclasses.is_dataclass(annotation) or is_typeddict(annotation):
            return any(type_contains(t, test, seen) for t in _hints(annotation).values())
        return False
    return any(type_contains(arg, test, seen) for arg in typing.get_args(annotation)
               if not isinstance(arg, (str, int, bytes, bool, enum.Enum)) and arg is not ...)


def contains_pydantic(annotation: Any) -> bool:
    """Whether pydantic must validate ``annotation`` (it is or contains a pydantic model)."""
    return pydantic is not None and type_contains(annotation, _is_pydantic_class)


def _keeps_defaults_on_the_class(annotation: Any) -> bool:
    return (dataclasses.is_dataclass(annotation) and isinstance(annotation, type)
            and not hasattr(annotation, "__slots__")
            and any(f.default is not dataclasses.MISSING for f in dataclasses.fields(annotation)))


def msgspec_drops_defaults(annotation: Any) -> bool:
    """Whether ``annotation`` has a dataclass with plain defaults: msgspec builds such
    instances without storing the defaults (the class attribute answers), and then
    encodes them without those fields. The Python validator calls ``__init__``."""
    return type_contains(annotation, _keeps_defaults_on_the_class)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def type_label(annotation: Any) -> str:
    """pydantic's name for a union member in error locations (``int``, ``list[int]``)."""
    annotation = unwrap(annotation)[0]
    if annotation is NoneType or annotation is None:
        return "none"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "literal[" + ",".join(repr(v) for v in typing.get_args(annotation)) + "]"
    if origin is not None:
        args = ",".join(type_label(a) for a in typing.get_args(annotation))
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]"
    if annotation is Decimal:
        return "decimal"
    if annotation is uuid.UUID:
        return "uuid"
    return getattr(annotation, "__name__", repr(annotation))


# ---- constraints -----------------------------------------------------------------------

_INF = float("inf")


def _shown(number: Any) -> str:
    """A bound as pydantic writes it in messages: ``1`` for ``1.0``."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _number_checks(kind: type, cons: dict[str, Any], convert: Validator) -> Validator:
    def ctx_value(value: Any) -> Any:  # the bound as the field's type, as pydantic's ctx has it
        if kind is float:
            return float(value)
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    checks: list[tuple[Callable[[Any], bool], str, str, str]] = []
    if cons.get("multiple_of") is not None:
        m = cons["multiple_of"]
        checks.append((lambda v, m=m: v % m == 0, "multiple_of", "multiple_of",
                       f"Input should be a multiple of {_shown(m)}"))
    for name, kind_name, words, test in (
        ("le", "less_than_equal", "less than or equal to", lambda v, c: v <= c),
        ("lt", "less_than", "less than", lambda v, c: v < c),
        ("ge", "greater_than_equal", "greater than or equal to", lambda v, c: v >= c),
        ("gt", "greater_than", "greater than", lambda v, c: v > c),
    ):
        bound = cons.get(name)
        if bound is not None:
            checks.append((lambda v, c=bound, t=test: t(v, c), kind_name, name,
                           f"Input should be {words} {_shown(bound)}"))
    finite = cons.get("allow_inf_nan") is False
    max_digits = cons.get("max_digits")
    places = cons.get("decimal_places")
    if not checks and not finite and max_digits is None and places is None:
        return convert
    values = {name: cons[name] for _, _, name, _ in checks}

    def validate(raw: Any) -> Any:
        value = convert(raw)
        if finite and (value != value or value in (_INF, -_INF)):
            raise scalars.fail("finite_number", "Input should be a finite number", raw)
        if isinstance(value, Decimal) and (max_digits is not None or places is not None):
            _decimal_checks(value, raw, max_digits, places)
        for test, kind_name, name, msg in checks:
            if not test(value):
                raise scalars.fail(kind_name, msg, raw, {name: ctx_value(values[name])})
        return value

    return validate


def _decimal_checks(value: Decimal, raw: Any, max_digits: int | None, places: int | None) -> None:
    _, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        total, decimals = len(digits) + exponent, 0
    else:
        decimals = -exponent
        total = max(len(digits), decimals)
    if max_digits is not None and total > max_digits:
        raise scalars.fail("decimal_max_digits", f"Decimal input should have no more than "
                           f"{max_digits} digit{'s' if max_digits != 1 else ''} in total", raw,
                           {"max_digits": max_digits})
    if places is not None and decimals > places:
        raise scalars.fail("decimal_max_places", f"Decimal input should have no more than "
                           f"{places} decimal place{'s' if places != 1 else ''}", raw,
                           {"decimal_places": places})
    if max_digits is not None and places is not None and total - decimals > max_digits - places:
        whole = max_digits - places
        raise scalars.fail("decimal_whole_digits", f"Decimal input should have no more than "
                           f"{whole} digit{'s' if whole != 1 else ''} before the decimal point",
                           raw, {"whole_digits": whole})


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _str_checks(cons: dict[str, Any], convert: Validator) -> Validator:
    low = cons.get("min_length")
    high = cons.get("max_length")
    pattern = cons.get("pattern")
    search = re.compile(pattern).search if pattern is not None else None
    if low is None and high is None and search is None:
        return convert

    def validate(raw: Any) -> Any:
        value = convert(raw)
        size = len(value)
        if low is not None and size < low:
            raise scalars.fail("string_too_short",
                               f"String should have at least {_plural(low, 'character')}", raw,
                               {"min_length": low})
        if high is not None and size > high:
            raise scalars.fail("string_too_long",
                               f"String should have at most {_plural(high, 'character')}", raw,
                               {"max_length": high})
        if search is not None and search(value) is None:
            raise scalars.fail("string_pattern_mismatch", f"String should match pattern "
                               f"'{pattern}'", raw, {"pattern": pattern})
        return value

    return validate


def _length_error(kind: str, label: str, bound: int, actual: int, raw: Any) -> Invalid:
    if kind == "too_short":
        msg = (f"{label} should have at least {_plural(bound, 'item')} after validation, "
               f"not {actual}")
        ctx = {"field_type": label, "min_length": bound, "actual_length": actual}
    else:
        msg = f"{label} should have at most {_plural(bound, 'item')} after validation, not {actual}"
        ctx = {"field_type": label, "max_length": bound, "actual_length": actual}
    return Invalid([error(kind, msg, raw, ctx)])


# ---- compilation -----------------------------------------------------------------------

_SCALARS: dict[Any, Validator] = {
    int: scalars.to_int, float: scalars.to_float, bool: scalars.to_bool, str: scalars.to_str,
    bytes: scalars.to_bytes, Decimal: scalars.to_decimal, uuid.UUID: scalars.to_uuid,
    datetime: scalars.to_datetime, date: scalars.to_date, time: scalars.to_time,
    timedelta: scalars.to_timedelta,
}

_ANY = (Any, object, inspect.Parameter.empty)

# Class validators by class, filled before their fields compile (recursive types).
_class_validators: dict[Any, Validator] = {}


def _identity(value: Any) -> Any:
    return value


def compile_validator(annotation: Any, constraints: dict[str, Any] | None = None) -> Validator:
    """A function validating a raw value against ``annotation`` (see the module docs)."""
    annotation, metadata = unwrap(annotation)
    cons = {**metadata_constraints(metadata), **(constraints or {})}
    cons = {k: v for k, v in cons.items() if v is not None}
    if annotation in _ANY or isinstance(annotation, typing.TypeVar):
        return _identity
    if annotation is None or annotation is NoneType:
        return _none
    if is_union(annotation):
        return _union(typing.get_args(annotation), cons)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return _choices(typing.get_args(annotation), "literal_error", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _choices(tuple(m.value for m in annotation), "enum", annotation)
    if _is_pydantic_class(annotation):
        return _pydantic(annotation, cons)
    if isinstance(annotation, type) and origin is None:
        scalar = _scalar(annotation)
        if scalar is not None:
            if issubclass(annotation, bool):
                return scalar
            if issubclass(annotation, (int, float, Decimal)):
                kind = float if issubclass(annotation, float) else (
                    Decimal if issubclass(annotation, Decimal) else int)
                return _number_checks(kind, cons, scalar)
            if issubclass(annotation, (str, bytes)):
                return _str_checks(cons, scalar)
            return scalar
    if isinstance(annotation, type) and origin is None:
        if issubclass(annotation, msgspec.Struct):
            return _class(annotation, _struct)
        if dataclasses.is_dataclass(annotation):
            return _class(annotation, _dataclass)
        if is_typeddict(annotation):
            return _class(annotation, _typeddict)
    sequence = _sequence_kind(annotation)
    if sequence is not None:
        return _sequence(annotation, sequence, cons)
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or annotation in (dict, typing.Dict):
        return _mapping(annotation, cons)
    return _fallback(annotation)


_SCALAR_BASES = (bool, int, float, str, bytes, Decimal, uuid.UUID, datetime, date, time, timedelta)


def _scalar(cls: type) -> Validator | None:
    found = _SCALARS.get(cls)
    if found is not None or issubclass(cls, enum.Enum):
        return found
    for base in _SCALAR_BASES:
        if issubclass(cls, base):
            convert = _SCALARS[base]
            return _subclass(cls, convert) if base in (int, float, str, bytes) else convert
    return None


def _subclass(cls: type, convert: Validator) -> Validator:
    def validate(value: Any) -> Any:
        return value if isinstance(value, cls) else cls(convert(value))

    return validate


def _none(value: Any) -> None:
    if value is None:
        return None
    raise scalars.fail("none_required", "Input should be None", value)


def _expected(values: tuple[Any, ...]) -> str:
    shown = [repr(v) for v in values]
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


_MISSING = object()


def _choices(values: tuple[Any, ...], kind: str, enum_cls: type | None) -> Validator:
    if enum_cls is not None:
        lookup: dict[Any, Any] = {m.value: m for m in enum_cls}  # type: ignore[attr-defined]
    else:
        lookup = {v: v for v in values}
    # Lax mode: a string names a member of an int-based Enum ("1" -> Level(1)).
    by_text: dict[str, Any] = {}
    if enum_cls is not None and issubclass(enum_cls, int):
        by_text = {str(v): m for v, m in lookup.items()}
    expected = _expected(values)
    msg = f"Input should be {expected}"

    def validate(value: Any) -> Any:
        if enum_cls is not None and isinstance(value, enum_cls):
            return value
        try:
            hit = lookup.get(value, _MISSING)
        except TypeError:  # unhashable input
            hit = _MISSING
        if hit is not _MISSING:
            return hit
        if value.__class__ is str and value in by_text:
            return by_text[value]
        raise scalars.fail(kind, msg, value, {"expected": expected})

    return validate


def _exact_class(annotation: Any) -> type | None:
    """The Python class a value must have to match ``annotation`` exactly (smart unions)."""
    annotation = unwrap(annotation)[0]
    origin = typing.get_origin(annotation) or annotation
    if origin in (str, int, float, bool, bytes, list, dict, tuple, set, frozenset):
        return origin
    if isinstance(annotation, type):
        return annotation
    return None


def _union(members: tuple[Any, ...], cons: dict[str, Any]) -> Validator:
    nullable = NoneType in members or None in members
    others = [m for m in members if m is not NoneType and m is not None]
    validators = [compile_validator(m, cons) for m in others]
    if len(validators) == 1:
        only = validators[0]
        if not nullable:
            return only

        def optional(value: Any) -> Any:
            return None if value is None else only(value)

        return optional
    labels = [type_label(m) for m in others]
    exact: dict[type, Validator] = {}
    for member, validator in zip(others, validators):
        cls = _exact_class(member)
        if cls is not None and cls not in exact:
            exact[cls] = validator

    def validate(value: Any) -> Any:
        if value is None and nullable:
            return None
        first = exact.get(value.__class__)
        if first is not None:
            try:
                return first(value)
            except Invalid:
                pass
        errors: list[dict[str, Any]] = []
        for label, validator in zip(labels, validators):
            try:
                return validator(value)
            except Invalid as exc:
                errors.extend(prefix_errors((label,), exc.errors))
        raise Invalid(errors)

    return validate


# ---- containers ------------------------------------------------------------------------

_SEQUENCES: dict[Any, tuple[type, str, str, str]] = {
    # origin: (result type, error type, message, label for length errors)
    list: (list, "list_type", "Input should be a valid list", "List"),
    cabc.Sequence: (list, "list_type", "Input should be a valid list", "List"),
    cabc.MutableSequence: (list, "list_type", "Input should be a valid list", "List"),
    cabc.Iterable: (list, "list_type", "Input should be a valid list", "List"),
    cabc.Collection: (list, "list_type", "Input should be a valid list", "List"),
    set: (set, "set_type", "Input should be a valid set", "Set"),
    cabc.Set: (set, "set_type", "Input should be a valid set", "Set"),
    cabc.MutableSet: (set, "set_type", "Input should be a valid set", "Set"),
    frozenset: (frozenset, "frozen_set_type", "Input should be a valid frozenset", "Frozenset"),
    tuple: (tuple, "tuple_type", "Input should be a valid tuple", "Tuple"),
}
_SEQUENCE_INPUTS = (list, tuple, set, frozenset)


def _sequence_kind(annotation: Any) -> tuple[type, str, str, str] | None:
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.List, typing.Set, typing.FrozenSet, typing.Tuple):
        origin = {typing.List: list, typing.Set: set, typing.FrozenSet: frozenset,
                  typing.Tuple: tuple}[origin]
    try:
        return _SEQUENCES.get(origin)
    except TypeError:
        return None


def is_sequence_annotation(annotation: Any) -> bool:
    """list/set/tuple... (through Optional): read from repeated query keys or form fields."""
    annotation = unwrap(annotation)[0]
    if is_union(annotation):
        return any(is_sequence_annotation(a) for a in typing.get_args(annotation)
                   if a is not NoneType)
    return _sequence_kind(annotation) is not None


def _sequence(annotation: Any, kind: tuple[type, str, str, str], cons: dict[str, Any]) -> Validator:
    result_type, kind_name, msg, label = kind
    args = typing.get_args(annotation)
    low, high = cons.get("min_length"), cons.get("max_length")
    if result_type is tuple and args and not (len(args) == 2 and args[1] is ...):
        if args == ((),):
            args = ()
        return _fixed_tuple([compile_validator(a) for a in args], high, low)
    item = compile_validator(args[0]) if args else _identity

    def validate(value: Any) -> Any:
        if not isinstance(value, _SEQUENCE_INPUTS):
            raise scalars.fail(kind_name, msg, value)
        items = []
        errors: list[dict[str, Any]] = []
        for index, element in enumerate(value):
            try:
                items.append(item(element))
            except Invalid as exc:
                errors.extend(prefix_errors((index,), exc.errors))
        if errors:
            raise Invalid(errors)
        result = items if result_type is list else result_type(items)
        if low is not None and len(result) < low:
            raise _length_error("too_short", label, low, len(result), value)
        if high is not None and len(result) > high:
            raise _length_error("too_long", label, high, len(result), value)
        return result

    return validate


def _fixed_tuple(items: list[Validator], high: int | None, low: int | None) -> Validator:
    def validate(value: Any) -> Any:
        if not isinstance(value, _SEQUENCE_INPUTS) or isinstance(value, (set, frozenset)):
            raise scalars.fail("tuple_type", "Input should be a valid tuple", value)
        if len(value) > len(items):
            raise _length_error("too_long", "Tuple", len(items), len(value), value)
        result = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if index >= len(value):
                errors.append(error("missing", "Field required", value, loc=(index,)))
                continue
            try:
                result.append(item(value[index]))
            except Invalid as exc:
                errors.extend(prefix_errors((index,), exc.errors))
        if errors:
            raise Invalid(errors)
        return tuple(result)

    return validate


def _mapping(annotation: Any, cons: dict[str, Any]) -> Validator:
    args = typing.get_args(annotation)
    key = compile_validator(args[0]) if args else _identity
    item = compile_validator(args[1]) if len(args) > 1 else _identity
    low, high = cons.get("min_length"), cons.get("max_length")

    def validate(value: Any) -> Any:
        if not isinstance(value, cabc.Mapping):
            raise scalars.fail("dict_type", "Input should be a valid dictionary", value)
        result = {}
        errors: list[dict[str, Any]] = []
        for name, element in value.items():
            try:
                new_key = key(name)
            except Invalid as exc:
                errors.extend(prefix_errors((name, "[key]"), exc.errors))
                continue
            try:
                result[new_key] = item(element)
            except Invalid as exc:
                errors.extend(prefix_errors((name,), exc.errors))
        if errors:
            raise Invalid(errors)
        if low is not None and len(result) < low:
            raise _length_error("too_short", "Dictionary", low, len(result), value)
        if high is not None and len(result) > high:
            raise _length_error("too_long", "Dictionary", high, len(result), value)
        return result

    return validate


# ---- classes ---------------------------------------------------------------------------

@dataclasses.dataclass
class _Field:
    name: str        # Python attribute / keyword name
    key: str         # key in the input object
    validate: Validator
    required: bool


def _class(cls: type, build: Callable[[type], Validator]) -> Validator:
    found = _class_validators.get(cls)
    if found is not None:
        return found
    cell: list[Validator] = []

    def forward(value: Any) -> Any:
        return cell[0](value)

    _class_validators[cls] = forward
    try:
        real = build(cls)
    except BaseException:
        del _class_validators[cls]
        raise
    cell.append(real)
    _class_validators[cls] = real
    return real


def _object(cls: type | None, fields: list[_Field], not_object: Callable[[Any], Invalid],
            make: Callable[[dict[str, Any]], Any], forbid_extra: bool = False) -> Validator:
    keys = {f.key for f in fields}

    def validate(value: Any) -> Any:
        if cls is not None and isinstance(value, cls):
            return value
        if not isinstance(value, cabc.Mapping):
            raise not_object(value)
        kwargs = {}
        errors: list[dict[str, Any]] = []
        for field in fields:
            if field.key not in value:
                if field.required:
                    errors.append(error("missing", "Field required", value, loc=(field.key,)))
                continue
            try:
                kwargs[field.name] = field.validate(value[field.key])
            except Invalid as exc:
                errors.extend(prefix_errors((field.key,), exc.errors))
        if forbid_extra:
            for name in value:
                if name not in keys:
                    errors.append(error("extra_forbidden", "Extra inputs are not permitted",
                                        value[name], loc=(name,)))
        if errors:
            raise Invalid(errors)
        try:
            return make(kwargs)
        except (ValueError, TypeError, AssertionError) as exc:  # __post_init__ checks
            raise scalars.fail("value_error", f"Value error, {exc}", value,
                               {"error": str(exc)}) from None

    return validate


def _model_not_object(value: Any) -> Invalid:
    return scalars.fail("model_attributes_type",
                        "Input should be a valid dictionary or object to extract fields from",
                        value)


def _struct(cls: type) -> Validator:
    fields = [
        _Field(f.name, f.encode_name, compile_validator(f.type), f.required)
        for f in msgspec.structs.fields(cls)
    ]
    forbid = bool(getattr(cls.__struct_config__, "forbid_unknown_fields", False))  # type: ignore
    return _object(cls, fields, _model_not_object, lambda kwargs: cls(**kwargs), forbid)


def _dataclass(cls: type) -> Validator:
    hints = _hints(cls)
    fields = [
        _Field(f.name, f.name, compile_validator(hints.get(f.name, Any)),
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls) if f.init
    ]
    name = cls.__name__

    def not_object(value: Any) -> Invalid:
        return scalars.fail("dataclass_type",
                            f"Input should be a dictionary or an instance of {name}", value,
                            {"class_name": name})

    return _object(cls, fields, not_object, lambda kwargs: cls(**kwargs))


def _typeddict(cls: type) -> Validator:
    hints = _hints(cls)
    required = getattr(cls, "__required_keys__", frozenset(hints))
    fields = [_Field(name, name, compile_validator(tp), name in required)
              for name, tp in hints.items()]

    def not_object(value: Any) -> Invalid:
        return scalars.fail("dict_type", "Input should be a valid dictionary", value)

    return _object(None, fields, not_object, lambda kwargs: kwargs)


# ---- pydantic and the rest -------------------------------------------------------------

_adapters: dict[Any, Any] = {}


def pydantic_adapter(annotation: Any) -> Any:
    adapter = _adapters.get(annotation)
    if adapter is None:
        adapter = _adapters[annotation] = _TypeAdapter(annotation)
    return adapter


def pydantic_errors(exc: Any) -> list[dict[str, Any]]:
    """pydantic's errors as FastAPI shows them: no ``url``, ``ctx`` values JSON-able."""
    errors = []
    for item in exc.errors(include_url=False):
        found = {"type": item["type"], "loc": tuple(item["loc"]), "msg": item["msg"],
                 "input": item["input"]}
        ctx = item.get("ctx")
        if ctx:
            found["ctx"] = {k: (v if isinstance(v, (str, int, float, bool, type(None)))
                                else str(v)) for k, v in ctx.items()}
        errors.append(found)
    return errors


def _pydantic(annotation: Any, cons: dict[str, Any]) -> Validator:
    if cons:
        annotation = typing.Annotated[annotation, pydantic.Field(**cons)]  # type: ignore
    validate_python = pydantic_adapter(annotation).validate_python
    error_class = pydantic.ValidationError  # type: ignore[union-attr]

    def validate(value: Any) -> Any:
        try:
            return validate_python(value, from_attributes=True)  # as FastAPI validates
        except error_class as exc:
            raise Invalid(pydantic_errors(exc)) from None

    return validate


def _fallback(annotation: Any) -> Validator:
    """Types none of the above knows: msgspec converts (lax), or the value is kept when
    msgspec does not know the type either."""
    try:
        msgspec.json.Decoder(annotation)
    except TypeError:
        return _identity

    def validate(value: Any) -> Any:
        try:
            return msgspec.convert(value, annotation, strict=False)
        except msgspec.ValidationError as exc:
            raise scalars.fail("value_error", f"Value error, {exc}", value,
                               {"error": str(exc)}) from None

    return validate
