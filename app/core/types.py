"""Column types shared by every domain."""

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime
from sqlalchemy.types import TypeDecorator

from app.core.clock import as_utc


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which keeps no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return as_utc(value)


def one_of(column: str, values: Iterable[StrEnum], name: str) -> CheckConstraint:
    """A CHECK that ``column`` holds one of an enum's values, so the database refuses
    a status no state machine knows."""
    return CheckConstraint(f"{column} IN ({', '.join(repr(str(v)) for v in values)})", name=name)
