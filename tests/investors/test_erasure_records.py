"""Erasure keeps the regulated records (ECSP Art. 26) and waits until no money is open."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.investors.models import KnowledgeTestAttempt
from app.loans.models import Loan
from app.payments import ledger
from app.payments.models import Pledge
from tests.factories import NOW, PASSWORD, CampaignFactory, UserFactory

ERASE = {"confirm": True, "password": PASSWORD}


@pytest.fixture
def person(api_token):
    user = UserFactory(email="inv@example.org", roles=["investor"])
    return user, api_token("inv@example.org")


def pledge(user, campaign, status: str) -> Pledge:
    row = Pledge(campaign_id=campaign.id, investor_id=user.id, amount=100_00, currency="EUR", status=status,
                 payment_method="pm_card_visa", created_at=NOW - timedelta(days=40), kiis_version=1,
                 paid_at=NOW - timedelta(days=40))
    db.session.add(row)
    return row


def open_wallet(user):
    ledger.post("repayment", [(ledger.gateway_clearing("EUR"), 5_00),
                              (ledger.investor_funds("EUR", user_id=user.id), -5_00)],
                now=NOW, idempotency_key=f"test-wallet-{user.id}")


def repaying_loan(user):
    campaign = CampaignFactory(status="repaying")
    pledge(user, campaign, "settled")
    db.session.add(Loan(campaign_id=campaign.id, principal=100_00, currency="EUR", interest_rate_bps=650,
                        term_months=12, repayment="annuity", status="active", starts_at=NOW - timedelta(days=30)))


def owned_loan(user):
    campaign = CampaignFactory(owner=user, status="repaying")
    db.session.add(Loan(campaign_id=campaign.id, principal=100_00, currency="EUR", interest_rate_bps=650,
                        term_months=12, repayment="annuity", status="overdue", starts_at=NOW - timedelta(days=30)))


@pytest.mark.parametrize(("make_open", "says"), [
    (owned_loan, "campaigns' loans are still being repaid"),
    (open_wallet, "Money is still in your wallet"),
    (lambda user: pledge(user, CampaignFactory(), "paid"), "still in a funding round"),
    (repaying_loan, "loans you hold are still repaying"),
])
def test_erasure_is_refused_while_money_is_open(client, person, make_open, says):
    user, headers = person
    make_open(user)
    db.session.commit()
    response = client.post("/api/v1/me/erasure", headers=headers, json=ERASE)
    assert response.status_code == 409 and says in response.get_json()["detail"]
    assert says in " ".join(response.get_json()["errors"]["account"])
    assert db.session.get(User, user.id).active


def test_the_page_says_why_erasure_waits(client, auth, person):
    user, _ = person
    open_wallet(user)
    db.session.commit()
    auth.login("inv@example.org")
    from tests.conftest import post_form

    response = post_form(client, "/investors/me/erase", {"confirm": "y", "password": PASSWORD})
    assert response.status_code == 409 and "Money is still in your wallet" in response.get_data(as_text=True)


def test_erasure_keeps_the_test_answers_and_says_so(client, person):
    user, headers = person
    db.session.add(KnowledgeTestAttempt(user_id=user.id, taken_at=NOW, score=9, pass_mark=8, question_count=10,
                                        passed=True, valid_until=NOW + timedelta(days=700), answers={"q1": "a"}))
    db.session.commit()
    response = client.post("/api/v1/me/erasure", headers=headers, json=ERASE)
    assert response.status_code == 200
    assert any("knowledge-test answers" in kept for kept in response.get_json()["kept"])
    db.session.expire_all()
    assert db.session.scalars(select(KnowledgeTestAttempt.answers)).one() == {"q1": "a"}
