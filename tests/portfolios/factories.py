"""Small builders for portfolio scenarios: funds, holdings, loans with paid instalments.

Loans are created and repaid with ``loans.services`` itself, so the portfolio's expected
shares are checked against the very code that later splits the money.
"""

from datetime import timedelta

from app.campaigns.models import Campaign, CampaignSdg
from app.extensions import db
from app.investors.models import Fund, FundManager, InvestorProfile
from app.loans import services as loans
from app.loans.models import Instalment, InstalmentStatus, Loan, LoanStatus
from app.payments.models import Pledge, PledgeStatus
from tests.factories import NOW, CampaignFactory, UserFactory


def investor(currency: str = "EUR", **kwargs):
    user = UserFactory(roles=["investor"], **kwargs)
    db.session.add(InvestorProfile(user_id=user.id, legal_name=user.name, country="EE", currency=currency,
                                   classification="non_sophisticated", identity_status="verified",
                                   other_platforms_amount=0, created_at=NOW, updated_at=NOW))
    db.session.flush()
    return user


def fund(name: str = "Baltic Green Fund", currency: str = "EUR", managers: int = 1):
    f = Fund(name=name, country="FI", currency=currency, created_at=NOW)
    db.session.add(f)
    db.session.flush()
    users = []
    for _ in range(managers):
        user = UserFactory(roles=["fund_manager"])
        db.session.add(FundManager(fund_id=f.id, user_id=user.id, added_at=NOW))
        users.append(user)
    db.session.flush()
    return f, users


def pledge(campaign: Campaign, user, amount: int, *, fund_id: int | None = None, status: str = "settled",
           paid_at=None) -> Pledge:
    p = Pledge(campaign_id=campaign.id, investor_id=user.id, fund_id=fund_id, amount=amount,
               currency=campaign.currency, status=status, payment_method="pm_card_visa",
               created_at=paid_at or NOW - timedelta(days=40), paid_at=paid_at or NOW - timedelta(days=40),
               settled_at=(paid_at or NOW - timedelta(days=40)) if status == PledgeStatus.SETTLED else None)
    db.session.add(p)
    db.session.flush()
    return p


def campaign(**kwargs) -> Campaign:
    kwargs.setdefault("status", "repaying")
    sdgs = kwargs.pop("sdgs", None)
    c = CampaignFactory(**kwargs)
    if sdgs is not None:
        c.sdg_links = [CampaignSdg(sdg=s) for s in sdgs]
        db.session.flush()
    return c


def fund_loan(c: Campaign, holders: list[tuple], *, starts_at=None) -> Loan:
    """Settle ``holders`` ((user, amount[, fund_id]) tuples) into ``c`` and start its loan."""
    starts_at = starts_at or NOW - timedelta(days=30)
    for holder in holders:
        user, amount, *rest = holder
        pledge(c, user, amount, fund_id=rest[0] if rest else None, paid_at=starts_at - timedelta(days=5))
    c.raised_amount = sum(h[1] for h in holders)
    c.max_amount = max(c.max_amount, c.raised_amount)
    db.session.flush()
    return loans.create_loan(c, c.raised_amount, now=starts_at)


def pay(loan: Loan, count: int) -> None:
    """Receive the first ``count`` unpaid instalments, each on its due date."""
    for instalment in [i for i in loan.instalments if i.status != InstalmentStatus.PAID][:count]:
        instalment.status = InstalmentStatus.DUE.value
        loans.receive(instalment, now=instalment.due_at)


def overdue(loan: Loan, number: int) -> Instalment:
    instalment = next(i for i in loan.instalments if i.number == number)
    instalment.status = InstalmentStatus.OVERDUE.value
    loan.status = LoanStatus.OVERDUE.value
    db.session.flush()
    return instalment


def default(loan: Loan) -> None:
    loan.status = LoanStatus.DEFAULTED.value
    loan.defaulted_at = NOW
    db.session.flush()


def bulk_holdings(user, holdings: int, *, fund_id: int | None = None, per_campaign: int = 5, term: int = 6,
                  paid: int = 3) -> None:
    """``holdings`` settled pledges of ``user`` (or its fund) in loans of ``term`` months with
    ``paid`` instalments received; one other citizen shares each campaign. Core inserts: fast."""
    from sqlalchemy import insert

    from app.campaigns.schedule import instalments as plan
    from app.core.money import allocate
    from app.loans.models import InstalmentShare

    owner = UserFactory(roles=["owner"])
    other = UserFactory(roles=["investor"])
    campaigns = -(-holdings // per_campaign)
    starts_at = NOW - timedelta(days=31 * paid + 5)
    rows = []
    for n in range(campaigns):
        rows.append({"owner_id": owner.id, "title": f"Bulk project {n}", "summary": "s", "description": "d",
                     "category": ("energy_efficiency", "water", "clean_shipping")[n % 3],
                     "country": ("EE", "FI", "LV")[n % 3], "location": "", "currency": "EUR",
                     "instrument_type": "loan", "interest_rate_bps": 500 + n % 5 * 50, "term_months": term,
                     "repayment": "annuity", "target_amount": 1, "max_amount": 10**12, "min_pledge": 1,
                     "raised_amount": 0, "backers_count": 0, "reserved_amount": 0, "opens_at": starts_at,
                     "closes_at": starts_at, "status": "repaying", "risk_class": "ABCDE"[n % 5],
                     "co2_tonnes_per_year": 10.0, "energy_mwh_per_year": 20.0, "created_at": starts_at,
                     "updated_at": starts_at})
    campaign_ids = list(db.session.scalars(
        insert(Campaign).returning(Campaign.id, sort_by_parameter_order=True), rows))
    db.session.execute(insert(CampaignSdg), [{"campaign_id": c, "sdg": s} for c in campaign_ids for s in (7, 13)])
    pledge_rows, made = [], 0
    for n, campaign_id in enumerate(campaign_ids):
        count = min(per_campaign, holdings - made)
        made += count
        for j in range(count):
            pledge_rows.append({"campaign_id": campaign_id, "investor_id": user.id, "fund_id": fund_id,
                                "amount": (100 + (n * 7 + j * 13) % 400) * 100})
        pledge_rows.append({"campaign_id": campaign_id, "investor_id": other.id, "fund_id": None,
                            "amount": (50 + n % 90) * 100})
    for row in pledge_rows:
        row.update(currency="EUR", status="settled", payment_method="pm_card_visa", created_at=starts_at,
                   paid_at=starts_at, settled_at=starts_at)
    pledge_ids = list(db.session.scalars(insert(Pledge).returning(Pledge.id, sort_by_parameter_order=True),
                                         pledge_rows))
    holders: dict[int, list[tuple[int, dict]]] = {}
    for pledge_id, row in zip(pledge_ids, pledge_rows, strict=True):
        holders.setdefault(row["campaign_id"], []).append((pledge_id, row))
    loan_rows = []
    for campaign_id in campaign_ids:
        principal = sum(row["amount"] for _, row in holders[campaign_id])
        db.session.execute(Campaign.__table__.update().where(Campaign.id == campaign_id)
                           .values(raised_amount=principal, target_amount=principal))
        loan_rows.append({"campaign_id": campaign_id, "principal": principal, "currency": "EUR",
                          "interest_rate_bps": 600, "term_months": term, "repayment": "annuity",
                          "status": "active", "starts_at": starts_at})
    loan_ids = list(db.session.scalars(insert(Loan).returning(Loan.id, sort_by_parameter_order=True), loan_rows))
    instalment_rows, owners_of = [], []
    for loan_id, loan in zip(loan_ids, loan_rows, strict=True):
        for item in plan(loan["principal"], loan["interest_rate_bps"], term, "annuity"):
            is_paid = item.number <= paid
            due_at = loans.add_months(starts_at, item.number)
            instalment_rows.append({"loan_id": loan_id, "number": item.number, "due_at": due_at,
                                    "principal": item.principal, "interest": item.interest,
                                    "status": "paid" if is_paid else "scheduled",
                                    "paid_at": due_at if is_paid else None})
            owners_of.append(loan["campaign_id"])
    instalment_ids = list(db.session.scalars(
        insert(Instalment).returning(Instalment.id, sort_by_parameter_order=True), instalment_rows))
    shares = []
    for instalment_id, row, campaign_id in zip(instalment_ids, instalment_rows, owners_of, strict=True):
        if row["status"] != "paid":
            continue
        pledges = holders[campaign_id]
        weights = [p["amount"] for _, p in pledges]
        for (pledge_id, p), pp, ip in zip(pledges, allocate(row["principal"], weights),
                                          allocate(row["interest"], weights), strict=True):
            shares.append({"instalment_id": instalment_id, "pledge_id": pledge_id, "investor_id": p["investor_id"],
                           "fund_id": p["fund_id"], "principal": pp, "interest": ip, "currency": "EUR",
                           "paid_at": row["paid_at"]})
    if shares:
        db.session.execute(insert(InstalmentShare), shares)
    loans.rebuild_repayment_totals()  # the shares were written directly, not through ``receive``
