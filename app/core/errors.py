"""Domain errors that services raise and both the HTML views and the API translate.

The API renders them as RFC 9457 ``application/problem+json``; the HTML views put
field errors back on the form.
"""

from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 422
    title = "Invalid input"


class NotAllowed(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class StateConflict(DomainError):
    status = 409
    title = "Conflict"


def field_errors(messages: Any) -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages to ``{"field.sub": [messages]}``.

    A list item's error belongs to its list field ("sdgs", not "sdgs.0").
    """
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                name = prefix if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
                walk(name, sub)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out.setdefault(prefix or "_schema", []).extend(value)
        elif isinstance(value, list):
            for item in value:
                walk(prefix, item)
        else:
            out.setdefault(prefix or "_schema", []).append(str(value))

    walk("", messages)
    return out


def load(schema: Any, data: Any, detail: str | Callable[[], str]) -> dict:
    """Load input with a marshmallow schema; anything but an object, or any invalid field,
    is a 422 ValidationFailed naming the fields — the one path every service uses.

    ``detail`` may be a callable, so a hot path translates its message only when it fails.
    """
    if not isinstance(data, dict):
        raise ValidationFailed(detail() if callable(detail) else detail, {"_schema": ["Expected an object."]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(detail() if callable(detail) else detail, field_errors(exc.messages)) from None
