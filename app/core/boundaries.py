"""Input the database cannot hold is refused where it enters, once for every route.

- ``<int:…>`` path ids beyond INTEGER (``MAX_ID``) are a 404, not an OverflowError (SQLite) or
  "bigint out of range" (PostgreSQL);
- JSON nested deeper than ``MAX_JSON_DEPTH`` is malformed (400) for every reader of a body
  (the routes, the rate limiter's key, the webhooks), never a RecursionError;
- a NUL character in the path, the query string, a form field, an upload's file name or any
  JSON string (key or value) is a 422 naming the field: PostgreSQL text cannot store it, and psycopg raised
  a DataError (500) on it.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from app.core.errors import ValidationFailed
from app.core.i18n import _

#: Every table's id is an INTEGER column (int4 on PostgreSQL): a larger id names nothing, and
#: PostgreSQL would answer "integer out of range" for it.
MAX_ID = 2**31 - 1
#: API.md (Conventions): JSON nested deeper than 64 levels is a 400.
MAX_JSON_DEPTH = 64
NUL = "\x00"


class BoundedInt(IntegerConverter):
    """``<int:…>`` ids within the database's INTEGER."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _depth(value: Any) -> int:
    """How deep containers nest in a parsed JSON value (iteratively: no recursion to overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


class BoundedJSON(DefaultJSONProvider):
    """The app's JSON: bodies nested too deeply do not parse."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if _depth(value) > MAX_JSON_DEPTH:
            raise ValueError("JSON nested too deeply")
        return value


def _nul_in_json(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding NUL, else None."""
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                return where or "_schema"
        elif isinstance(node, dict):
            for key, child in node.items():
                name = f"{where}.{key}" if where else str(key)
                if NUL in str(key):
                    return name.replace(NUL, "")
                stack.append((child, name))
        elif isinstance(node, list):
            stack.extend((child, f"{where}.{n}" if where else str(n)) for n, child in enumerate(node))
    return None


def _nul_field() -> str | None:
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if NUL in (name or "") or NUL in (value or ""):
                return name.replace(NUL, "") or "_schema"
    for name, upload in request.files.items(multi=True):
        if NUL in name or NUL in (upload.filename or ""):
            return name.replace(NUL, "") or "file"
    if request.is_json:
        return _nul_in_json(request.get_json(silent=True))
    return None


V = TypeVar("V", bound=Callable[..., Any])


def accepts_uploads_of(max_bytes: int) -> Callable[[V], V]:
    """Let one route take bodies up to ``max_bytes`` (a 413 above), over the app's
    ``MAX_CONTENT_LENGTH``. Set before anything reads the body (this module's check, the
    app-wide CSRF check), so those read it under the route's limit. Place it right under the
    route decorator."""

    def decorator(view: V) -> V:
        view.max_upload_bytes = max_bytes  # type: ignore[attr-defined]
        return view

    return decorator


def refuse_nul() -> None:
    """``before_request``: a NUL anywhere in the input stops the request before any view."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "max_upload_bytes", None)
    if limit is not None:
        request.max_content_length = limit
    if NUL in request.path:
        abort(404)
    field = _nul_field()
    if field is not None:
        raise ValidationFailed(_("The input holds a NUL character, which cannot be stored."),
                               {field: [_("Remove the NUL character (\\0) from this field.")]})


def init_boundaries(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt
    app.json = BoundedJSON(app)
    app.before_request(refuse_nul)
