"""The sweep loop, the run-due command and the scheduler wiring."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from app.campaigns import services as campaign_services
from app.campaigns.jobs import close_rounds
from app.core.audit import AuditEntry
from app.extensions import db
from app.jobs.scheduler import JOB_DEFAULTS, build_scheduler
from tests.factories import NOW, CampaignFactory


def test_close_rounds_decides_success_by_the_target(app):
    funded = CampaignFactory(raised_amount=100_000_00, closes_at=NOW - timedelta(minutes=1))
    short = CampaignFactory(raised_amount=99_999_99, closes_at=NOW - timedelta(minutes=1))
    full = CampaignFactory(raised_amount=120_000_00, closes_at=NOW + timedelta(days=10))  # max reached early
    open_ = CampaignFactory(raised_amount=50_000_00, closes_at=NOW + timedelta(days=10))
    result = close_rounds.run(NOW)
    assert result.done == 3 and not result.failed
    assert (funded.status, short.status, full.status, open_.status) == ("successful", "failed", "successful", "live")
    assert close_rounds.run(NOW).done == 0  # idempotent: nothing due any more


def test_one_bad_row_is_reported_and_the_rest_go_on(app, monkeypatch):
    bad = CampaignFactory(closes_at=NOW - timedelta(minutes=1), raised_amount=1)
    good = CampaignFactory(closes_at=NOW - timedelta(minutes=1), raised_amount=1)
    real = campaign_services.close_round

    def flaky(campaign, *, now):
        if campaign.id == bad.id:
            raise RuntimeError("disk full")
        return real(campaign, now=now)

    monkeypatch.setattr(campaign_services, "close_round", flaky)
    result = close_rounds.run(NOW)
    assert result.done == 1 and result.failed == [(bad.id, "RuntimeError: disk full")]
    assert good.status == "failed" and db.session.get(type(bad), bad.id).status == "live"
    assert db.session.query(AuditEntry).filter_by(action="job.failed", subject_id=str(bad.id)).count() == 1
    monkeypatch.setattr(campaign_services, "close_round", real)
    assert close_rounds.run(NOW).done == 1  # retried on the next sweep


def test_run_due_command_time_travels_and_prints_what_it_did(runner):
    campaign = CampaignFactory(closes_at=NOW + timedelta(days=3))
    before = runner.invoke(args=["jobs", "run-due", "--now", NOW.isoformat()])
    assert before.exit_code == 0, before.output
    assert "close rounds: 0 done" in before.output
    after = runner.invoke(args=["jobs", "run-due", "--now", (NOW + timedelta(days=4)).isoformat()])
    assert "close rounds: 1 done" in after.output
    assert db.session.get(type(campaign), campaign.id).status == "failed"


def test_run_due_refuses_a_bad_instant(runner):
    result = runner.invoke(args=["jobs", "run-due", "--now", "yesterday"])
    assert result.exit_code == 2 and "not an ISO 8601" in result.output


def test_run_due_shows_progress_for_long_work(runner):
    for _ in range(25):
        CampaignFactory(closes_at=NOW - timedelta(minutes=1))
    result = runner.invoke(args=["jobs", "run-due", "--now", NOW.isoformat()])
    assert "close rounds (25 due)" in result.output
    assert "close rounds: 25 done" in result.output


def test_scheduler_is_configured_against_missed_and_overlapping_runs(app):
    scheduler = build_scheduler(app, blocking=False)
    assert isinstance(scheduler, BackgroundScheduler)
    scheduler.start(paused=True)  # defaults are applied when the job reaches the job store
    job = scheduler.get_job("run-due")
    scheduler.shutdown()
    assert job.trigger.interval == timedelta(seconds=app.config["SCHEDULER_INTERVAL_SECONDS"])
    assert job.misfire_grace_time == JOB_DEFAULTS["misfire_grace_time"] and job.max_instances == 1 and job.coalesce
    assert str(scheduler.timezone) == "UTC"
    # The trigger starts from the wall clock, not the tests' fixed NOW.
    started = datetime.now(UTC)
    fire = job.trigger.get_next_fire_time(None, started)
    assert timedelta(0) <= fire - started <= timedelta(seconds=30)


def test_creating_the_app_and_running_commands_starts_no_scheduler(app, runner):
    assert not any("APScheduler" in t.name for t in threading.enumerate())
    from app import create_app

    create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    runner.invoke(args=["jobs", "run-due"])
    assert not any("APScheduler" in t.name for t in threading.enumerate())


def test_scheduler_job_runs_inside_an_app_context(app, monkeypatch):
    from app.jobs import scheduler as scheduler_module

    seen = []
    monkeypatch.setattr(scheduler_module, "run_due", lambda now: seen.append(bool(app.app_context)) or [])
    scheduler_module.run_due_in_app(app)
    assert seen == [True]


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_scheduler_enabled_flag_reads_the_environment(monkeypatch, value):
    import importlib

    import config

    monkeypatch.setenv("SCHEDULER_ENABLED", value)
    assert importlib.reload(config).DevelopmentConfig.SCHEDULER_ENABLED is True
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    assert importlib.reload(config).DevelopmentConfig.SCHEDULER_ENABLED is False
    monkeypatch.delenv("SCHEDULER_ENABLED")
    importlib.reload(config)
