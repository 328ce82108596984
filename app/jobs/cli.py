"""``flask jobs run-due`` and ``flask jobs scheduler``."""

import sys
from contextlib import ExitStack
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.clock import as_utc, now
from app.jobs.registry import run_due

jobs = AppGroup("jobs", help="Scheduled sweeps: close rounds, refund, pay out, collect repayments.")


@jobs.command("run-due")
@click.option("--now", "at", default=None, metavar="ISO8601",
              help="Run as if it were this instant (time travel for demos and tests), e.g. 2027-01-01T00:00Z.")
def run_due_command(at: str | None) -> None:
    """Run every due sweep once, printing what each did."""
    instant = now()
    if at:
        try:
            instant = as_utc(datetime.fromisoformat(at.replace("Z", "+00:00")))
        except ValueError as exc:
            raise click.BadParameter(f"{at!r} is not an ISO 8601 date-time", param_hint="--now") from exc
    click.echo(f"Running due sweeps at {instant.isoformat()}")
    with ExitStack() as bars:

        def on_job(job, count):
            """A progress bar on stderr for sweeps with long work."""
            if count < 20:
                return None
            bar = click.progressbar(length=count, label=f"{job.name} ({count} due)", file=sys.stderr)
            return bars.enter_context(bar).update

        results = run_due(instant, on_job=on_job)
    failed = 0
    for result in results:
        click.echo(f"  {result.line()}")
        failed += len(result.failed)
    if failed:
        raise click.ClickException(f"{failed} row(s) failed; they stay due and are retried on the next run.")


@jobs.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler in this process until interrupted (run exactly one in production)."""
    from app.jobs.scheduler import build_scheduler

    scheduler = build_scheduler(current_app._get_current_object(), blocking=True)
    click.echo(f"Scheduler started: every due sweep every {current_app.config['SCHEDULER_INTERVAL_SECONDS']} s.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Scheduler stopped.")
