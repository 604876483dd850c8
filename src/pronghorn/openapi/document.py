"""The OpenAPI 3.1 document of a set of routes.

Owns: ``get_openapi`` (the document for any list of routes) and
``generate_unique_id`` (the default operationId). The output is FastAPI's for
the same app: the same paths, operationIds, parameters, request bodies,
responses (the route's status code with its "Successful Response", the
``responses={...}`` entries, 422 "Validation Error" on routes that take
input) and components; docs/openapi.md lists where it differs and why.

Invariants: routes are read, never changed; mounts, raw (Starlette-style)
routes and routes with ``include_in_schema=False`` are left out; keys whose
value is None are dropped from the whole document, as FastAPI does.

Must not know about: serving the document, the docs pages, the engine.
"""

from __future__ import annotations

import copy
import http
import inspect
import logging
import re
import typing
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import msgspec

from pronghorn.openapi.plans import ParamView, in_fastapi_order, plan_of, route_attr
from pronghorn.openapi.schemas import REF_PREFIX, SchemaSet, title_from, wants_title

__all__ = ["generate_unique_id", "get_openapi"]

logger = logging.getLogger("pronghorn.openapi")

_CONVERTER = re.compile(r"{([^{}:]+):[^{}]*}")
_NON_WORD = re.compile(r"\W")
_SOURCES = ("path", "query", "header", "cookie")
_CONSTRAINTS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum",
                "le": "maximum", "multiple_of": "multipleOf", "pattern": "pattern"}
_RANGES = {"1XX": "Information", "2XX": "Success", "3XX": "Redirection", "4XX": "Client Error",
           "5XX": "Server Error", "DEFAULT": "Default Response"}
_FILE_SCHEMA = {"type": "string", "contentMediaType": "application/octet-stream"}

VALIDATION_ERROR = {
    "properties": {
        "loc": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "type": "array", "title": "Location"},
        "msg": {"type": "string", "title": "Message"},
        "type": {"type": "string", "title": "Error Type"},
        "input": {"title": "Input"},
        "ctx": {"type": "object", "title": "Context"},
    },
    "type": "object",
    "required": ["loc", "msg", "type"],
    "title": "ValidationError",
}
HTTP_VALIDATION_ERROR = {
    "properties": {
        "detail": {"items": {"$ref": REF_PREFIX + "ValidationError"}, "type": "array",
                   "title": "Detail"},
    },
    "type": "object",
    "title": "HTTPValidationError",
}
_422 = {"description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}}}


def path_format(path: str) -> str:
    """``/users/{user_id:int}`` -> ``/users/{user_id}``."""
    return _CONVERTER.sub(r"{\1}", path)


def generate_unique_id(route: Any, method: str | None = None) -> str:
    """FastAPI's default operationId: ``{name}{path}_{method}``, non-word characters -> ``_``."""
    if method is None:
        method = next(iter(route.methods))
    name = _NON_WORD.sub("_", f"{route.name}{path_format(route.path)}")
    return f"{name}_{method.lower()}"


def _given(value: Any) -> bool:
    """False for None, ``...`` and the markers' "not given" sentinel (a falsy singleton)."""
    return value is not None and value is not Ellipsis and type(value).__name__ != "_Unset"


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a default or example value (enums by value, Decimal as str...)."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return msgspec.to_builtins(value, enc_hook=str)


def _json_copy(value: Any) -> Any:
    """A deep copy of ``value`` made of JSON types (anything else becomes its ``str``)."""
    return msgspec.json.decode(msgspec.json.encode(value, enc_hook=str))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _deep_update(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = target[key] + value
        else:
            target[key] = value


def _body_allowed(status: int | str) -> bool:
    if not str(status).isdigit():
        return True  # "default", "4XX", ...
    code = int(status)
    return not (code < 200 or code in (204, 205, 304))


def _is_file(annotation: Any) -> bool:
    if annotation is bytes:
        return True
    return isinstance(annotation, type) and annotation.__name__ == "UploadFile"


def _file_schema(annotation: Any) -> dict[str, Any] | None:
    """The schema of a file field (``bytes``, ``UploadFile``, a list of them), else None."""
    inner = annotation
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    if _is_file(inner):
        return dict(_FILE_SCHEMA)
    args = [a for a in typing.get_args(inner) if a is not type(None)]
    origin = typing.get_origin(inner)
    if origin in (list, set, tuple, frozenset) and args and _is_file(args[0]):
        return {"type": "array", "items": dict(_FILE_SCHEMA)}
    if args and len(args) < len(typing.get_args(inner)) and len(args) == 1:
        found = _file_schema(args[0])  # Optional[...]
        if found is not None:
            return {"anyOf": [found, {"type": "null"}]}
    return None


def _constrain(schema: dict[str, Any], marker: Any) -> None:
    """Add ``marker``'s constraints to ``schema`` (inside ``anyOf`` for optional values)."""
    if marker is None:
        return
    targets = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"] or [schema]
    for target in targets:
        kind = target.get("type")
        for name, keyword in _CONSTRAINTS.items():
            value = getattr(marker, name, None)
            if value is not None:
                target[keyword] = value
        for name, (text, items) in (("min_length", ("minLength", "minItems")),
                                    ("max_length", ("maxLength", "maxItems"))):
            value = getattr(marker, name, None)
            if value is not None:
                target[items if kind == "array" else text] = value


class _Context:
    """Options that apply to the whole document."""

    def __init__(self, schemas: SchemaSet,
                 unique_id: Callable[..., str] | None) -> None:
        self.schemas = schemas
        self.unique_id = unique_id
        self.security_schemes: dict[str, Any] = {}
        self.uses_422 = False


class _Field:
    """A parameter or body field whose schema is asked for now and rendered later."""

    def __init__(self, ctx: _Context, spec: Any, *, in_form: bool = False) -> None:
        self.spec = spec
        self.marker = getattr(spec, "marker", None)
        self.file = _file_schema(spec.annotation) if in_form else None
        self.ticket = None if self.file is not None else ctx.schemas.add(spec.annotation)

    @property
    def alias(self) -> str:
        return getattr(self.spec, "alias", None) or self.spec.name

    @property
    def in_schema(self) -> bool:
        return getattr(self.marker, "include_in_schema", True) is not False

    def schema(self, ctx: _Context) -> dict[str, Any]:
        spec, marker = self.spec, self.marker
        schema = copy.deepcopy(self.file) if self.ticket is None else ctx.schemas.get(self.ticket)
        _constrain(schema, marker)
        for key in ("description", "examples"):
            value = getattr(marker, key, None)
            if value is not None:
                schema[key] = _plain(value) if key == "examples" else value
        if getattr(marker, "deprecated", None):
            schema["deprecated"] = True
        extra = getattr(marker, "json_schema_extra", None)
        if isinstance(extra, dict):
            schema.update(extra)
        if not getattr(spec, "required", True):
            default = getattr(spec, "default", None)
            if _given(default):
                try:
                    schema["default"] = _plain(default)
                except Exception:
                    pass
        title = getattr(marker, "title", None)
        if title is not None:
            schema["title"] = title
        elif wants_title(schema):
            schema["title"] = title_from(self.alias)
        return schema

    def parameter(self, ctx: _Context) -> dict[str, Any]:
        spec, marker = self.spec, self.marker
        parameter: dict[str, Any] = {
            "name": self.alias,
            "in": spec.source,
            "required": True if spec.source == "path" else bool(getattr(spec, "required", True)),
            "schema": self.schema(ctx),
        }
        description = getattr(marker, "description", None)
        if description:
            parameter["description"] = description
        openapi_examples = getattr(marker, "openapi_examples", None)
        example = getattr(marker, "example", None)
        if openapi_examples:
            parameter["examples"] = openapi_examples
        elif _given(example):
            parameter["example"] = _plain(example)
        if getattr(marker, "deprecated", None):
            parameter["deprecated"] = True
        return parameter


def _default_status(response_class: Any) -> int:
    """The status a response class answers with by default (307 for a redirect)."""
    if response_class is None:
        return 200
    try:
        parameter = inspect.signature(response_class.__init__).parameters.get("status_code")
    except (TypeError, ValueError):
        return 200
    default = getattr(parameter, "default", None)
    return default if isinstance(default, int) else 200


def _status_text(code: Any) -> str | None:
    text = _RANGES.get(str(code).upper())
    if text is not None:
        return text
    try:
        return http.HTTPStatus(int(code)).phrase
    except ValueError:
        return None


def _is_json(response_class: Any) -> bool:
    if response_class is None:
        return True
    from pronghorn.responses import JSONResponse

    return (isinstance(response_class, type) and issubclass(response_class, JSONResponse)
            or getattr(response_class, "media_type", None) == "application/json")


class _Operation:
    """One method of one route: its inputs and outputs are asked for, then rendered."""

    def __init__(self, ctx: _Context, route: Any, method: str) -> None:
        self.route, self.method = route, method
        self.unique_id = self._unique_id(ctx)
        plan = plan_of(route)
        params, self.security = in_fastapi_order(plan)
        params = [p for p in params if p.source in _SOURCES]
        body = getattr(plan, "body", None)
        self.takes_input = bool(params) or body is not None
        params.sort(key=lambda p: _SOURCES.index(p.source))  # stable: signature order kept
        self.params = [_Field(ctx, p) for p in params]
        self.body_media = None
        self.body_fields: list[_Field] | None = None
        self.body_field: _Field | None = None
        if body is not None:
            self._ask_body(ctx, body)
        self.response_class = route_attr(route, "response_class")
        self.status = route_attr(route, "status_code") or _default_status(self.response_class)
        self.media_type = ("application/json" if self.response_class is None
                           else getattr(self.response_class, "media_type", None))
        self.json = _is_json(self.response_class)
        model = getattr(plan, "response_model", None)
        self.response_ticket = (ctx.schemas.add(model, "serialization")
                                if model is not None and self.json else None)
        self.extra_responses: list[tuple[Any, dict[str, Any], int | None]] = []
        for code, response in (route_attr(route, "responses") or {}).items():
            response = dict(response)
            model = response.pop("model", None)
            ticket = None if model is None else ctx.schemas.add(model, "serialization")
            self.extra_responses.append((code, response, ticket))

    def _unique_id(self, ctx: _Context) -> str:
        operation_id = route_attr(self.route, "operation_id")
        if operation_id:
            return str(operation_id)
        custom = route_attr(self.route, "generate_unique_id_function") or ctx.unique_id
        if custom is not None:
            return str(custom(self.route))
        return generate_unique_id(self.route, self.method)

    def _ask_body(self, ctx: _Context, body: Any) -> None:
        media = getattr(body, "media_type", None) or "application/json"
        self.body_media = media
        self.body_required = bool(getattr(body, "required", True))
        form = not (media == "application/json" or media.endswith("+json"))
        fields = list(getattr(body, "fields", None) or ())
        if fields and (form or len(fields) > 1 or getattr(body, "embed", False)):
            self.body_fields = [_Field(ctx, f, in_form=form) for f in fields]
            return
        if fields:
            spec = fields[0]
        else:
            spec = ParamView(getattr(body, "name", None) or "body", "body", body.annotation,
                             required=self.body_required)
        self.body_field = _Field(ctx, spec)

    # ---- rendering (after the schemas are built) ----------------------------

    def render(self, ctx: _Context) -> dict[str, Any]:
        route = self.route
        operation: dict[str, Any] = {}
        tags = route_attr(route, "tags")
        if tags:
            operation["tags"] = [t.value if isinstance(t, Enum) else t for t in tags]
        operation["summary"] = (route_attr(route, "summary")
                                or str(route.name).replace("_", " ").title())
        description = route_attr(route, "description")
        if description is None:
            description = inspect.cleandoc(getattr(route.endpoint, "__doc__", None) or "")
        description = description.split("\f")[0].strip()
        if description:
            operation["description"] = description
        operation["operationId"] = self.unique_id
        if route_attr(route, "deprecated"):
            operation["deprecated"] = True
        parameters = self._parameters(ctx)
        if parameters:
            operation["parameters"] = parameters
        if self.body_media is not None:
            operation["requestBody"] = self._request_body(ctx)
        operation["responses"] = self._responses(ctx)
        security = self._security(ctx)
        if security:
            operation["security"] = security
        extra = route_attr(route, "openapi_extra")
        if extra:
            _deep_update(operation, extra)
        return operation

    def _parameters(self, ctx: _Context) -> list[dict[str, Any]]:
        seen: set[tuple[str, str]] = set()
        parameters = []
        for field in self.params:
            key = (field.alias, field.spec.source)
            if field.in_schema and key not in seen:
                seen.add(key)
                parameters.append(field.parameter(ctx))
        return parameters

    def _request_body(self, ctx: _Context) -> dict[str, Any]:
        if self.body_fields is not None:
            name = f"Body_{self.unique_id}"
            shown = [f for f in self.body_fields if f.in_schema]
            component: dict[str, Any] = {
                "properties": {f.alias: f.schema(ctx) for f in shown}, "type": "object"}
            required = [f.alias for f in shown if getattr(f.spec, "required", True)]
            if required:
                component["required"] = required
            component["title"] = name
            ctx.schemas.components[name] = component
            schema = {"$ref": REF_PREFIX + name}
        else:
            assert self.body_field is not None
            schema = self.body_field.schema(ctx)
        body: dict[str, Any] = {"content": {self.body_media: {"schema": schema}}}
        if self.body_required:
            body["required"] = True
        return body

    def _model_schema(self, ctx: _Context, ticket: int, name: str) -> dict[str, Any]:
        schema = ctx.schemas.get(ticket)
        if wants_title(schema) and "title" not in schema:
            schema["title"] = title_from(name)
        return schema

    def _responses(self, ctx: _Context) -> dict[str, Any]:
        key = str(self.status)
        main: dict[str, Any] = {"description": route_attr(self.route, "response_description",
                                                          "Successful Response")}
        if _body_allowed(self.status) and self.media_type is not None:
            if not self.json:
                schema: dict[str, Any] = {"type": "string"}
            elif self.response_ticket is not None:
                schema = self._model_schema(ctx, self.response_ticket,
                                            f"Response_{self.unique_id}")
            else:
                schema = {}
            main["content"] = {self.media_type: {"schema": schema}}
        responses = {key: main}
        for code, extra, ticket in self.extra_responses:
            extra = _json_copy(extra)
            code_key = str(code).upper()
            code_key = "default" if code_key == "DEFAULT" else code_key
            target = responses.setdefault(code_key, {})
            if ticket is not None:
                media = self.media_type or "application/json"
                slot = extra.setdefault("content", {}).setdefault(media, {})
                _deep_update(slot.setdefault("schema", {}),
                             self._model_schema(ctx, ticket, f"Response_{code}_{self.unique_id}"))
            description = (extra.get("description") or target.get("description")
                           or _status_text(code) or "Additional Response")
            _deep_update(target, extra)
            target["description"] = description
        if self.takes_input and not any(k in responses for k in ("422", "4XX", "default")):
            responses["422"] = _json_copy(_422)
            ctx.uses_422 = True
        return responses

    def _security(self, ctx: _Context) -> list[dict[str, list[str]]]:
        requirements: list[dict[str, list[str]]] = []
        for scheme, scopes in self.security:
            name = scheme.scheme_name
            model = scheme.model
            dump = getattr(model, "model_dump", None)
            if dump is not None:
                model = dump(by_alias=True, exclude_none=True)
            ctx.security_schemes.setdefault(name, model)
            requirement = {name: list(scopes or ())}
            if requirement not in requirements:
                requirements.append(requirement)
        return requirements


def get_openapi(
    *,
    title: str,
    version: str,
    routes: Sequence[Any],
    openapi_version: str = "3.1.0",
    summary: str | None = None,
    description: str | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license_info: dict[str, Any] | None = None,
    separate_input_output_schemas: bool = True,
    generate_unique_id_function: Callable[[Any], str] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document for ``routes`` (FastAPI's ``get_openapi``, same arguments)."""
    info: dict[str, Any] = {"title": title}
    if summary:
        info["summary"] = summary
    if description:
        info["description"] = description
    if terms_of_service:
        info["termsOfService"] = terms_of_service
    if contact:
        info["contact"] = contact
    if license_info:
        info["license"] = license_info
    info["version"] = version

    ctx = _Context(SchemaSet(separate_input_output=separate_input_output_schemas),
                   generate_unique_id_function)
    operations: list[tuple[str, str, _Operation]] = []
    for route in routes:
        if not hasattr(route, "methods") or getattr(route, "raw", False):
            continue  # mounts and Starlette-style routes (FastAPI leaves them out too)
        if not route_attr(route, "include_in_schema", True):
            continue
        for method in route.methods:
            operations.append((path_format(route.path), method.lower(),
                               _Operation(ctx, route, method)))
    ctx.schemas.build()

    paths: dict[str, dict[str, Any]] = {}
    seen_ids: set[str] = set()
    for path, method, operation in operations:
        if operation.unique_id in seen_ids:
            logger.warning("duplicate operationId %r (%s %s)", operation.unique_id,
                           method.upper(), path)
        seen_ids.add(operation.unique_id)
        paths.setdefault(path, {})[method] = operation.render(ctx)

    document: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        document["servers"] = servers
    document["paths"] = paths
    schemas = ctx.schemas.components
    if ctx.uses_422:
        schemas.setdefault("ValidationError", VALIDATION_ERROR)
        schemas.setdefault("HTTPValidationError", HTTP_VALIDATION_ERROR)
    components: dict[str, Any] = {}
    if schemas:
        components["schemas"] = {name: schemas[name] for name in sorted(schemas)}
    if ctx.security_schemes:
        components["securitySchemes"] = ctx.security_schemes
    if components:
        document["components"] = components
    if tags:
        document["tags"] = tags
    return _without_none(_json_copy(document))


def generate(app: Any) -> dict[str, Any]:
    """The OpenAPI document of a Pronghorn app, from its routes and OpenAPI settings."""
    return get_openapi(
        title=getattr(app, "title", "Pronghorn"),
        version=getattr(app, "version", "0.1.0"),
        openapi_version=getattr(app, "openapi_version", "3.1.0"),
        summary=getattr(app, "summary", None),
        description=getattr(app, "description", None),
        routes=app.routes,
        tags=getattr(app, "openapi_tags", None),
        servers=getattr(app, "servers", None),
        terms_of_service=getattr(app, "terms_of_service", None),
        contact=getattr(app, "contact", None),
        license_info=getattr(app, "license_info", None),
        separate_input_output_schemas=getattr(app, "separate_input_output_schemas", True),
        generate_unique_id_function=getattr(app, "generate_unique_id_function", None),
    )
