"""The loan tests reuse the payment fixtures (a settable clock, a fresh sandbox gateway, the
ledger invariants after every test) and build a funded loan the way the sweeps do."""

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.jobs.registry import run_due
from app.loans.models import Instalment, Loan
from app.payments.services import create_pledge
from tests.factories import NOW, CampaignFactory
from tests.payments.conftest import _ledger_invariants, clock, make_ready_investor, sandbox  # noqa: F401


def due_instalment(*, amount: int = 1_000_00, term_months: int = 6) -> Instalment:
    """The first instalment of a loan funded by one sophisticated investor, now due (committed)."""
    campaign = CampaignFactory(target_amount=amount, max_amount=amount, term_months=term_months)
    investor = make_ready_investor(classification="sophisticated")
    create_pledge(investor, campaign.id, {"amount": amount, "payment_method": "pm_card_visa"}, now=NOW)
    db.session.commit()
    run_due(NOW + timedelta(minutes=1), skip={"send e-mail"})  # the round fills, closes and is paid out
    loan = db.session.scalar(select(Loan).where(Loan.campaign_id == campaign.id))
    first = loan.instalments[0]
    run_due(first.due_at + timedelta(hours=1), skip={"send e-mail"})
    db.session.refresh(first)
    assert first.status == "due"
    return first
