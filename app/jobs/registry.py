"""The sweeps, in the order one ``run-due`` pass runs them."""

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from app.core.audit import seal_pending
from app.extensions import db
from app.jobs.sweep import BatchOutcome, SweepResult, batch_sweep, sweep


@dataclass(frozen=True)
class Job:
    """A sweep: which rows are due at ``now`` and what to do with one of them."""

    name: str
    model: Any
    due: Callable[[datetime], ColumnElement[bool]]
    handle: Callable[[Any, datetime], None]

    def count(self, now: datetime) -> int:
        return db.session.scalar(select(func.count()).select_from(self.model).where(self.due(now))) or 0

    def run(self, now: datetime, *, progress: Callable[[int], None] | None = None,
            limit: int | None = None) -> SweepResult:
        return sweep(self.name, self.model, self.due(now), lambda row: self.handle(row, now), now=now,
                     progress=progress, limit=limit)


@dataclass(frozen=True)
class BatchJob:
    """A sweep done by the batch (``batch_sweep``): ``claim(now, after, size)`` locks up to
    ``size`` due rows above id ``after``, ``handle(rows, now)`` does them in one transaction.
    Counted, run and reported like a ``Job``."""

    name: str
    model: Any
    due: Callable[[datetime], ColumnElement[bool]]
    claim: Callable[[datetime, int, int], Sequence[Any]]
    handle: Callable[[Sequence[Any], datetime], BatchOutcome]
    batch_size: int = 500

    def count(self, now: datetime) -> int:
        return db.session.scalar(select(func.count()).select_from(self.model).where(self.due(now))) or 0

    def run(self, now: datetime, *, progress: Callable[[int], None] | None = None,
            limit: int | None = None) -> SweepResult:
        return batch_sweep(self.name, self.model.__tablename__, lambda after, size: self.claim(now, after, size),
                           lambda rows: self.handle(rows, now), now=now, batch_size=self.batch_size,
                           progress=progress, limit=limit)


#: Modules whose ``JOBS`` lists make up a run, in order: rounds close before refunds
#: and payouts, payouts before repayments, notifications last.
JOB_MODULES = [
    "app.campaigns.jobs",
    "app.payments.jobs",
    "app.settlement.jobs",
    "app.loans.jobs",
    "app.notifications.jobs",
]


def all_jobs() -> list[Job | BatchJob]:
    """Every sweep, collected here so that domains stay unaware of each other."""
    return [job for name in JOB_MODULES for job in importlib.import_module(name).JOBS]


def run_due(now: datetime, *,
            on_job: Callable[[Job | BatchJob, int], Callable[[int], None] | None] | None = None,
            skip: frozenset[str] | set[str] = frozenset()) -> list[SweepResult]:
    """Run every due sweep once at ``now`` (except those named in ``skip``).

    ``on_job(job, count)`` may return a progress callback. Each pass first chains the
    audit entries the pledge hot path deferred, so none waits longer than one interval.
    """
    seal_pending()
    results = []
    for job in all_jobs():
        if job.name in skip:
            continue
        count = job.count(now)
        db.session.rollback()
        progress = on_job(job, count) if on_job else None
        results.append(job.run(now, progress=progress))
    return results
