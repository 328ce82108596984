"""The claim-and-commit loop every sweep uses."""

import logging
from collections.abc import Callable
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
