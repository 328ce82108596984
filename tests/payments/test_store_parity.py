"""The pledge store writes the same rows on every database, whichever form it takes.

Each operation of ``payments.store`` runs here from a fixed starting point, and what it
wrote (the pledge rows, the round's counters, the ledger transactions and entries, the
audit entries) is reduced to a snapshot with ids replaced by names. The expected
snapshots below are literal, and the suite runs on SQLite and on PostgreSQL (CI runs
both), so both databases must write them. On PostgreSQL the one-statement store and the
sequential store also run each operation side by side and must agree.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.campaigns.models import Campaign
from app.core.audit import AuditEntry
from app.core.errors import StateConflict
from app.extensions import db
from app.payments import ledger
from app.payments.models import Pledge, PledgeStatus
from app.payments.store import OneStatementStore, PledgeStore, SequentialStore, store
from tests.factories import NOW

LATER = NOW + timedelta(minutes=1)


def _new(s: PledgeStore, campaign: Campaign, investor: Any, amount: int = 500_00, **values: Any) -> Pledge:
    row = dict(campaign_id=campaign.id, investor_id=investor.id, fund_id=None, amount=amount, currency="EUR",
               status=PledgeStatus.PENDING_PAYMENT.value, payment_method="pm_card_visa", created_at=NOW,
               reflection_ends_at=NOW + timedelta(days=4), kiis_version=None, idempotency_key=None,
               request_hash="h") | values
    return s.insert_reserving(row, {"actor": investor, "ip_address": "192.0.2.1", "at": NOW,
                                    "details": {"campaign_id": campaign.id, "amount": amount}}, now=NOW)


def _paid(s: PledgeStore, campaign: Campaign, investor: Any, amount: int = 500_00) -> Pledge:
    pledge = _new(s, campaign, investor, amount)
    assert s.pay(pledge, "pi_1", now=NOW)
    return pledge


def reserve(s, campaign, investor):
    _new(s, campaign, investor)


def pay(s, campaign, investor):
    pledge = _new(s, campaign, investor)
    assert s.pay(pledge, "pi_1", now=LATER)
    assert not s.pay(pledge, "pi_1", now=LATER)  # a second payment of the same pledge changes nothing


def fail(s, campaign, investor):
    pledge = _new(s, campaign, investor)
    assert s.fail(pledge, now=LATER, reference="pi_1", code="card_declined", message="Declined.")
    assert not s.pay(pledge, "pi_1", now=LATER)


def expire(s, campaign, investor):
    pledge = _new(s, campaign, investor)
    s.await_action(pledge, reference="pi_1", next_action_url="https://bank.example/3ds")
    assert s.expire(pledge, now=LATER, message="Too late.")


def revoke_then_refund(s, campaign, investor):
    pledge = _paid(s, campaign, investor)
    assert s.revoke(pledge, now=LATER, actor=investor, ip_address="192.0.2.1")
    assert s.refund(pledge, now=LATER, reason="revoked", reference="re_1")
    assert not s.refund(pledge, now=LATER, reason="revoked", reference="re_1")


def refund_live(s, campaign, investor):
    _paid(s, campaign, investor, 300_00)
    pledge = _paid(s, campaign, investor)
    assert s.refund(pledge, now=LATER, reason="gateway_refund", source="gateway")


def refund_late_charge(s, campaign, investor):
    pledge = _new(s, campaign, investor)
    assert s.expire(pledge, now=LATER, message="Too late.")
    s.refund_late_charge(pledge, now=LATER, charge_reference="pi_late", refund_reference="re_late")


def settle(s, campaign, investor):
    pledge = _paid(s, campaign, investor)
    assert s.settle(pledge, now=LATER)
    assert not s.revoke(pledge, now=LATER, actor=investor, ip_address=None)


def pay_from_wallet_then_refund(s, campaign, investor):
    pledge = _new(s, campaign, investor, payment_method="wallet")
    assert s.pay(pledge, None, now=NOW)
    assert s.refund(pledge, now=LATER, reason="round_failed")


def pay_by_transfer(s, campaign, investor):
    pledge = _new(s, campaign, investor, payment_method="bank_transfer")
    s.await_transfer(pledge, reference="RF18P1", pay_by=NOW + timedelta(days=5))
    assert s.pay(pledge, None, now=LATER)
    s.restart_reflection(pledge, ends_at=LATER + timedelta(days=4))


def full_round(s, campaign, investor):
    """A refusal for room leaves nothing once its transaction (here a savepoint) rolls back."""
    _new(s, campaign, investor, amount=campaign.max_amount)
    with pytest.raises(StateConflict, match="full"), db.session.begin_nested():
        _new(s, campaign, investor, amount=50_00)


_PLEDGE = ("status", "amount", "paid_at", "revoked_at", "refunded_at", "settled_at", "gateway_reference",
           "refund_reference", "refund_reason", "failure_code", "failure_message", "next_action_url")


def snapshot(campaign: Campaign) -> dict[str, Any]:
    """What the operation wrote, with ids replaced by P1, P2… (pledges) and C (the campaign)."""
    db.session.flush()
    db.session.expire_all()
    pledges = db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id).order_by(Pledge.id)).all()
    names = {str(p.id): f"P{n}" for n, p in enumerate(pledges, 1)}

    def named(text: str) -> str:
        for pid, name in names.items():
            text = text.replace(f"pledge-{pid}-", f"pledge-{name}-").replace(f"Pledge {pid} ", f"Pledge {name} ")
        return text

    transactions = ledger.transactions_for_campaign(campaign.id)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "pledge",
                                                          AuditEntry.subject_id.in_(list(names)))
                                 .order_by(AuditEntry.id)).all()
    c = db.session.get(Campaign, campaign.id)
    return {
        "pledges": [tuple(getattr(p, column) for column in _PLEDGE) for p in pledges],
        "counters": (c.raised_amount, c.reserved_amount, c.backers_count),
        "ledger": [(named(t.idempotency_key), named(t.description), t.created_at,
                    [(e.account.kind, e.amount) for e in t.entries]) for t in transactions],
        "audit": [(e.action, names[e.subject_id], e.actor_id is not None, e.ip_address, e.created_at,
                   {k: v for k, v in (e.details or {}).items() if k != "campaign_id"}) for e in entries],
    }


def _paid_entries(amount: int) -> list:
    return [("gateway_clearing", amount), ("investor_funds", -amount), ("investor_funds", amount),
            ("campaign_escrow", -amount)]


def _refund_entries(amount: int) -> list:
    return [("campaign_escrow", amount), ("investor_funds", -amount), ("investor_funds", amount),
            ("gateway_clearing", -amount)]


CREATED = ("pledge.created", "P1", True, "192.0.2.1", NOW, {"amount": 500_00})
PAID_AT_NOW = ("paid", 500_00, NOW, None, None, None, "pi_1", None, None, None, None, None)

EXPECTED: dict[Callable, dict[str, Any]] = {
    reserve: {
        "pledges": [("pending_payment", 500_00, None, None, None, None, None, None, None, None, None, None)],
        "counters": (0, 500_00, 0), "ledger": [], "audit": [CREATED],
    },
    pay: {
        "pledges": [("paid", 500_00, LATER, None, None, None, "pi_1", None, None, None, None, None)],
        "counters": (500_00, 0, 1),
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", LATER, _paid_entries(500_00))],
        "audit": [CREATED],
    },
    fail: {
        "pledges": [("failed", 500_00, None, None, None, None, "pi_1", None, None, "card_declined", "Declined.",
                     None)],
        "counters": (0, 0, 0), "ledger": [],
        "audit": [CREATED, ("pledge.failed", "P1", False, None, LATER, {"code": "card_declined"})],
    },
    expire: {
        "pledges": [("expired", 500_00, None, None, None, None, "pi_1", None, None, "expired", "Too late.",
                     "https://bank.example/3ds")],
        "counters": (0, 0, 0), "ledger": [],
        "audit": [CREATED, ("pledge.expired", "P1", False, None, LATER, {})],
    },
    revoke_then_refund: {
        "pledges": [("refunded", 500_00, NOW, LATER, LATER, None, "pi_1", "re_1", "revoked", None, None, None)],
        "counters": (0, 0, 0),
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", NOW, _paid_entries(500_00)),
                   ("pledge-P1-refunded", "Pledge P1 refunded", LATER, _refund_entries(500_00))],
        "audit": [CREATED, ("pledge.revoked", "P1", True, "192.0.2.1", LATER, {}),
                  ("pledge.refunded", "P1", False, None, LATER, {"reason": "revoked", "reference": "re_1"})],
    },
    refund_live: {
        "pledges": [("paid", 300_00, NOW, None, None, None, "pi_1", None, None, None, None, None),
                    ("refunded", 500_00, NOW, None, LATER, None, "pi_1", None, "gateway_refund", None, None, None)],
        "counters": (300_00, 0, 1),
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", NOW, _paid_entries(300_00)),
                   ("pledge-P2-paid", "Pledge P2 paid", NOW, _paid_entries(500_00)),
                   ("pledge-P2-refunded", "Pledge P2 refunded", LATER, _refund_entries(500_00))],
        "audit": [("pledge.created", "P1", True, "192.0.2.1", NOW, {"amount": 300_00}),
                  ("pledge.created", "P2", True, "192.0.2.1", NOW, {"amount": 500_00}),
                  ("pledge.refunded", "P2", False, None, LATER, {"reason": "gateway_refund", "source": "gateway"})],
    },
    refund_late_charge: {
        "pledges": [("expired", 500_00, None, None, LATER, None, "pi_late", "re_late", "late_payment", "expired",
                     "Too late.", None)],
        "counters": (0, 0, 0),
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", LATER, _paid_entries(500_00)),
                   ("pledge-P1-refunded", "Pledge P1 refunded", LATER, _refund_entries(500_00))],
        "audit": [CREATED, ("pledge.expired", "P1", False, None, LATER, {}),
                  ("pledge.late_payment_refunded", "P1", False, None, LATER, {"reference": "pi_late"})],
    },
    settle: {
        "pledges": [("settled", 500_00, NOW, None, None, LATER, "pi_1", None, None, None, None, None)],
        "counters": (500_00, 0, 1),
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", NOW, _paid_entries(500_00))],
        "audit": [CREATED],
    },
    pay_from_wallet_then_refund: {
        "pledges": [("refunded", 500_00, NOW, None, LATER, None, None, None, "round_failed", None, None, None)],
        "counters": (0, 0, 0),  # refunded while the round is live: it leaves the round
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", NOW,
                    [("investor_funds", 500_00), ("campaign_escrow", -500_00)]),
                   ("pledge-P1-refunded", "Pledge P1 refunded", LATER,
                    [("campaign_escrow", 500_00), ("investor_funds", -500_00)])],
        "audit": [CREATED, ("pledge.refunded", "P1", False, None, LATER,
                            {"reason": "round_failed", "reference": None})],
    },
    pay_by_transfer: {
        "pledges": [("paid", 500_00, LATER, None, None, None, None, None, None, None, None, None)],
        "counters": (500_00, 0, 1),
        "ledger": [("pledge-P1-paid", "Pledge P1 paid", LATER,
                    [("bank_clearing", 500_00), ("investor_funds", -500_00), ("investor_funds", 500_00),
                     ("campaign_escrow", -500_00)])],
        "audit": [CREATED],
    },
    full_round: {
        "pledges": [("pending_payment", 120_000_00, None, None, None, None, None, None, None, None, None, None)],
        "counters": (0, 120_000_00, 0), "ledger": [],
        "audit": [("pledge.created", "P1", True, "192.0.2.1", NOW, {"amount": 120_000_00})],
    },
}


@pytest.mark.parametrize("operation", list(EXPECTED), ids=lambda op: op.__name__)
def test_each_store_operation_writes_the_same_rows_on_every_database(operation, campaign, investor):
    operation(store(), campaign, investor)
    assert snapshot(campaign) == EXPECTED[operation]


@pytest.mark.postgres
@pytest.mark.parametrize("operation", list(EXPECTED), ids=lambda op: op.__name__)
def test_the_one_statement_store_and_the_sequential_store_agree(operation, campaign, investor):
    """On PostgreSQL both forms can run: each operation, once per form, from the same start."""
    seen = []
    for form in (OneStatementStore(), SequentialStore()):
        savepoint = db.session.begin_nested()
        operation(form, campaign, investor)
        seen.append(snapshot(campaign))
        savepoint.rollback()
        db.session.expire_all()
    assert seen[0] == seen[1] == EXPECTED[operation]
