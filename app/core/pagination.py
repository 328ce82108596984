"""``?page=&per_page=`` parsing and the list envelope of the API."""

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select

from app.core.errors import ValidationFailed
from app.extensions import db

MAX_PER_PAGE = 100
#: Far beyond any list; above it an OFFSET would overflow the database's integers.
MAX_PAGE = 10**9


def page_args(args: Mapping[str, str], default_per_page: int = 20) -> tuple[int, int]:
    """Read page and per_page, refusing (not clamping) values out of range."""
    errors: dict[str, list[str]] = {}
    values = {}
    for name, default, upper in (("page", 1, MAX_PAGE), ("per_page", default_per_page, MAX_PER_PAGE)):
        raw = args.get(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            errors[name] = ["Must be a whole number."]
            continue
        if not 1 <= value <= upper:
            errors[name] = [f"Must be between 1 and {upper}."]
            continue
        values[name] = value
    if errors:
        raise ValidationFailed("The page parameters are invalid.", errors)
    return values["page"], values["per_page"]


def paginate(statement: Select, page: int, per_page: int) -> Any:
    """A Flask-SQLAlchemy pagination of ``statement`` (no 404 on an empty page)."""
    return db.paginate(statement, page=page, per_page=per_page, error_out=False, max_per_page=MAX_PER_PAGE)


def envelope(pagination: Any, dump: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "items": [dump(item) for item in pagination.items],
        "page": pagination.page,
        "per_page": pagination.per_page,
        "total": pagination.total,
    }
