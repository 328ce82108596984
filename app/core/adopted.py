"""Rows inserted with Core statements, adopted into the ORM session as if it had loaded them.

The pledge hot path inserts with one prepared statement (no unit-of-work flush) and then
hands the caller an ordinary persistent instance. The session did not insert it, so a
rollback would not forget it the way it forgets its own inserts: the instance would stay
in the identity map naming a row that no longer exists (and on SQLite a reused rowid then
collides with it). The hooks below expunge what was adopted when the outermost
transaction rolls back, and forget the list when it commits.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached

from app.extensions import db

_ADOPTED_KEY = "adopted_instances"


def adopt(instance: Any) -> Any:
    """Make ``instance`` (every column set, its primary key that of a row just inserted in
    this transaction) persistent in the session without a SELECT; returns it."""
    make_transient_to_detached(instance)
    db.session.add(instance)
    db.session.info.setdefault(_ADOPTED_KEY, []).append(instance)
    return instance


@event.listens_for(Session, "after_commit")
def _keep(session: Session) -> None:
    session.info.pop(_ADOPTED_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _discard(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is not None:
        return
    for instance in session.info.pop(_ADOPTED_KEY, []):
        if instance in session:
            session.expunge(instance)
