"""Demo investors: a ready-to-invest citizen and a fund with its manager."""

from datetime import datetime

from app.accounts.models import User
from app.extensions import db
from app.investors import services
from app.investors.models import IdentityStatus

DEMO_FUND = "Itämeri Green Fund"


def seed_investors(users: dict[str, User], *, now: datetime) -> list[str]:
    """Make the demo investor ready to invest and attach the fund manager to the demo fund.

    :param users: demo users by the local part of their e-mail ("investor", "fund", "operator").
    Running it again changes nothing. Returns what it did, one line each.
    """
    done: list[str] = []
    j = services.current_jurisdiction()
    investor, fund_manager, operator = users.get("investor"), users.get("fund"), users.get("operator")
    if investor is not None and services.get_profile(investor) is None:
        services.save_profile(investor, {
            "legal_name": investor.name,
            "address": "Narva mnt 5, 10117 Tallinn",
            "country": investor.country,
            "currency": j.currency,
            "annual_income": 42_000_00 if j.currency == "EUR" else 2_400_000_00,
            "liquid_assets": 25_000_00 if j.currency == "EUR" else 1_500_000_00,
            "annual_commitments": 9_000_00 if j.currency == "EUR" else 500_000_00,
        }, now=now, jurisdiction=j)
        done.append(f"profile for {investor.email}")
    profile = services.get_profile(investor) if investor is not None else None
    if profile is not None and operator is not None and profile.identity_status != IdentityStatus.VERIFIED.value:
        services.decide_identity(investor.id, {"status": "verified"}, actor=operator, now=now)
        done.append(f"identity of {investor.email} verified")
    if investor is not None and services.valid_pass(investor, now) is None:
        answers = {q.id: q.correct_option_id for q in services.question_bank()}
        if answers and services.retake_after(investor, now) is None:
            services.submit_knowledge_test(investor, {"answers": answers}, now=now, jurisdiction=j)
            done.append(f"knowledge test passed by {investor.email}")
    if profile is not None and not services.loss_simulation(investor, now, j)["acknowledged"]:
        services.acknowledge_simulation(investor, {"acknowledge": True}, now=now, jurisdiction=j)
        done.append(f"loss simulation acknowledged by {investor.email}")
    if fund_manager is not None and services.fund_for(fund_manager) is None:
        services.attach_fund_manager(fund_manager, DEMO_FUND, country="FI", currency=j.currency, now=now,
                                     actor=operator)
        done.append(f"{fund_manager.email} manages {DEMO_FUND}")
    db.session.flush()
    return done
