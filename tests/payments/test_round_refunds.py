"""Failed and cancelled rounds are refunded by the batch (``settlement.refunds``,
``payments.refunds.refund_round_batch``, ``PledgeStore.refund_many``): one gateway refund per
pledge under its key, then the batch recorded in a few set-based statements. The rows it
writes are those the per-pledge refund wrote; a crash before the commit records nothing and
the next sweep repeats the same keys; a refused refund leaves that pledge paid."""

import dataclasses
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app import create_app
from app.campaigns.models import Campaign
from app.core.audit import AuditEntry, seal_pending, verify_chain
from app.core.money import format_money
from app.extensions import db
from app.jobs.registry import run_due
from app.notifications.models import OutboxMessage
from app.notifications.services import enqueue
from app.payments import ledger
from app.payments import services as payments
from app.payments.gateways.base import GatewayError
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.models import Pledge
from app.payments.store import OneStatementStore, SequentialStore, store
from app.settlement.jobs import refund_rounds
from tests.conftest import create_app_url
from tests.factories import NOW, CampaignFactory
from tests.payments.conftest import assert_ledger_invariants, fresh, make_fund_manager, make_ready_investor

LATER = NOW + timedelta(days=40)


def paid_pledges(campaign: Campaign, investors: list, count: int, amount: int = 100_00, *, fund=None) -> list[Pledge]:
    """``count`` paid pledges in escrow, as the pledge path leaves them (committed)."""
    pledges = []
    for n in range(count):
        pledge = Pledge(campaign_id=campaign.id, investor_id=investors[n % len(investors)].id,
                        fund_id=fund.id if fund is not None and n % 2 else None, amount=amount + n * 1_00,
                        currency=campaign.currency, status="paid", payment_method="pm_card_visa",
                        created_at=NOW - timedelta(days=10), paid_at=NOW - timedelta(days=10), kiis_version=1,
                        gateway_reference=f"pi_sbx_v_{campaign.id:06d}{n:014d}")
        db.session.add(pledge)
        db.session.flush()
        ledger.post_pledge_paid(pledge, now=NOW - timedelta(days=10))
        pledges.append(pledge)
    campaign.raised_amount += sum(p.amount for p in pledges)
    campaign.backers_count += count
    db.session.commit()
    return pledges


def over(status: str = "failed", **kwargs) -> Campaign:
    campaign = CampaignFactory(status=status, closes_at=NOW - timedelta(days=1), **kwargs)
    db.session.commit()
    return campaign


def refund_job(batch_size: int):
    return dataclasses.replace(refund_rounds, batch_size=batch_size)


def refund_calls(sandbox: SandboxGateway) -> list[str]:
    return sorted(key for method, key in sandbox.calls if method == "refund")


def snapshot(campaign: Campaign) -> list[tuple]:
    """What a round's refund wrote, per pledge, with its own ids replaced by their roles."""
    db.session.expire_all()
    rows = []
    for p in db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id).order_by(Pledge.id)):
        tx = db.session.scalar(select(ledger.LedgerTransaction).where(
            ledger.LedgerTransaction.idempotency_key == f"pledge-{p.id}-refunded"))
        flow = ledger.pledge_refunded(p)
        owners = {("campaign", campaign.id): "campaign", ("user", p.investor_id): "investor",
                  ("fund", p.fund_id): "fund", ("platform", 0): "platform"}
        entries = [(e.account.kind, owners[e.account.owner_type, e.account.owner_id], e.amount, e.currency)
                   for e in tx.entries]
        assert [(r.kind.value, owners[r.owner_type.value, r.owner_id], a, r.currency) for r, a in flow.entries] \
            == entries, "the batch posts ledger.pledge_refunded's entries, in its order"
        assert (tx.description, tx.campaign_id, tx.pledge_id) == (flow.description, flow.campaign_id, flow.pledge_id)
        logged = [(a.action, a.subject_type, a.actor_id, a.ip_address, a.created_at, a.details["reason"],
                   a.details["reference"] == p.refund_reference, sorted(a.details))
                  for a in db.session.scalars(select(AuditEntry).where(
                      AuditEntry.subject_type == "pledge", AuditEntry.subject_id == str(p.id),
                      AuditEntry.action != "pledge.created").order_by(AuditEntry.id))]
        mails = [(m.kind, m.user_id == p.investor_id, m.to_address, m.subject.replace(campaign.title, "<title>"),
                  m.body.replace(campaign.title, "<title>"), m.created_at)
                 for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"refund-{p.id}"))]
        rows.append((p.status, p.refund_reason, p.refunded_at, p.refund_reference.startswith("re_sbx_"),
                     tx.created_at, entries, logged, mails))
    return rows


def refund_one_by_one(campaign: Campaign, reason: str) -> None:
    """The per-pledge refund this replaced: ``refund_pledge`` and its e-mail, one commit each."""
    for p in db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id).order_by(Pledge.id)).all():
        payments.refund_pledge(p, now=LATER, reason=reason)
        enqueue(p.investor if hasattr(p, "investor") else db.session.get(type(campaign.owner), p.investor_id),
                kind="refund", dedupe_key=f"refund-{p.id}", now=LATER, subject=f"Refund: {campaign.title}",
                body=f"The round of {campaign.title} did not go ahead ({reason.replace('_', ' ')}). "
                     f"Your pledge of {format_money(p.amount, p.currency)} has been refunded to your card.")
        db.session.commit()


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_a_round_is_refunded_by_the_batch_as_the_per_pledge_path_did(sandbox, status):
    investors = [make_ready_investor() for _ in range(3)]
    manager, fund = make_fund_manager()
    # The control round is refunded the old way, and so is not due for the sweep (successful).
    batched, control = over(status), over("successful")
    pledges = paid_pledges(batched, [*investors, manager], 7, fund=fund)
    paid_pledges(control, [*investors, manager], 7, fund=fund)
    raised = batched.raised_amount

    result = refund_job(3).run(LATER)  # three batches: 3 + 3 + 1

    assert (result.done, result.failed, result.skipped) == (7, [], 0)
    assert refund_calls(sandbox) == sorted(f"pledge-{p.id}-refund" for p in pledges)
    assert sandbox.refunds_made == 7
    assert ledger.escrow_balance(batched.id) == 0
    assert fresh(batched).raised_amount == raised  # the record of what the round raised
    reason = "round_cancelled" if status == "cancelled" else "round_failed"
    refund_one_by_one(control, reason)
    assert snapshot(batched) == snapshot(control)
    first = snapshot(batched)[0]
    assert first[:2] == ("refunded", reason) and first[2] == LATER
    assert first[7][0][3:5] == ("Refund: <title>", f"The round of <title> did not go ahead "
                                f"({reason.replace('_', ' ')}). Your pledge of €100.00 has been refunded to your card.")
    assert refund_job(3).run(LATER + timedelta(hours=1)).done == 0
    assert sandbox.refunds_made == 14
    # The batch's audit entries are deferred; a jobs pass chains them, and the chain verifies.
    assert db.session.scalar(select(func.count()).where(AuditEntry.prev_hash == "deferred",
                                                        AuditEntry.action == "pledge.refunded")) == 7
    seal_pending()
    assert verify_chain(db.session.connection()).ok


def test_the_refund_sweep_runs_in_run_due_and_leaves_revoked_pledges_to_their_own(sandbox):
    investor, other = make_ready_investor(), make_ready_investor()
    campaign = over("failed")
    paid, revoked = paid_pledges(campaign, [investor, other], 2)
    revoked.status, revoked.revoked_at = "revoked", NOW - timedelta(days=9)
    campaign.raised_amount -= revoked.amount
    db.session.commit()
    results = {r.name: r for r in run_due(LATER)}
    assert results["refund revoked pledges"].done == 1
    assert results["refund failed and cancelled rounds"].done == 1
    assert (fresh(paid).status, fresh(paid).refund_reason) == ("refunded", "round_failed")
    assert (fresh(revoked).status, fresh(revoked).refund_reason) == ("refunded", "revoked")
    assert sandbox.refunds_made == 2 and ledger.escrow_balance(campaign.id) == 0
    assert db.session.scalar(select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "refund")) \
        == f"refund-{paid.id}"  # the revoked pledge's investor asked for it: no round e-mail


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the sweep catches it)."""


def test_a_crash_after_some_gateway_refunds_records_nothing_and_the_next_sweep_refunds_once(sandbox, monkeypatch):
    campaign = over("failed")
    pledges = paid_pledges(campaign, [make_ready_investor()], 6)
    real, calls = SandboxGateway.refund, []

    def dying(self, **kwargs):
        if len(calls) == 4:
            raise Crash
        calls.append(kwargs["idempotency_key"])
        return real(self, **kwargs)

    monkeypatch.setattr(SandboxGateway, "refund", dying)
    with pytest.raises(Crash):
        refund_job(5).run(LATER)  # killed during its first batch, after 4 gateway refunds
    db.session.rollback()
    monkeypatch.undo()
    assert sandbox.refunds_made == 4
    assert {fresh(p).status for p in pledges} == {"paid"}
    assert db.session.scalar(select(func.count()).select_from(ledger.LedgerTransaction).where(
        ledger.LedgerTransaction.idempotency_key.like("%-refunded"))) == 0
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "pledge.refunded")) == 0

    assert refund_job(5).run(LATER).done == 6
    assert sandbox.refunds_made == 6  # the 4 repeated keys moved no money again
    keys = [f"pledge-{p.id}-refund" for p in pledges]
    assert refund_calls(sandbox) == sorted(keys[:4] * 2 + keys[4:])
    assert ledger.escrow_balance(campaign.id) == 0


def test_a_recording_step_that_raises_leaves_the_batch_due_and_the_next_sweep_finishes_it(sandbox, monkeypatch):
    campaign = over("failed")
    pledges = paid_pledges(campaign, [make_ready_investor()], 4)
    kind = type(store())

    def broken(self, refunds, *, now):
        raise RuntimeError("disk full")

    monkeypatch.setattr(kind, "refund_many", broken)
    result = refund_job(10).run(LATER)
    assert result.done == 0 and sorted(result.failed) == [(p.id, "RuntimeError: disk full") for p in pledges]
    assert {fresh(p).status for p in pledges} == {"paid"}
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "job.failed")) == 4
    monkeypatch.undo()
    assert refund_job(10).run(LATER).done == 4
    assert sandbox.refunds_made == 4  # every earlier call was answered with the first refund
    assert {fresh(p).status for p in pledges} == {"refunded"}


def test_a_refused_or_failed_gateway_refund_leaves_that_pledge_paid_and_records_the_others(sandbox):
    campaign = over("failed")
    pledges = paid_pledges(campaign, [make_ready_investor()], 5)
    refused = pledges[1]
    refused.gateway_reference = "pi_sbx_d_00000000000000000000"  # a declined charge: nothing to refund
    db.session.commit()
    sandbox.fail_next = GatewayError("gateway unreachable")  # the first pledge's call
    result = refund_job(10).run(LATER)
    assert result.done == 3
    assert result.failed == [(pledges[0].id, "GatewayError: gateway unreachable"),
                             (refused.id, "RefundFailed: The refund was refused: "
                                          "The charge cannot be refunded by that amount.")]
    assert [fresh(p).status for p in pledges] == ["paid", "paid", "refunded", "refunded", "refunded"]
    failed_audits = db.session.execute(select(AuditEntry.subject_type, AuditEntry.subject_id).where(
        AuditEntry.action == "job.failed").order_by(AuditEntry.id)).all()
    assert failed_audits == [("pledges", str(pledges[0].id)), ("pledges", str(refused.id))]
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
    again = refund_job(10).run(LATER + timedelta(minutes=1))  # the next sweep: the first goes through
    assert again.done == 1 and [i for i, _ in again.failed] == [refused.id]
    assert sandbox.refunds_made == 4 and ledger.escrow_balance(campaign.id) == refused.amount


@pytest.mark.postgres
def test_postgresql_refunds_a_batch_in_one_statement_and_sqlite_in_a_few(app):
    assert isinstance(store(), OneStatementStore)  # the suite's PostgreSQL pass
    assert not isinstance(store(), SequentialStore)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_sweeps_at_once_refund_each_pledge_once():
    """Two threads (two sessions, two connections) sweep one failed round of 600 pledges in
    batches of 25: SKIP LOCKED splits the batches, and each pledge is refunded once."""
    from tests.payments.test_race_postgres import _cleanup

    race_app = create_app({"SQLALCHEMY_DATABASE_URI": create_app_url(os.environ["TEST_DATABASE_URL"]),
                           "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3, "max_overflow": 0}})
    gateway = race_app.extensions["gateway"] = SandboxGateway()
    with race_app.app_context():
        investors = [make_ready_investor() for _ in range(3)]
        campaign = over("failed", max_amount=10**12)
        paid_pledges(campaign, investors, 600)
        campaign_id, user_ids = campaign.id, [*(i.id for i in investors), campaign.owner_id]
        db.session.remove()
    barrier = threading.Barrier(2)

    def sweep(_: int):
        with race_app.app_context():
            try:
                barrier.wait(timeout=30)
                return refund_job(25).run(LATER)
            finally:
                db.session.remove()

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(sweep, range(2)))
        assert sum(r.done for r in results) == 600 and not any(r.failed for r in results)
        assert gateway.refunds_made == 600
        with race_app.app_context():
            ids = db.session.scalars(select(Pledge.id).where(Pledge.campaign_id == campaign_id)).all()
            assert sorted(k for m, k in gateway.calls if m == "refund") == sorted(f"pledge-{i}-refund" for i in ids)
            assert db.session.scalar(select(func.count()).where(Pledge.status == "refunded",
                                                                Pledge.campaign_id == campaign_id)) == 600
            assert db.session.scalar(select(func.count()).where(AuditEntry.action == "pledge.refunded")) == 600
            assert ledger.escrow_balance(campaign_id) == 0
            assert_ledger_invariants()
    finally:
        with race_app.app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM outbox WHERE user_id = ANY(:ids)"), {"ids": user_ids})
            _cleanup(campaign_id, user_ids)
            db.engine.dispose()
