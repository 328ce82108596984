"""The claim-and-commit loop every sweep uses."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select

from app.core.audit import audit
from app.extensions import db

log = logging.getLogger("app.jobs")


@dataclass
class SweepResult:
    name: str
    done: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.name}: {self.done} done"
        if self.skipped:
            text += f", {self.skipped} taken by another process"
        if self.failed:
            text += f", {len(self.failed)} failed ({', '.join(f'#{i}: {e}' for i, e in self.failed[:3])})"
        return text


def sweep(
    name: str,
    model: Any,
    due: ColumnElement[bool],
    handle: Callable[[Any], None],
    *,
    now: datetime,
    batch_size: int = 50,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> SweepResult:
    """Run ``handle`` once on every row of ``model`` matching ``due``, one commit per row.

    ``handle`` must move the row out of ``due`` (or raise). A row another process holds
    is skipped, and a row that fails is rolled back, audited as ``job.failed`` and left
    due for the next sweep, while the rest go on.
    """
    result = SweepResult(name)
    after = 0  # keyset: each row is visited at most once per sweep, in id order
    while limit is None or result.done < limit:
        ids = list(db.session.scalars(select(model.id).where(due, model.id > after).order_by(model.id)
                                      .limit(batch_size)))
        db.session.rollback()
        if not ids:
            break
        after = ids[-1]
        for row_id in ids:
            if limit is not None and result.done >= limit:
                break
            row = db.session.scalars(
                select(model).where(model.id == row_id, due).with_for_update(skip_locked=True, of=model)
            ).first()
            if row is None:
                db.session.rollback()
                result.skipped += 1
                continue
            try:
                handle(row)
                db.session.commit()
            except Exception as exc:  # one bad row must not stop the sweep
                db.session.rollback()
                log.exception("%s: row %s failed", name, row_id)
                result.failed.append((row_id, f"{type(exc).__name__}: {exc}"[:300]))
                audit("job.failed", subject_type=model.__tablename__, subject_id=row_id,
                      details={"sweep": name, "error": result.failed[-1][1]}, at=now)
                db.session.commit()
                continue
            result.done += 1
            if progress:
                progress(1)
    if result.done or result.failed or result.skipped:
        log.info(result.line())
    return result


@dataclass
class BatchOutcome:
    """What a batched sweep's ``handle`` did with the rows it was given."""

    done: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def batch_sweep(
    name: str,
    subject_type: str,
    claim: Callable[[int, int], Sequence[Any]],
    handle: Callable[[Sequence[Any]], BatchOutcome],
    *,
    now: datetime,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> SweepResult:
    """``sweep`` by the batch: ``claim(after, size)`` locks up to ``size`` due rows with ids above
    ``after`` (id order; rows with an ``id``, ``FOR UPDATE SKIP LOCKED`` where the database
    has it), ``handle(rows)`` does the work in the same transaction, and one commit records it.

    Rows ``handle`` reports failed, and every row of a batch whose ``handle`` raised, are
    audited as ``job.failed`` and stay due for the next sweep; a batch that raised is tried
    again row by row, so one bad row does not hold back the others. A row claimed by none
    of ``done`` and ``failed`` was taken by another process (``skipped``).
    """
    result = SweepResult(name)
    after = 0  # keyset: each row is visited at most once per sweep, in id order
    while limit is None or result.done < limit:
        rows = claim(after, batch_size if limit is None else min(batch_size, limit - result.done))
        if not rows:
            db.session.rollback()
            break
        after = rows[-1].id
        outcomes = _handled(name, handle, rows)
        failed = [failure for outcome in outcomes for failure in outcome.failed]
        result.done += sum(outcome.done for outcome in outcomes)
        result.failed.extend(failed)
        result.skipped += len(rows) - sum(outcome.done for outcome in outcomes) - len(failed)
        for row_id, error in failed:
            audit("job.failed", subject_type=subject_type, subject_id=row_id, details={"sweep": name, "error": error},
                  at=now)
        if failed:
            db.session.commit()
        if progress:
            progress(len(rows))
    if result.done or result.failed or result.skipped:
        log.info(result.line())
    return result


def _handled(name: str, handle: Callable[[Sequence[Any]], BatchOutcome], rows: Sequence[Any]) -> list[BatchOutcome]:
    """``handle(rows)`` committed; if it raises, each row alone (the batch's locks are gone by then,
    so ``handle`` must be safe on rows another process may be handling too)."""
    try:
        outcome = handle(rows)
        db.session.commit()
        return [outcome]
    except Exception as exc:
        db.session.rollback()
        log.exception("%s: a batch of %d failed", name, len(rows))
        if len(rows) == 1:
            return [BatchOutcome(failed=[(rows[0].id, f"{type(exc).__name__}: {exc}"[:300])])]
    return [outcome for row in rows for outcome in _handled(name, handle, [row])]
