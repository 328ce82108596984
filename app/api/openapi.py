"""The OpenAPI document: operations declared next to their routes, path parameters read from
the routes themselves, request and response bodies from the marshmallow schemas they use.

Why not flask-smorest: it would parse arguments with webargs and answer errors in its own
shape, changing the problem+json bodies outside clients are written against. What it gives
(one declaration per operation, checked against the routes) is kept here instead:
``undocumented_routes`` lists any API rule without a declaration (a test holds it empty),
and schemathesis fuzzes the result against a real server in CI.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app
from werkzeug.routing import IntegerConverter, Rule

from app.api import bp
from app.core.pagination import MAX_PAGE, MAX_PER_PAGE

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}

#: ``?page=&per_page=`` as ``app.core.pagination.page_args`` reads them.
PAGE = {
    "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20},
}
DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
#: ``?from=&to=`` as ``app.disclosures.exports.parse_range`` reads them (both inclusive).
DATE_RANGE = {"from": DATE, "to": DATE}
IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 255,
                   "description": "A retry with the same key and body answers the first result; nothing happens twice"}
JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"



def format_of(*formats: str) -> dict:
    """``?format=``: the first is the default."""
    return {"type": "string", "enum": list(formats), "default": formats[0]}


#: Problems every operation may answer: a malformed body or query value (400/422), an unknown
#: id (404), a method the path does not take (405), a body over the size limit (413) and a
#: rate limit (429).
COMMON_ERRORS = (400, 404, 405, 413, 422, 429)
ERROR_TITLES = {400: "Bad Request", 401: "Unauthorized: no valid bearer token", 402: "Payment declined",
                403: "Forbidden: the role does not allow it, or a conflict of interest", 404: "Not found",
                405: "Method not allowed", 409: "Conflict with the resource's state", 413: "Too large",
                415: "Unsupported media type", 422: "Invalid input; `errors` names each field",
                429: "Too many requests"}


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    request: Any = None
    query: Mapping[str, dict] | type | None = None
    required_query: tuple[str, ...] = ()
    status: int = 200
    response: Any = None
    paged: bool = False
    many: bool = False
    auth: bool = True
    errors: tuple[int, ...] = ()
    media: tuple[str, ...] = (JSON,)
    body_optional: bool = False
    upload: str | None = None
    #: Other multipart fields sent with the upload, name → JSON schema (all required).
    upload_fields: Mapping[str, dict] = field(default_factory=dict)
    idempotent: bool = False
    headers: Mapping[str, dict] = field(default_factory=dict)


#: Every documented operation, keyed by (OpenAPI path, method).
OPERATIONS: dict[tuple[str, str], Operation] = {}


def document(path: str, method: str, summary: str, **details: Any) -> None:
    """Declare an operation of openapi.json; each api module declares its own routes.

    ``query`` is a marshmallow schema or a mapping of name to JSON schema; ``paged`` wraps
    ``response`` in the list envelope; ``errors`` adds the problems particular to it (402,
    409, …) to the common ones; ``media`` lists the success response's content types.
    """
    OPERATIONS[(path, method)] = Operation(path, method, summary, **details)


def schema_name(schema: type | object) -> str:
    """Component names carry their domain (``CampaignsImpact``, ``PortfoliosImpact``), so two
    domains may each have an ``ImpactSchema`` without apispec renaming one of them."""
    cls = schema if isinstance(schema, type) else type(schema)
    parts = cls.__module__.split(".")
    domain = parts[1].capitalize() if len(parts) > 2 and parts[0] == "app" else ""
    return domain + (cls.__name__.removesuffix("Schema") or cls.__name__)


def openapi_path(rule: Rule) -> str:
    """``/api/v1/campaigns/<int:campaign_id>`` → ``/campaigns/{campaign_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(bp.url_prefix or ""))


def _path_parameter(name: str, converter: Any) -> dict:
    if isinstance(converter, IntegerConverter):
        # The example (an id the demo data holds) lets the fuzzer reach past the 404.
        schema: dict = {"type": "integer", "minimum": converter.min if converter.min is not None else 0,
                        "examples": [1]}
        if converter.max is not None:
            schema["maximum"] = converter.max
    else:
        schema = {"type": "string", "pattern": "^[^/]+$"}
    return {"in": "path", "name": name, "required": True, "schema": schema}


def api_rules() -> list[tuple[str, str, Rule]]:
    """(OpenAPI path, method, rule) of every API route but the document itself."""
    found = []
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith(f"{bp.name}.") or rule.endpoint in (f"{bp.name}.openapi_json",):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((openapi_path(rule), method.lower(), rule))
    return found


def undocumented_routes() -> list[str]:
    """API routes without a declaration, and declarations without a route (both must be empty)."""
    served = {(path, method) for path, method, _ in api_rules()}
    missing = [f"{m.upper()} {p}: no document()" for p, m in sorted(served - OPERATIONS.keys())]
    return missing + [f"{m.upper()} {p}: no route" for p, m in sorted(OPERATIONS.keys() - served)]


def _query_parameters(op: Operation) -> list[dict]:
    if op.query is None:
        return []
    if isinstance(op.query, type):
        return [{"in": "query", "schema": op.query}]
    return [{"in": "query", "name": name, "required": name in op.required_query, "schema": schema}
            for name, schema in op.query.items()]


def _success(op: Operation) -> dict:
    response: dict = {"description": op.summary}
    if op.status == 204 or not op.media:
        return response
    content: dict = {}
    for media in op.media:
        if media == JSON and op.response is not None:
            schema: Any = op.response
            if op.many:
                schema = {"type": "array", "items": op.response}
            if op.paged:
                schema = {"type": "object", "required": ["items", "page", "per_page", "total"], "properties": {
                    "items": {"type": "array", "items": op.response},
                    "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}}
            content[media] = {"schema": schema}
        elif media == JSON:
            content[media] = {"schema": {"type": "object"}}
        else:
            content[media] = {"schema": {"type": "string", "format": "binary"}}
    response["content"] = content
    if op.status == 201 and op.response is not None:
        response["headers"] = {"Location": {"schema": {"type": "string"}, "description": "The new resource"}}
    return response


def _operation(op: Operation, rule: Rule) -> dict:
    parameters = [_path_parameter(name, rule._converters[name]) for name in sorted(rule.arguments)]
    parameters += _query_parameters(op)
    if op.idempotent:
        parameters.append({"in": "header", "name": "Idempotency-Key", "required": False, "schema": IDEMPOTENCY_KEY})
    parameters += [{"in": "header", "name": name, "required": False, "schema": schema}
                   for name, schema in op.headers.items()]
    operation: dict = {"summary": op.summary, "operationId": rule.endpoint.removeprefix(f"{bp.name}."),
                       "tags": [op.path.strip("/").split("/")[0]], "responses": {str(op.status): _success(op)}}
    if parameters:
        operation["parameters"] = parameters
    if op.request is not None:
        operation["requestBody"] = {"required": not op.body_optional, "content": {JSON: {"schema": op.request}}}
    if op.upload is not None:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [op.upload, *op.upload_fields],
            "properties": {op.upload: {"type": "string", "format": "binary"}, **op.upload_fields}}}}}
    codes = set(COMMON_ERRORS) | set(op.errors) | ({401, 403} if op.auth else set())
    if op.request is not None or op.upload is not None:
        codes.add(415)
    for code in sorted(codes):
        operation["responses"][str(code)] = {"$ref": f"#/components/responses/Problem{code}"}
    if op.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def build_spec() -> dict:
    spec = APISpec(
        title="GreenRound API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        servers=[{"url": bp.url_prefix or "/"}],
        info={"description": "Money is in integer minor units of the named currency. Errors are RFC 9457 "
                             "`application/problem+json`. See the human-readable page at /developers/api."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", PROBLEM)
    for code, title in ERROR_TITLES.items():
        spec.components.response(f"Problem{code}", {
            "description": title,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    paths: dict[str, dict] = {}
    for path, method, rule in api_rules():
        op = OPERATIONS.get((path, method))
        if op is not None:
            paths.setdefault(path, {})[method] = _operation(op, rule)
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def cached_spec() -> dict:
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_spec()
    return current_app.extensions["openapi"]


@bp.get("/openapi.json")
def openapi_json():
    return cached_spec()
