"""An injectable clock, so tests and ``--now`` can move time without patching."""

from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app


def system_now() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    """The current instant in UTC, from the app's ``CLOCK`` callable if one is set."""
    clock: Callable[[], datetime] = current_app.config.get("CLOCK") or system_now
    return clock()


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime as UTC and convert an aware one to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
