"""Python types -> JSON Schema (2020-12, as OpenAPI 3.1 uses it).

Owns: ``SchemaSet`` — schemas are asked for first (``add``), then generated
together (``build``) so that every named type (msgspec Struct, dataclass,
TypedDict, Enum, pydantic model) becomes exactly one entry of
``components.schemas`` and is referenced as ``#/components/schemas/Name``.

Two generators, chosen per type: a type that contains a pydantic model (or
pydantic dataclass) goes to pydantic's own generator, in validation mode for
inputs and serialization mode for outputs (a model whose two schemas differ
becomes ``Name-Input`` and ``Name-Output``, as in FastAPI); every other type
goes to msgspec's. msgspec's output is then brought to pydantic's style, so
that a Struct and the equivalent pydantic model give the same schema:
properties get titles (``"user_id"`` -> ``"User Id"``, not on references),
enums keep their declaration order and say their ``type``, a one-value
``Literal`` is a ``const``, ``Decimal`` reads as number or string, datetimes
and times say their ``format``, and fixed-length tuples drop ``items: false``.

Invariants: never imports pydantic unless a type already came from it; a type
neither generator can describe gets the empty schema ``{}`` (logged), never
an exception.

Must not know about: routes, operations, HTTP.
"""

from __future__ import annotations

import copy
import enum
import logging
import typing
from typing import Any

import msgspec

__all__ = ["REF_PREFIX", "SchemaSet", "title_from", "wants_title"]

logger = logging.getLogger("pronghorn.openapi")

REF_PREFIX = "#/components/schemas/"
_MSGSPEC_REF = REF_PREFIX + "{name}"
_PYDANTIC_REF = REF_PREFIX + "{model}"
_NULL = {"type": "null"}
_DECIMAL = {"type": "string", "format": "decimal"}


def title_from(name: str) -> str:
    """A field's default title, as pydantic derives it: ``"user_id"`` -> ``"User Id"``."""
    return name.title().replace("_", " ").strip()


def wants_title(schema: dict[str, Any]) -> bool:
    """False for a reference (the referenced schema has its own title), bare or nullable."""
    if "$ref" in schema:
        return False
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and _NULL in any_of:
        other = any_of[1] if any_of[0] == _NULL else any_of[0]
        return "$ref" not in other
    return True


def uses_pydantic(annotation: Any, _seen: set[int] | None = None) -> bool:
    """Whether ``annotation`` mentions a pydantic model or pydantic dataclass."""
    if isinstance(annotation, type) and hasattr(annotation, "__pydantic_core_schema__"):
        return True
    seen = _seen if _seen is not None else set()
    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    return any(uses_pydantic(arg, seen) for arg in typing.get_args(annotation)
               if not isinstance(arg, (str, int, float, bool, bytes)))


def _json_type(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _uniform_type(values: list[Any]) -> str | None:
    kinds = {_json_type(value) for value in values}
    return kinds.pop() if len(kinds) == 1 else None


def _unwrap(node: Any) -> Any:
    while isinstance(node, msgspec.inspect.Metadata):
        node = node.type
    return node


_FORMATS = {msgspec.inspect.DateTimeType: "date-time", msgspec.inspect.TimeType: "time"}
_RECORDS = (msgspec.inspect.StructType, msgspec.inspect.DataclassType,
            msgspec.inspect.TypedDictType)


class _TypeIndex:
    """What msgspec's schema does not say but pydantic's does, found in msgspec's type
    tree: each enum's declaration order, and which strings are datetimes or times."""

    def __init__(self, types: list[Any]) -> None:
        self.enums: dict[str, type[enum.Enum]] = {}
        self.records: dict[str, Any] = {}
        try:
            self.tops: tuple[Any, ...] = msgspec.inspect.multi_type_info(types)
        except Exception:  # a type msgspec cannot inspect: nothing to add
            self.tops = ()
        seen: set[int] = set()

        def walk(node: Any) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            if isinstance(node, msgspec.inspect.EnumType):
                self.enums.setdefault(node.cls.__name__, node.cls)
            elif isinstance(node, _RECORDS):
                self.records.setdefault(node.cls.__name__, node)
            if isinstance(node, msgspec.Struct):
                for field in node.__struct_fields__:
                    walk(getattr(node, field))
            elif isinstance(node, (tuple, list)):
                for item in node:
                    walk(item)

        walk(self.tops)

    def add_formats(self, node: Any, schema: Any) -> None:
        """Give ``format`` to the string schemas of datetimes and times in ``schema``."""
        node = _unwrap(node)
        if not isinstance(schema, dict):
            return
        inspect = msgspec.inspect
        fmt = _FORMATS.get(type(node))
        if fmt is not None:
            if schema.get("type") == "string":
                schema.setdefault("format", fmt)
        elif isinstance(node, inspect.UnionType):
            members = [_unwrap(t) for t in node.types]
            timed = [t for t in members if type(t) in _FORMATS]
            plain = [m for m in schema.get("anyOf", ()) if m == {"type": "string"}]
            others = [t for t in members if isinstance(t, inspect.StrType)]
            if len(timed) == 1 and len(plain) == 1 and not others:
                plain[0]["format"] = _FORMATS[type(timed[0])]
        elif isinstance(node, (inspect.ListType, inspect.SetType, inspect.FrozenSetType,
                               inspect.VarTupleType)):
            self.add_formats(node.item_type, schema.get("items"))
        elif isinstance(node, inspect.DictType):
            self.add_formats(node.value_type, schema.get("additionalProperties"))
        elif isinstance(node, inspect.TupleType):
            for item, item_schema in zip(node.item_types, schema.get("prefixItems", ())):
                self.add_formats(item, item_schema)

    def add_record_formats(self, schema: dict[str, Any]) -> None:
        record = self.records.get(schema.get("title", ""))
        properties = schema.get("properties")
        if record is None or not isinstance(properties, dict):
            return
        for field in record.fields:
            self.add_formats(field.type, properties.get(field.encode_name))


class _PydanticStyle:
    """Rewrites msgspec's JSON Schema in pydantic's style (see the module docstring)."""

    def __init__(self, index: _TypeIndex) -> None:
        self.index = index

    def component(self, schema: dict[str, Any]) -> dict[str, Any]:
        self.index.add_record_formats(schema)
        cls = self.index.enums.get(schema.get("title", ""))
        if cls is not None and "enum" in schema and "properties" not in schema:
            values = [member.value for member in cls]
            schema["enum"] = values
            kind = _uniform_type(values)
            if kind is not None:
                schema.setdefault("type", kind)
            return schema
        return self.schema(schema)

    def schema(self, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return schema
        if all(schema.get(key) == value for key, value in _DECIMAL.items()):
            del schema["type"], schema["format"]
            schema["anyOf"] = [{"type": "number"}, {"type": "string"}]
        elif (schema.get("items") is False and "prefixItems" in schema
              and schema.get("maxItems") == len(schema["prefixItems"])):
            del schema["items"]  # a fixed-length tuple: maxItems says it already
        elif "enum" in schema and "type" not in schema:  # an inline Literal
            values = schema["enum"]
            kind = _uniform_type(values)
            if kind is not None:
                schema["type"] = kind
            if len(values) == 1:
                schema["const"] = values[0]
                del schema["enum"]
        for key in ("items", "additionalProperties", "not", "contains"):
            if isinstance(schema.get(key), dict):
                self.schema(schema[key])
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for item in schema.get(key, ()):
                self.schema(item)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for name, prop in properties.items():
                self.schema(prop)
                if isinstance(prop, dict) and "title" not in prop and wants_title(prop):
                    prop["title"] = title_from(name)
        return schema


class SchemaSet:
    """Schemas for many types, generated together; named types end up in ``components``."""

    def __init__(self, *, separate_input_output: bool = True) -> None:
        self.separate_input_output = separate_input_output
        self.components: dict[str, dict[str, Any]] = {}
        self._msgspec: list[Any] = []
        self._pydantic: list[tuple[int, str, Any]] = []
        self._where: list[tuple[str, int]] = []  # ticket -> (generator, index)
        self._results: dict[str, list[dict[str, Any]]] = {}

    def add(self, annotation: Any, mode: str = "validation") -> int:
        """Ask for ``annotation``'s schema; returns the ticket for ``get`` after ``build``."""
        ticket = len(self._where)
        if uses_pydantic(annotation):
            if not self.separate_input_output:
                mode = "validation"
            self._where.append(("pydantic", len(self._pydantic)))
            self._pydantic.append((ticket, mode, annotation))
        else:
            self._where.append(("msgspec", len(self._msgspec)))
            self._msgspec.append(annotation)
        return ticket

    def get(self, ticket: int) -> dict[str, Any]:
        """A fresh copy of the schema asked for with ``ticket`` (callers may change it)."""
        generator, index = self._where[ticket]
        return copy.deepcopy(self._results[generator][index])

    def build(self) -> None:
        self._results["pydantic"] = self._build_pydantic()
        self._results["msgspec"] = self._build_msgspec()
        for schema in self.components.values():
            description = schema.get("description")
            if isinstance(description, str) and "\f" in description:
                schema["description"] = description.split("\f")[0].rstrip()

    def _merge(self, components: dict[str, dict[str, Any]]) -> None:
        for name, schema in components.items():
            known = self.components.setdefault(name, schema)
            if known != schema:
                logger.warning("two different types are both named %r in the OpenAPI "
                               "components; keeping the first", name)

    def _build_msgspec(self) -> list[dict[str, Any]]:
        types = self._msgspec
        if not types:
            return []
        try:
            described, components = msgspec.json.schema_components(
                types, ref_template=_MSGSPEC_REF)
            ok = [True] * len(types)
        except Exception:
            # Give the types msgspec cannot describe {}, and describe the rest together.
            ok = [_msgspec_ok(t) for t in types]
            types = [t for t, good in zip(types, ok) if good]
            described, components = (
                msgspec.json.schema_components(types, ref_template=_MSGSPEC_REF)
                if types else ((), {}))
        index = _TypeIndex(types)  # aligned with `described`
        style = _PydanticStyle(index)
        self._merge({name: style.component(schema) for name, schema in components.items()})
        for node, schema in zip(index.tops, described):
            index.add_formats(node, schema)
        found = iter(described)
        return [style.schema(next(found)) if good else {} for good in ok]

    def _build_pydantic(self) -> list[dict[str, Any]]:
        if not self._pydantic:
            return []
        from pydantic import TypeAdapter
        from pydantic.json_schema import GenerateJsonSchema

        inputs = []
        for ticket, mode, annotation in self._pydantic:
            try:
                inputs.append((ticket, mode, TypeAdapter(annotation).core_schema))
            except Exception as exc:
                logger.warning("no JSON Schema for %r: %s", annotation, exc)
        mapping, definitions = GenerateJsonSchema(ref_template=_PYDANTIC_REF).generate_definitions(
            inputs=inputs)
        self._merge(dict(definitions))
        return [mapping.get((ticket, mode), {}) for ticket, mode, _ in self._pydantic]


def _msgspec_ok(annotation: Any) -> bool:
    try:
        msgspec.json.schema(annotation)
    except Exception as exc:
        logger.warning("no JSON Schema for %r: %s", annotation, exc)
        return False
    return True
