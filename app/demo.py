"""Demo data: one user per role and a dozen campaigns around the Baltic Sea."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.services import create_user, find_by_email
from app.campaigns import cap, entities, rates
from app.campaigns import services as campaigns
from app.campaigns.models import Campaign, CampaignSdg
from app.core.permissions import Role
from app.extensions import db
from app.investors.demo import seed_investors

DEMO_PASSWORD = "greenround-demo"  # nosec B105  # the demo accounts' published password
#: What the demo investor leaves in the wallet after withdrawing (minor units): enough to reinvest.
KEPT_IN_WALLET = 300_00

DEMO_USERS = [
    ("investor@demo.greenround.eu", "Liisa Tamm", "EE", [Role.INVESTOR]),
    ("owner@demo.greenround.eu", "Baltic Retrofit OÜ", "EE", [Role.OWNER]),
    ("owner.ru@demo.greenround.eu", "Nevsky Svet LLC", "RU", [Role.OWNER]),
    ("turku@demo.greenround.eu", "Turku Energy Services Oy", "FI", [Role.OWNER]),
    ("riga@demo.greenround.eu", "Rīgas Saules Enerģija SIA", "LV", [Role.OWNER]),
    ("ports@demo.greenround.eu", "Baltic Port Power sp. z o.o.", "PL", [Role.OWNER]),
    ("symbiosis@demo.greenround.eu", "Kalundborg Heat ApS", "DK", [Role.OWNER]),
    ("citizen.maarja@demo.greenround.eu", "Maarja Kask", "EE", [Role.INVESTOR]),
    ("citizen.janis@demo.greenround.eu", "Jānis Bērziņš", "LV", [Role.INVESTOR]),
    ("citizen.aino@demo.greenround.eu", "Aino Laine", "FI", [Role.INVESTOR]),
    ("fund@demo.greenround.eu", "Mikko Virtanen (Itämeri Green Fund)", "FI", [Role.FUND_MANAGER]),
    ("operator@demo.greenround.eu", "Platform Operator", "EE", [Role.OPERATOR]),
    ("regulator@demo.greenround.eu", "Finantsinspektsioon Reviewer", "EE", [Role.REGULATOR]),
]


@dataclass
class SeedReport:
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    campaigns_created: int = 0
    campaigns_existing: int = 0
    investor_steps: list[str] = field(default_factory=list)


# (owner e-mail, title, summary, category, country, location, currency, rate bps, term,
#  repayment, target (major units), status, days from now to close, sdgs, co2 t/yr, MWh/yr,
#  share of target raised in percent, risk class)
DEMO_CAMPAIGNS = [
    ("owner.ru", "LED street lighting for Vasileostrovsky district", "Replace 2,400 sodium street lamps in a St Petersburg district with dimmable LEDs.", "energy_efficiency", "RU", "St Petersburg", "RUB", 1400, 36, "annuity", 45_000_000, "live", 21, [7, 11, 13], 1850, 3100, 62, "B"),
    ("owner", "Insulating a Lasnamäe apartment block", "Deep renovation of a 1970s panel block in Tallinn: facade insulation, new windows, heat recovery.", "energy_efficiency", "EE", "Tallinn", "EUR", 650, 60, "annuity", 480_000, "live", 12, [7, 11, 13], 210, 740, 81, "B"),
    ("turku", "Heat pumps for Puolala school in Turku", "Ground-source heat pumps replace oil heating in a school for 600 pupils.", "renewable_energy", "FI", "Turku", "EUR", 575, 48, "annuity", 320_000, "live", 30, [4, 7, 13], 260, 900, 35, "A"),
    ("riga", "Solar roof on the Riga Central Market pavilions", "A 900 kWp rooftop solar plant on the historic market pavilions.", "renewable_energy", "LV", "Riga", "EUR", 700, 84, "annuity", 750_000, "live", 45, [7, 9, 11], 420, 810, 18, "C"),
    ("ports", "Shore power for the port of Gdańsk ferry quay", "Grid connection lets ferries switch off their diesel generators at berth.", "clean_shipping", "PL", "Gdańsk", "EUR", 800, 72, "bullet", 1_200_000, "approved", 60, [7, 13, 14], 3100, 0, 0, "C"),
    ("ports", "Electric harbour tug for Klaipėda", "A battery-electric tug for the port of Klaipėda, charged from wind power.", "clean_shipping", "LT", "Klaipėda", "EUR", 850, 60, "annuity", 900_000, "successful", -20, [9, 13, 14], 1500, 0, 104, "C"),
    ("owner", "Heat pump pilot for a Helsinki sauna", "Closes two minutes after the demo is loaded: watch the scheduler close it.", "renewable_energy", "FI", "Helsinki", "EUR", 500, 24, "annuity", 20_000, "live", 0, [7, 13], 30, 120, 100, "A"),
    ("owner", "Biogas from Tartu food waste", "Anaerobic digestion of municipal food waste into biomethane for city buses.", "circular_economy", "EE", "Tartu", "EUR", 900, 48, "annuity", 400_000, "failed", -10, [7, 11, 12], 950, 2200, 41, "D"),
    ("symbiosis", "Industrial symbiosis at Kalundborg", "Waste heat from a refinery warms 3,000 homes through a new exchanger.", "industrial_symbiosis", "DK", "Kalundborg", "EUR", 600, 96, "annuity", 1_500_000, "repaying", -200, [9, 12, 13], 5200, 14000, 100, "A"),
    ("symbiosis", "Community wind turbine on Saaremaa", "One 4 MW turbine owned with the island's residents.", "renewable_energy", "EE", "Kuressaare", "EUR", 750, 120, "annuity", 2_000_000, "submitted", 50, [7, 13], 6000, 11000, 0, None),
    ("owner", "E-bike sharing for Vilnius suburbs", "400 electric bikes and 40 solar charging docks for commuters.", "clean_transport", "LT", "Vilnius", "EUR", 0, None, None, 60_000, "live", 9, [3, 11, 13], 150, 0, 55, "B"),
    ("owner.ru", "Energy-efficient heating in Kaliningrad schools", "Individual heating substations with weather control for six schools.", "energy_efficiency", "RU", "Kaliningrad", "RUB", 1300, 48, "annuity", 30_000_000, "live", 25, [4, 7, 13], 900, 2600, 47, "B"),
    ("owner.ru", "Solar panels for a Petrozavodsk fish farm", "A 300 kWp solar array and batteries for an off-grid trout farm on Lake Onega.", "sustainable_agriculture", "RU", "Petrozavodsk", "RUB", 1500, 36, "bullet", 18_000_000, "draft", 70, [2, 7, 14], 240, 290, 0, None),
]


#: The legal entity behind each demo owner (fictitious numbers with valid check digits).
DEMO_ENTITIES = {
    "owner": ("company", "Baltic Retrofit OÜ", "EE", "12345678"),
    "owner.ru": ("company", "ООО «Невский свет»", "RU", "7812345675"),
    "turku": ("company", "Turku Energy Services Oy", "FI", "2345678-0"),
    "riga": ("company", "Rīgas Saules Enerģija SIA", "LV", "40003123453"),
    "ports": ("company", "Baltic Port Power sp. z o.o.", "PL", "123456785"),
    "symbiosis": ("company", "Kalundborg Heat ApS", "DK", "34567891"),
}
#: RUB per EUR for counting RUB offers against the EU cap; a demo figure, labelled as such.
DEMO_RUB_PER_EUR = "98.5"


def _ensure_user(email: str, name: str, country: str, roles: list[Role], now: datetime) -> User:
    user = find_by_email(email)
    if user is None:
        user = create_user(email=email, password=DEMO_PASSWORD, name=name, country=country, roles=roles, now=now)
    return user


def seed(now: datetime) -> SeedReport:
    """Create whatever of the demo is missing. Campaigns are matched by title.

    Money is never invented: pledges of live rounds go through the pledge service and the
    sandbox gateway; rounds that closed in the past are replayed in time order through
    the same sweeps the scheduler runs (close, refund, pay out, instalments due) with
    the owner paying each instalment, so the ledger, portfolios and reports agree.
    """
    report = SeedReport()
    users: dict[str, User] = {}
    for email, name, country, roles in DEMO_USERS:
        user = _ensure_user(email, name, country, roles, now)
        users[email.split("@")[0]] = user
        report.accounts.append((email, DEMO_PASSWORD, ", ".join(r.value for r in roles)))
    report.investor_steps = seed_investors(users, now=now)
    for key in ("citizen.maarja", "citizen.janis", "citizen.aino"):
        report.investor_steps += _make_ready(users[key], users["operator"], now)
    demo_rate = rates.record("EUR", "RUB", now.date(), DEMO_RUB_PER_EUR,
                             "Demo figure in the shape of the Bank of Russia official rate", now=now)
    existing = set(db.session.scalars(select(Campaign.title)))
    created: list[tuple[Campaign, int]] = []
    for (owner_key, title, summary, category, country, location, currency, rate, term, repayment,
         target_major, status, close_days, sdgs, co2, mwh, raised_pct, risk) in DEMO_CAMPAIGNS:
        if title in existing:
            report.campaigns_existing += 1
            continue
        target = target_major * 100
        if close_days == 0:
            closes_at = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
        else:
            closes_at = (now + timedelta(days=close_days)).replace(hour=18, minute=0, second=0, microsecond=0)
        public = status not in ("draft", "submitted")
        campaign = Campaign(
            owner_id=users[owner_key].id, title=title, summary=summary,
            description=summary + " Savings on energy bills repay the loan; measured savings are published quarterly.",
            category=category, country=country, location=location, currency=currency,
            instrument_type="donation" if rate == 0 else "loan", interest_rate_bps=rate or None,
            term_months=term, repayment=repayment, target_amount=target, max_amount=target * 5 // 4,
            min_pledge=10_000 if currency == "RUB" else 5_000, raised_amount=0, backers_count=0, reserved_amount=0,
            opens_at=(closes_at - timedelta(days=45) if close_days < 0 else now - timedelta(days=30))
            if public else None,
            closes_at=closes_at, status="live" if public and status != "approved" else status,
            risk_class=risk, co2_tonnes_per_year=co2, energy_mwh_per_year=mwh,
            created_at=now - timedelta(days=40 - min(close_days, 0)), updated_at=now,
            submitted_at=now - timedelta(days=2) if status == "submitted" else None,
            sdg_links=[CampaignSdg(sdg=s) for s in sdgs],
        )
        if owner_key in DEMO_ENTITIES:
            legal_form, legal_name, reg_country, number = DEMO_ENTITIES[owner_key]
            campaign.owner_legal_form, campaign.owner_legal_name = legal_form, legal_name
            campaign.owner_registration_country = reg_country
            campaign.owner_registration_number = entities.normalise(reg_country, number, legal_form)
        if public and currency != cap.offer_cap()[0]:
            campaign.cap_rate_id = demo_rate.id  # as approval would have frozen it
        if status == "approved":
            campaign.opens_at = now + timedelta(days=3)
        db.session.add(campaign)
        db.session.flush()
        if public:
            campaigns.freeze_kiis(campaign, now=campaign.opens_at or now, fee_bps=current_app.config["PLATFORM_FEE_BPS"])
        created.append((campaign, raised_pct))
        report.campaigns_created += 1
    db.session.flush()
    backers = [users["investor"], users["citizen.maarja"], users["citizen.janis"], users["citizen.aino"],
               users["fund"]]
    for campaign, raised_pct in created:
        if campaign.status != "live" or not raised_pct:
            continue
        if campaign.closes_at > now:
            _pledge_now(campaign, backers, raised_pct, now)
        else:
            _pledge_in_the_past(campaign, backers, raised_pct)
    db.session.flush()
    _replay_history(now, users)
    report.investor_steps += _money_back(users, now)
    report.investor_steps += _duties(users, now)
    return report


#: The operator's expected default rates per risk class (bps) and what they rest on.
EXPECTED_DEFAULTS = {
    "A": (100, "Public-sector borrowers (schools, municipalities) with budget-backed repayments."),
    "B": (250, "Housing associations with energy-saving contracts; Baltic SME loan defaults 2015-2024."),
    "C": (500, "Young companies with one revenue line; the platform's own record so far."),
    "D": (900, "Start-ups before revenue; early-stage cleantech loss rates in the region."),
    "E": (1500, "Pilots of unproven technology; assumed, as no history exists."),
}


def _duties(users: dict[str, User], now: datetime) -> list[str]:
    """What a regulator checks first, through the same services: the expected default rates the
    transparency page shows, and one complaint filed, acknowledged and answered. Done once."""
    from app.complaints import services as complaints
    from app.complaints.models import Complaint
    from app.disclosures import default_rates
    from app.disclosures.models import ExpectedDefaultRate

    if db.session.get(ExpectedDefaultRate, "A") is not None:
        return []
    operator, citizen = users["operator"], users["citizen.janis"]
    for risk, (bps, assumptions) in EXPECTED_DEFAULTS.items():
        default_rates.set_expected(operator, risk, {"expected_default_rate_bps": bps, "assumptions": assumptions},
                                   now=now - timedelta(days=30))
    steps = ["the operator set the expected default rate of each risk class (see /transparency)"]
    if db.session.scalar(select(Complaint.id).where(Complaint.complainant_id == citizen.id)) is None:
        filed = complaints.file_complaint(citizen, {
            "subject": "The payment instructions e-mail came late",
            "body": "I pledged by bank transfer and the instructions reached me only the next morning."},
            now=now - timedelta(days=6))
        complaints.respond(operator, filed.id, {
            "decision": "upheld", "response": "Our mail server queued messages overnight; it now sends at once. "
            "Your pay-by date was extended by a day."}, now=now - timedelta(days=4))
        steps.append(f"{citizen.email} filed complaint {filed.reference}; the operator upheld it")
    db.session.commit()
    return steps


def _make_ready(user: User, operator: User, now: datetime) -> list[str]:
    """A demo citizen who may invest: profile, verified identity, passed test, simulation."""
    from app.investors import services as investors
    from app.investors.models import IdentityStatus

    j = investors.current_jurisdiction()
    if investors.get_profile(user) is not None:
        return []
    investors.save_profile(user, {
        "legal_name": user.name, "address": "Demo street 1", "country": user.country, "currency": j.currency,
        "annual_income": 55_000_00, "liquid_assets": 60_000_00, "annual_commitments": 12_000_00,
    }, now=now, jurisdiction=j)
    if investors.get_profile(user).identity_status != IdentityStatus.VERIFIED.value:
        investors.decide_identity(user.id, {"status": "verified"}, actor=operator, now=now)
    answers = {q.id: q.correct_option_id for q in investors.question_bank()}
    investors.submit_knowledge_test(user, {"answers": answers}, now=now, jurisdiction=j)
    investors.acknowledge_simulation(user, {"acknowledge": True}, now=now, jurisdiction=j)
    return [f"{user.email} ready to invest"]


def _shares(total: int, parts: int, minimum: int) -> list[int]:
    """Split ``total`` into ``parts`` uneven but whole-euro pledges of at least ``minimum``."""
    weights = [5, 3, 2, 4, 6][:parts]
    from app.core.money import allocate

    amounts = [max(minimum, a - a % 100) for a in allocate(total, weights)]
    return [a for a in amounts if a > 0]


def _pledge_now(campaign: Campaign, backers: list[User], raised_pct: int, now: datetime) -> None:
    """Pledges on a live round through the real pledge service (limits, sandbox card)."""
    from app.core.errors import DomainError
    from app.payments.services import create_pledge

    goal = min(campaign.target_amount * raised_pct // 100, campaign.max_amount)
    eligible = backers if campaign.currency == "EUR" else backers[-1:]  # retail pledges only in EUR here
    for investor, amount in zip(eligible, _shares(goal, len(eligible), campaign.min_pledge), strict=False):
        try:
            create_pledge(investor, campaign.id, {"amount": amount, "payment_method": "pm_card_visa",
                                                  "acknowledge_risk": True}, now=now)
        except DomainError:
            db.session.rollback()  # a limit said no: a real investor would pledge less; the demo skips


def _pledge_in_the_past(campaign: Campaign, backers: list[User], raised_pct: int) -> None:
    """Paid pledges of a round that closed before the demo began (the service checks today's
    readiness, so history is written as the service would have written it then)."""
    from app.campaigns import room
    from app.investors.services import fund_for
    from app.payments import ledger
    from app.payments.models import Pledge

    goal = min(campaign.target_amount * raised_pct // 100, campaign.max_amount)
    eligible = backers if campaign.currency == "EUR" else backers[-1:]
    for index, (investor, amount) in enumerate(
            zip(eligible, _shares(goal, len(eligible), campaign.min_pledge), strict=False)):
        when = campaign.opens_at + timedelta(days=3 + 7 * index)
        fund = fund_for(investor)
        pledge = Pledge(campaign_id=campaign.id, investor_id=investor.id, fund_id=fund.id if fund else None,
                        amount=amount, currency=campaign.currency, status="paid", payment_method="pm_card_visa",
                        created_at=when, paid_at=when,
                        reflection_ends_at=None if fund else when + timedelta(days=4),
                        gateway_reference=f"pi_sbx_v_demo{campaign.id:05d}{index:04d}{amount % 10**7:07d}",
                        kiis_version=campaign.current_kiis_version)
        db.session.add(pledge)
        db.session.flush()
        ledger.post_pledge_paid(pledge, now=when)
        room.count(campaign.id, amount, reserved=False)


def _replay_history(now: datetime, users: dict[str, User]) -> None:
    """Run the sweeps at each past closing time and each due date. Owners of loans have a
    repayment mandate (the sandbox's Visa), so the instalments-due sweep collects them; any
    it could not collect the owner pays by hand."""
    from app.jobs.registry import run_due
    from app.loans import collection
    from app.loans import services as loans
    from app.loans.models import Instalment, InstalmentStatus

    past = list(db.session.scalars(select(Campaign).where(Campaign.status == "live", Campaign.closes_at <= now)))
    for campaign in past:
        if campaign.instrument_type == "loan" and campaign.repayment_mandate is None:
            collection.set_mandate(campaign.id, db.session.get(User, campaign.owner_id),
                                   {"payment_method": "pm_card_visa"}, now=campaign.opens_at or now)
    db.session.commit()
    closings = sorted({c.closes_at for c in past})
    while True:
        # the next event in time: a round closing, or an instalment falling due
        instalment = db.session.scalar(select(Instalment).where(
            Instalment.status != InstalmentStatus.PAID, Instalment.due_at <= now - timedelta(days=2))
            .order_by(Instalment.due_at, Instalment.id))
        if closings and (instalment is None or closings[0] <= instalment.due_at):
            run_due(closings.pop(0) + timedelta(days=1), skip={"send e-mail"})
            continue
        if instalment is None:
            break
        run_due(instalment.due_at + timedelta(hours=1), skip={"send e-mail"})
        db.session.refresh(instalment)
        if instalment.status != InstalmentStatus.PAID:
            loans.pay_instalment(instalment, payment_method="pm_card_visa", now=instalment.due_at + timedelta(days=1))
        db.session.commit()


def _money_back(users: dict[str, User], now: datetime) -> list[str]:
    """The money coming back, through the same services: the demo investor reinvests part of
    the repayments in the wallet and withdraws the rest; the operator sends the payment file;
    a citizen pledges by bank transfer; the bank's statement marks the withdrawal paid and
    pays the transfer. Done once (skipped when the investor has withdrawn before)."""
    from app.core.errors import DomainError
    from app.payments.services import create_pledge
    from app.statements import services as statements
    from app.wallets import services as wallets
    from app.wallets.models import Withdrawal

    investor, operator, citizen = users["investor"], users["operator"], users["citizen.maarja"]
    if db.session.scalar(select(Withdrawal.id).where(Withdrawal.investor_id == investor.id)) is not None:
        return []
    available = next((b["available"] for b in wallets.balances(investor) if b["currency"] == "EUR"), 0)
    live = db.session.scalar(select(Campaign).where(Campaign.title == "Heat pumps for Puolala school in Turku"))
    if available < 2 * live.min_pledge:
        return []
    steps = []
    reinvest = max(live.min_pledge, (available // 2) - (available // 2) % 100)
    try:
        create_pledge(investor, live.id, {"amount": reinvest, "payment_method": "wallet", "acknowledge_risk": True},
                      now=now - timedelta(days=3), idempotency_key="demo-reinvest")
        steps.append(f"{investor.email} reinvested {reinvest / 100:.2f} EUR from the wallet")
    except DomainError:
        db.session.rollback()
    wallets.set_bank_account(investor, {"holder_name": investor.name, "iban": "EE47 1000 0010 2014 5685",
                                        "bic": "EEUHEE2X"}, now=now - timedelta(days=3))
    # Withdraw the rest but a little, kept for the next round the investor likes.
    rest = next(b["available"] for b in wallets.balances(investor) if b["currency"] == "EUR")
    rest -= min(KEPT_IN_WALLET, rest // 2)
    withdrawal = wallets.request_withdrawal(investor, {"amount": rest, "currency": "EUR"}, now=now - timedelta(days=3),
                                            idempotency_key="demo-withdrawal").withdrawal
    wallets.create_batch(operator, {"currency": "EUR"}, now=now - timedelta(days=2))
    transfer = create_pledge(citizen, live.id, {"amount": 250_00, "payment_method": "bank_transfer",
                                                "acknowledge_risk": True}, now=now - timedelta(days=3),
                             idempotency_key="demo-transfer").pledge
    db.session.commit()
    statement = _bank_statement(current_app.config["PLATFORM_IBAN"], now - timedelta(days=1), [
        ("DEMO-OUT-1", "DBIT", withdrawal.amount, withdrawal.end_to_end_id, f"GreenRound withdrawal {withdrawal.id}"),
        ("DEMO-IN-1", "CRDT", transfer.amount, None, f"Pledge {transfer.payment_reference}"),
    ])
    result = statements.import_statement(statement, "demo-camt053.xml", actor=operator, now=now - timedelta(days=1),
                                         jurisdiction=current_app.config["PLATFORM_JURISDICTION"])
    db.session.commit()
    steps += [f"{investor.email} withdrew {rest / 100:.2f} EUR; the payment file went to the bank",
              f"a camt.053 statement matched {result.matched} entries: the withdrawal is paid and "
              f"{citizen.email}'s bank transfer paid her pledge"]
    return steps


def _bank_statement(iban: str, at: datetime, entries: list[tuple[str, str, int, str | None, str]]) -> bytes:
    """The platform's camt.053.001.02 statement as its bank would send it (for the demo only)."""
    from xml.sax.saxutils import escape  # nosec B406  # escapes our own text to write XML; parses nothing

    day = at.date().isoformat()
    body = "".join(
        f'<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="EUR">{amount / 100:.2f}</Amt><CdtDbtInd>{direction}</CdtDbtInd>'
        f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>" + ("RCDT" if direction == "CRDT" else "ICDT")
        + "</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls>"
        + (f"<Refs><EndToEndId>{e2e}</EndToEndId></Refs>" if e2e else "")
        + f"<RmtInf><Ustrd>{escape(text)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for ref, direction, amount, e2e, text in entries)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
            f"<GrpHdr><MsgId>DEMO-{day}</MsgId><CreDtTm>{day}T08:00:00</CreDtTm></GrpHdr>"
            f"<Stmt><Id>DEMO-{day}</Id><CreDtTm>{day}T08:00:00</CreDtTm>"
            f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>{body}</Stmt></BkToCstmrStmt></Document>"
            ).encode()
