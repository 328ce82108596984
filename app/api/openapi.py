"""The OpenAPI document, generated from the marshmallow schemas the routes use."""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from app.api import bp

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}

#: Every documented operation: (path, method, summary, request schema, status, response schema, auth).
OPERATIONS: list[tuple[str, str, str, type | None, int, type | None, bool]] = []


def document(
    path: str,
    method: str,
    summary: str,
    *,
    request: type | None = None,
    status: int = 200,
    response: type | None = None,
    auth: bool = True,
) -> None:
    """Add an operation to openapi.json; each api module documents its own routes."""
    OPERATIONS.append((path, method, summary, request, status, response, auth))


def schema_name(schema: type | object) -> str:
    """Component names carry their domain (``CampaignsImpact``, ``PortfoliosImpact``), so two
    domains may each have an ``ImpactSchema`` without apispec renaming one of them."""
    cls = schema if isinstance(schema, type) else type(schema)
    parts = cls.__module__.split(".")
    domain = parts[1].capitalize() if len(parts) > 2 and parts[0] == "app" else ""
    return domain + (cls.__name__.removesuffix("Schema") or cls.__name__)


def build_spec() -> dict:
    spec = APISpec(
        title="GreenRound API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", PROBLEM)
    problem_response = {
        "description": "An error (RFC 9457)",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    paths: dict[str, dict] = {}
    for path, method, summary, request_schema, status, response_schema, auth in OPERATIONS:
        operation: dict = {"summary": summary, "responses": {str(status): {"description": summary}}}
        if response_schema is not None:
            operation["responses"][str(status)]["content"] = {"application/json": {"schema": response_schema}}
        if request_schema is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": request_schema}},
            }
        for code in ("400", "401", "403", "404", "422", "429"):
            operation["responses"][code] = problem_response
        if auth:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_json():
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_spec()
    return current_app.extensions["openapi"]
