"""The register of contracts (259-FZ Art. 11): every investment contract, in force or
terminated, with both parties, the offer version and the investor's risk acknowledgement;
regulators and operators only, every download audited."""

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.disclosures import contracts
from app.extensions import db
from app.investors.models import InvestorProfile
from tests.disclosures.conftest import make_pledge
from tests.factories import NOW, CampaignFactory, UserFactory

REGISTER = "/api/v1/disclosures/register-of-contracts.csv"
pytestmark = pytest.mark.usefixtures("frozen_clock")


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_every_paid_pledge_is_a_contract_with_both_parties(client, api_token, people):
    campaign = CampaignFactory(currency="RUB", min_pledge=1_000_00, owner_legal_form="company",
                               owner_legal_name="ООО «Невский свет»", owner_registration_country="RU",
                               owner_registration_number="7812345675", title="=HYPERLINK(\"x\")")
    investor = UserFactory(name="Ivan Petrov", country="RU", roles=["investor"])
    db.session.add(InvestorProfile(user_id=investor.id, legal_name="Иван Петров", country="RU", currency="RUB",
                                   classification="non_qualified", acknowledged_at=datetime(2026, 2, 1, 9, tzinfo=UTC),
                                   created_at=NOW, updated_at=NOW))
    kept = make_pledge(campaign, investor, 150_000_00, datetime(2026, 3, 1, 10, tzinfo=UTC))
    revoked = make_pledge(campaign, investor, 20_000_00, datetime(2026, 3, 2, 10, tzinfo=UTC), status="revoked")
    revoked.revoked_at = datetime(2026, 3, 3, 8, tzinfo=UTC)
    make_pledge(campaign, investor, 5_000_00, datetime(2026, 3, 4, 10, tzinfo=UTC), status="pending_payment",
                paid=False)  # no money received: no contract
    make_pledge(people["campaign"], investor, 100_00, datetime(2025, 12, 31, 23, tzinfo=UTC))
    db.session.commit()

    body = rows(client.get(f"{REGISTER}?from=2026-01-01", headers=api_token("regulator@example.org")))
    assert [r["record_no"] for r in body] == [str(kept.id), str(revoked.id)]
    first, second = body
    assert first == first | {
        "concluded_at": "2026-03-01T10:00:00Z", "contract": "loan agreement", "status": "in force",
        "investment_proposal": "'=HYPERLINK(\"x\")", "kiis_version": "1", "raiser_legal_form": "company",
        "raiser_name": "ООО «Невский свет»", "raiser_registration_country": "RU",
        "raiser_registration_number": "7812345675", "investor_id": str(investor.id), "investor_kind": "person",
        "investor_name": "Иван Петров", "investor_country": "RU", "risks_acknowledged_at": "2026-02-01T09:00:00Z",
        "amount": "150000.00", "currency": "RUB", "payment_method": "card", "terminated_at": ""}
    assert (second["status"], second["terminated_at"], second["termination"]) == (
        "terminated", "2026-03-03T08:00:00Z", "revoked by the investor")
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.subject_id == "register_of_contracts")).one()
    assert entry.details["params"] == {"from": "2026-01-01"}


def test_the_columns_are_the_header_of_an_empty_register(client, api_token, people):
    text = client.get(REGISTER, headers=api_token("regulator@example.org")).get_data(as_text=True)
    assert text.strip() == ",".join(contracts.COLUMNS)


@pytest.mark.parametrize("query", ["from=2026-13-01", "to=yesterday", "from=2026-05-01&to=2026-04-01",
                                   "from=%00"])
def test_a_bad_range_is_a_422_naming_the_field(client, api_token, people, query):
    response = client.get(f"{REGISTER}?{query}", headers=api_token("regulator@example.org"))
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", ["investor", "owner", "fund_manager"])
def test_only_regulators_and_operators_read_the_register(client, api_token, people, role):
    assert client.get(REGISTER, headers=api_token(f"{role}@example.org")).status_code == 403
    assert client.get(REGISTER).status_code == 401
    assert client.get(REGISTER, headers=api_token("operator@example.org")).status_code == 200


def test_the_disclosures_page_offers_the_register_and_names_a_bad_date(client, auth, people):
    auth.login("regulator@example.org")
    page = client.get("/disclosures/").get_data(as_text=True)
    assert "Register of contracts" in page and 'action="/disclosures/register-of-contracts.csv"' in page
    refused = client.get("/disclosures/register-of-contracts.csv?from=2026-02-30")
    assert refused.status_code == 422 and 'id="contracts-from-error"' in refused.get_data(as_text=True)
    assert client.get("/disclosures/register-of-contracts.csv").mimetype == "text/csv"
