"""APScheduler wiring. A scheduler runs only in ``flask jobs scheduler`` (production: one
process) and in the development server behind ``SCHEDULER_ENABLED`` — never in
``create_app``, gunicorn workers, other CLI commands or tests. Even so the sweeps are
safe with several schedulers at once: they claim rows, not the schedule."""

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app.core.clock import now
from app.extensions import db
from app.jobs.registry import run_due

log = logging.getLogger("app.jobs")

JOB_DEFAULTS = {"misfire_grace_time": 600, "coalesce": True, "max_instances": 1}


def run_due_in_app(app: Flask) -> None:
    """One pass of every sweep inside an app context (a job without one fails silently)."""
    with app.app_context():
        try:
            for result in run_due(now()):
                if result.done or result.failed:
                    log.info(result.line())
        except Exception:
            log.exception("run-due pass failed; the next pass will retry")
        finally:
            db.session.remove()


def build_scheduler(app: Flask, *, blocking: bool) -> BaseScheduler:
    """A scheduler that runs every sweep every ``SCHEDULER_INTERVAL_SECONDS`` (30 by default)."""
    scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_class(timezone="UTC", job_defaults=JOB_DEFAULTS)
    scheduler.add_job(run_due_in_app, "interval", seconds=app.config["SCHEDULER_INTERVAL_SECONDS"],
                      args=[app], id="run-due", name="run every due sweep", replace_existing=True)
    return scheduler
