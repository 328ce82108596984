"""Fixtures for the payment tests: a fixed clock, a fresh sandbox gateway, ready investors,
and the ledger invariants asserted after every test of this package."""

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import User
from app.campaigns.models import Campaign, CampaignStatus
from app.extensions import db
from app.investors import limits
from app.investors.models import (
    Fund,
    FundManager,
    IdentityStatus,
    InvestorProfile,
    KnowledgeTestAttempt,
)
from app.payments import ledger
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.models import Pledge, PledgeStatus
from tests.factories import NOW, CampaignFactory, UserFactory


def assert_ledger_invariants() -> None:
    """Double entry holds: every transaction sums to zero in one currency, and each campaign's
    escrow equals its paid pledges − refunds − amounts paid out; pending pledges hold exactly
    the room the campaign reserves."""
    entry = ledger.LedgerEntry
    unbalanced = db.session.execute(
        select(entry.transaction_id, entry.currency, func.sum(entry.amount))
        .group_by(entry.transaction_id, entry.currency).having(func.sum(entry.amount) != 0)).all()
    assert unbalanced == [], f"unbalanced ledger transactions: {unbalanced}"
    mixed = db.session.execute(
        select(entry.transaction_id).group_by(entry.transaction_id)
        .having(func.count(entry.currency.distinct()) > 1)).all()
    assert mixed == [], f"mixed-currency transactions: {mixed}"
    mismatched = db.session.execute(
        select(entry.id).join(ledger.LedgerAccount, entry.account_id == ledger.LedgerAccount.id)
        .where(entry.currency != ledger.LedgerAccount.currency)).all()
    assert mismatched == [], f"entries in another currency than their account: {mismatched}"
    assert db.session.scalar(select(func.coalesce(func.sum(entry.amount), 0))) == 0

    for campaign in db.session.scalars(select(Campaign)):
        pledges = db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id)).all()
        ever_paid = [p for p in pledges if p.status in ("paid", "revoked", "refunded", "settled")
                     or p.refund_reason == "late_payment"]
        refunded = [p for p in pledges if p.refunded_at is not None]
        paid_out = sum(e.amount for t in ledger.transactions_for_campaign(campaign.id)
                       if t.idempotency_key == f"campaign-{campaign.id}-settlement"
                       for e in t.entries if e.account.kind == "campaign_escrow")
        expected = sum(p.amount for p in ever_paid) - sum(p.amount for p in refunded) - paid_out
        assert ledger.escrow_balance(campaign.id) == expected, (
            f"campaign {campaign.id}: escrow {ledger.escrow_balance(campaign.id)} != paid − refunded − paid out "
            f"{expected}")
        pending = sum(p.amount for p in pledges if p.status == PledgeStatus.PENDING_PAYMENT)
        assert campaign.reserved_amount == pending, f"campaign {campaign.id}: reserved != pending pledges"
        assert campaign.raised_amount + campaign.reserved_amount <= campaign.max_amount


def assert_wallet_invariants() -> None:
    """Every wallet holds what its owner's money story says, and never less than nothing.

    available = repayments received + refunds of wallet and bank-transfer pledges − wallet
    pledges paid − withdrawals + returned withdrawals (+ test credits, posted under
    ``test-credit-…`` keys); reserved = withdrawals requested or sent; no available or
    reserved balance is negative; and all wallets together are the platform's client-money
    liability: the cash it holds (gateway and bank clearing) less what belongs to rounds,
    owners and the platform itself.
    """
    from collections import defaultdict

    from app.loans.models import InstalmentShare
    from app.payments import methods
    from app.wallets.models import Withdrawal, WithdrawalStatus

    def owner(investor_id: int, fund_id: int | None) -> tuple[str, int]:
        return ("fund", fund_id) if fund_id is not None else ("user", investor_id)

    expected: dict[tuple[str, int, str], int] = defaultdict(int)
    for share in db.session.scalars(select(InstalmentShare)):
        expected[(*owner(share.investor_id, share.fund_id), share.currency)] += share.principal + share.interest
    for p in db.session.scalars(select(Pledge).where(Pledge.payment_method.in_(methods.NON_CARD))):
        key = (*owner(p.investor_id, p.fund_id), p.currency)
        if p.payment_method == methods.WALLET and p.paid_at is not None:
            expected[key] -= p.amount
        if p.refunded_at is not None:
            expected[key] += p.amount
    reserved: dict[tuple[str, int, str], int] = defaultdict(int)
    for w in db.session.scalars(select(Withdrawal)):
        key = (w.owner_type, w.owner_id, w.currency)
        expected[key] -= w.amount
        if w.status == WithdrawalStatus.RETURNED:
            expected[key] += w.amount
        if w.status in (WithdrawalStatus.REQUESTED, WithdrawalStatus.SENT):
            reserved[key] += w.amount
    entry, account = ledger.LedgerEntry, ledger.LedgerAccount
    credits = db.session.execute(
        select(account.owner_type, account.owner_id, account.currency, func.sum(entry.amount))
        .join(entry, entry.account_id == account.id).join(ledger.LedgerTransaction)
        .where(account.kind == "investor_funds", ledger.LedgerTransaction.idempotency_key.like("test-credit-%"))
        .group_by(account.owner_type, account.owner_id, account.currency))
    for owner_type, owner_id, currency, amount in credits:
        expected[(owner_type, owner_id, currency)] -= int(amount)
    actual: dict[tuple[str, int, str], int] = defaultdict(int)
    actual_reserved: dict[tuple[str, int, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for acct in db.session.scalars(select(account)):
        held = ledger.balance(acct)
        totals[acct.kind] += held
        if acct.kind in ("investor_funds", "withdrawals_pending"):
            assert held >= 0, f"{acct}: negative balance {held}"
        if acct.kind == "investor_funds":
            actual[(acct.owner_type, acct.owner_id, acct.currency)] = held
        if acct.kind == "withdrawals_pending":
            actual_reserved[(acct.owner_type, acct.owner_id, acct.currency)] = held
    for key in set(expected) | set(actual):
        assert actual[key] == expected[key], f"wallet {key}: {actual[key]} held, {expected[key]} by its history"
    for key in set(reserved) | set(actual_reserved):
        assert actual_reserved[key] == reserved[key], f"wallet {key}: {actual_reserved[key]} reserved, " \
            f"{reserved[key]} in withdrawals not yet paid"
    cash = totals["gateway_clearing"] + totals["bank_clearing"]
    assert totals["investor_funds"] + totals["withdrawals_pending"] == (
        cash - totals["campaign_escrow"] - totals["owner_payable"] - totals["platform_fees"])


@pytest.fixture(autouse=True)
def _ledger_invariants(_transaction) -> Iterator[None]:
    """Runs after every payment test, inside its transaction, before the rollback."""
    yield
    db.session.rollback()  # a test may leave a failed flush behind; look at what was committed
    db.session.expire_all()
    assert_ledger_invariants()
    assert_wallet_invariants()


@pytest.fixture(autouse=True)
def clock(app: Flask) -> Iterator[dict]:
    """A settable clock: ``clock["now"] = ...`` moves time for the app."""
    state = {"now": NOW}
    app.config["CLOCK"] = lambda: state["now"]
    yield state
    app.config.pop("CLOCK", None)


@pytest.fixture(autouse=True)
def sandbox(app: Flask) -> Iterator[SandboxGateway]:
    """A fresh sandbox per test, so its counters count this test's gateway calls only."""
    gateway = SandboxGateway()
    previous = app.extensions.get("gateway")
    app.extensions["gateway"] = gateway
    yield gateway
    if previous is None:
        app.extensions.pop("gateway", None)
    else:
        app.extensions["gateway"] = previous


def make_ready_investor(*, classification: str = "non_sophisticated", net_worth: int = 100_000_00,
                        email: str | None = None, roles: list[str] | None = None) -> User:
    """An investor who may pledge: profile, verified identity, valid test, acknowledged simulation."""
    kwargs = {"roles": roles or ["investor"]}
    if email:
        kwargs["email"] = email
    user = UserFactory(**kwargs)
    db.session.add(InvestorProfile(
        user_id=user.id, legal_name=user.name, country="EE", currency="EUR", annual_income=50_000_00,
        net_worth=net_worth, other_platforms_amount=0, identity_status=IdentityStatus.VERIFIED.value,
        identity_decided_at=NOW - timedelta(days=3), classification=classification,
        acknowledged_at=NOW - timedelta(days=2), acknowledged_loss_capacity=limits.loss_capacity(net_worth, "EU"),
        created_at=NOW - timedelta(days=5), updated_at=NOW - timedelta(days=2)))
    db.session.add(KnowledgeTestAttempt(
        user_id=user.id, taken_at=NOW - timedelta(days=2), score=10, pass_mark=8, question_count=10, passed=True,
        valid_until=NOW + timedelta(days=700), answers={}))
    db.session.commit()
    return user


def make_fund_manager(fund_name: str = "Baltic Green Fund") -> tuple[User, Fund]:
    user = UserFactory(roles=["fund_manager"])
    fund = Fund(name=fund_name, country="EE", currency="EUR", created_at=NOW - timedelta(days=30))
    db.session.add(fund)
    db.session.flush()
    db.session.add(FundManager(fund_id=fund.id, user_id=user.id, added_at=NOW - timedelta(days=30)))
    db.session.commit()
    return user, fund


@pytest.fixture
def investor() -> User:
    return make_ready_investor()


@pytest.fixture
def campaign() -> Campaign:
    """Live, EUR, min 50.00, max 120,000.00, closes in 25 days."""
    return CampaignFactory(status=CampaignStatus.LIVE.value)


@pytest.fixture
def pledge_api(client, api_token) -> Callable:
    """POST a pledge through the API: ``pledge_api(user, campaign, body, key=None)``."""

    def post(user: User, campaign: Campaign, body, *, key: str | None = None):
        headers = api_token(user.email)
        if key is not None:
            headers["Idempotency-Key"] = key
        return client.post(f"/api/v1/campaigns/{campaign.id}/pledges", json=body, headers=headers)

    return post


def fresh(model):
    """The row as the database has it now."""
    db.session.expire_all()
    return db.session.get(type(model), model.id)
