"""The human-readable API reference: the OpenAPI document laid out as a page for people.

Rendered on the server from the very document schemathesis checks, so the page cannot drift
from the API; no script and no asset from elsewhere (the CSP allows neither).
"""

from typing import Any

METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


def type_of(schema: dict) -> str:
    """A short spelling of a JSON schema: ``integer``, ``array of Pledge``, ``string (date)``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " or ".join(k for k in kind if k != "null") + (", may be null" if "null" in kind else "")
    if kind == "array":
        return "array of " + type_of(schema.get("items", {}))
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return kind


def constraints_of(schema: dict) -> str:
    """What the server enforces beyond the type, as one line."""
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"] if v is not None))
    for key, spelled in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤")):
        if key in schema:
            parts.append(f"{spelled} {schema[key]:,}" if isinstance(schema[key], int) else f"{spelled} {schema[key]}")
    if schema.get("default") is not None:
        parts.append(f"default {schema['default']}")
    return "; ".join(parts)


def _field_rows(schema: dict) -> list[dict]:
    required = set(schema.get("required", ()))
    return [{"name": name, "type": type_of(prop), "required": name in required,
             "constraints": constraints_of(prop), "description": prop.get("description", "")}
            for name, prop in schema.get("properties", {}).items()]


def _body_type(content: dict) -> list[dict]:
    return [{"media": media, "type": type_of(body.get("schema", {}))} for media, body in content.items()]


def reference(spec: dict) -> dict[str, Any]:
    """Sections by tag, each operation with its parameters, body and responses, and the schemas."""
    sections: dict[str, list[dict]] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody")
            sections.setdefault(op["tags"][0], []).append({
                "id": op["operationId"], "method": method.upper(), "path": path, "summary": op["summary"],
                "auth": bool(op.get("security")),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": type_of(p["schema"]), "constraints": constraints_of(p["schema"]),
                                "description": p["schema"].get("description", p.get("description", ""))}
                               for p in op.get("parameters", ())],
                "body": _body_type(body["content"]) if body else [],
                "body_required": bool(body and body.get("required")),
                "responses": [{"status": status,
                               "description": spec["components"]["responses"][r["$ref"].rsplit("/", 1)[-1]]
                               ["description"] if "$ref" in r else r["description"],
                               "content": _body_type(r.get("content", {}))}
                              for status, r in sorted(op["responses"].items())],
                "order": (path, METHOD_ORDER.get(method, 9)),
            })
    for operations in sections.values():
        operations.sort(key=lambda op: op["order"])
    schemas = [{"name": name, "description": schema.get("description", ""), "fields": _field_rows(schema)}
               for name, schema in sorted(spec["components"]["schemas"].items())]
    return {"title": spec["info"]["title"], "version": spec["info"]["version"],
            "description": spec["info"].get("description", ""), "base": spec["servers"][0]["url"],
            "sections": sorted(sections.items()), "schemas": schemas}
