"""Complaints (ECSP Art. 7): filed by anyone signed in, acknowledged with a reference and a
deadline, decided once by an operator, the register downloadable by regulators."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.complaints.models import Complaint
from app.core.audit import AuditEntry
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.payments.models import Pledge
from tests.conftest import post_form
from tests.factories import CampaignFactory, UserFactory

GOOD = {"subject": "My refund is late", "body": "The round failed a week ago and my card is not refunded yet."}


@pytest.fixture
def clock(app):
    moment = {"now": datetime(2027, 3, 1, 9, 0, tzinfo=UTC)}
    ttl = app.config["API_TOKEN_TTL"]
    app.config.update(CLOCK=lambda: moment["now"], API_TOKEN_TTL=timedelta(days=365))
    yield moment
    app.config.pop("CLOCK", None)
    app.config["API_TOKEN_TTL"] = ttl


@pytest.fixture
def people(clock, api_token):
    users = {role: UserFactory(email=f"{role}@example.org", roles=[role])
             for role in ("investor", "owner", "operator", "regulator")}
    users["other"] = UserFactory(email="other@example.org", roles=["investor"])
    return users, {name: api_token(user.email) for name, user in users.items()}


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Complaint))


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def pledge_of(user, campaign) -> Pledge:
    pledge = Pledge(campaign_id=campaign.id, investor_id=user.id, amount=100_00, currency="EUR", status="paid",
                    payment_method="pm_card_visa", created_at=campaign.opens_at, paid_at=campaign.opens_at,
                    kiis_version=1)
    db.session.add(pledge)
    db.session.commit()
    return pledge


def test_a_complaint_is_acknowledged_with_a_reference_and_a_deadline(client, people, clock):
    _, tokens = people
    response = client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "received" and body["reference"] == f"C-2027-{body['id']:05d}"
    assert body["received_at"].startswith("2027-03-01T09:00") and body["respond_by"].startswith("2027-03-31")
    assert body["overdue"] is False
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "complaint_received")).one()
    assert mail.to_address == "investor@example.org" and body["reference"] in mail.body and "2027-03-31" in mail.body
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "complaint.received")).all()


def test_a_complaint_about_a_campaign_or_ones_own_pledge(client, people):
    users, tokens = people
    campaign = CampaignFactory()
    pledge = pledge_of(users["investor"], campaign)
    about_campaign = client.post("/api/v1/complaints", headers=tokens["owner"],
                                 json=GOOD | {"campaign_id": campaign.id})
    assert about_campaign.status_code == 201 and about_campaign.get_json()["campaign_id"] == campaign.id
    about_pledge = client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD | {"pledge_id": pledge.id})
    assert about_pledge.status_code == 201
    assert about_pledge.get_json()["campaign_id"] == campaign.id and about_pledge.get_json()["pledge_id"] == pledge.id


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"subject", "body"}),
    ({"subject": "", "body": ""}, {"subject", "body"}),
    ({"subject": "x" * 201, "body": "short"}, {"subject", "body"}),
    (GOOD | {"campaign_id": "7"}, {"campaign_id"}),
    (GOOD | {"pledge_id": 0}, {"pledge_id"}),
    (GOOD | {"campaign_id": 2**64}, {"campaign_id"}),
])
def test_an_incomplete_complaint_is_a_422_naming_every_field_and_nothing_is_kept(client, people, body, fields):
    _, tokens = people
    assert set(problem(client.post("/api/v1/complaints", headers=tokens["investor"], json=body), 422)["errors"]) \
        == fields
    assert count() == 0


def test_a_complaint_about_another_users_pledge_or_an_unknown_campaign_is_a_404(client, people):
    users, tokens = people
    campaign = CampaignFactory()
    theirs = pledge_of(users["other"], campaign)
    problem(client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD | {"pledge_id": theirs.id}), 404)
    problem(client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD | {"campaign_id": 999_999}), 404)
    draft = CampaignFactory(status="draft")
    problem(client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD | {"campaign_id": draft.id}), 404)
    assert count() == 0


def test_a_complaint_needs_a_signed_in_user(client):
    problem(client.post("/api/v1/complaints", json=GOOD), 401)
    problem(client.get("/api/v1/complaints"), 401)


def test_complainants_read_their_own_and_staff_read_all(client, people):
    _, tokens = people
    mine = client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD).get_json()
    client.post("/api/v1/complaints", headers=tokens["other"], json=GOOD | {"subject": "Another one"})
    assert [c["id"] for c in client.get("/api/v1/complaints", headers=tokens["investor"]).get_json()["items"]] \
        == [mine["id"]]
    for staff in ("operator", "regulator"):
        assert client.get("/api/v1/complaints", headers=tokens[staff]).get_json()["total"] == 2
    problem(client.get(f"/api/v1/complaints/{mine['id']}", headers=tokens["other"]), 404)
    assert client.get(f"/api/v1/complaints/{mine['id']}", headers=tokens["regulator"]).status_code == 200
    problem(client.get("/api/v1/complaints?status=lost", headers=tokens["operator"]), 422)


def test_the_operators_queue_puts_overdue_complaints_first(client, people, clock):
    _, tokens = people
    old = client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD).get_json()
    clock["now"] += timedelta(days=40)
    new = client.post("/api/v1/complaints", headers=tokens["other"], json=GOOD).get_json()
    items = client.get("/api/v1/complaints", headers=tokens["operator"]).get_json()["items"]
    assert [(c["id"], c["overdue"]) for c in items] == [(old["id"], True), (new["id"], False)]


def test_the_operator_decides_once_and_the_complainant_is_told(client, people):
    _, tokens = people
    filed = client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD).get_json()
    answer = {"decision": "upheld", "response": "You are right; the refund went out today."}
    problem(client.post(f"/api/v1/complaints/{filed['id']}/respond", headers=tokens["investor"], json=answer), 403)
    problem(client.post(f"/api/v1/complaints/{filed['id']}/respond", headers=tokens["regulator"], json=answer), 403)
    refused = client.post(f"/api/v1/complaints/{filed['id']}/respond", headers=tokens["operator"],
                          json={"decision": "maybe", "response": ""})
    assert set(problem(refused, 422)["errors"]) == {"decision", "response"}
    decided = client.post(f"/api/v1/complaints/{filed['id']}/respond", headers=tokens["operator"], json=answer)
    assert decided.status_code == 200
    assert decided.get_json()["status"] == "resolved" and decided.get_json()["decision"] == "upheld"
    problem(client.post(f"/api/v1/complaints/{filed['id']}/respond", headers=tokens["operator"], json=answer), 409)
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "complaint_resolved")).one()
    assert mail.to_address == "investor@example.org" and "refund went out today" in mail.body
    problem(client.post("/api/v1/complaints/999999/respond", headers=tokens["operator"], json=answer), 404)


def test_an_operator_does_not_decide_their_own_complaint(client, people):
    _, tokens = people
    own = client.post("/api/v1/complaints", headers=tokens["operator"], json=GOOD).get_json()
    problem(client.post(f"/api/v1/complaints/{own['id']}/respond", headers=tokens["operator"],
                        json={"decision": "upheld", "response": "I agree with myself entirely."}), 403)
    assert db.session.get(Complaint, own["id"]).status == "received"


def test_the_register_is_a_csv_for_regulators_and_every_download_is_audited(client, people):
    _, tokens = people
    client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD | {"subject": "=HYPERLINK(\"x\")"})
    problem(client.get("/api/v1/disclosures/complaints.csv", headers=tokens["investor"]), 403)
    response = client.get("/api/v1/disclosures/complaints.csv", headers=tokens["regulator"])
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["reference", "received_at", "respond_by", "status"]
    assert rows[1][4] == "'=HYPERLINK(\"x\")"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "disclosure.downloaded", AuditEntry.subject_id == "complaints")) == 1


def test_the_pages_file_and_decide_a_complaint(app, client, auth, people):
    auth.login("investor@example.org")
    empty = post_form(client, "/complaints/new", {"subject": "", "body": ""})
    assert empty.status_code == 422
    page = empty.get_data(as_text=True)
    assert "Write a subject of 3 to 200 characters." in page and "Describe the complaint in 10" in page
    filed = post_form(client, "/complaints/new", GOOD)
    assert filed.status_code == 302
    complaint = db.session.scalars(select(Complaint)).one()
    assert complaint.reference in client.get(filed.headers["Location"]).get_data(as_text=True)
    assert complaint.reference in client.get("/complaints/").get_data(as_text=True)
    operator = app.test_client()
    post_form(operator, "/login", {"email": "operator@example.org", "password": "correct horse battery"})
    assert "1 waiting for a decision" in operator.get("/complaints/").get_data(as_text=True)
    decided = post_form(operator, f"/complaints/{complaint.id}", {"decision": "rejected",
                                                                   "response": "The refund was sent on time."})
    assert decided.status_code == 302
    assert "The refund was sent on time." in client.get(f"/complaints/{complaint.id}").get_data(as_text=True)
    stranger = app.test_client()
    post_form(stranger, "/login", {"email": "other@example.org", "password": "correct horse battery"})
    assert stranger.get(f"/complaints/{complaint.id}").status_code == 404
    assert post_form(client, f"/complaints/{complaint.id}", {"decision": "upheld", "response": "x" * 20},
                     page=f"/complaints/{complaint.id}").status_code == 403


def test_blanks_alone_are_no_complaint_and_no_answer(client, people):
    _, tokens = people
    blank = client.post("/api/v1/complaints", headers=tokens["investor"], json={"subject": "    ", "body": " " * 20})
    assert set(problem(blank, 422)["errors"]) == {"subject", "body"}
    filed = client.post("/api/v1/complaints", headers=tokens["investor"], json=GOOD).get_json()
    empty = client.post(f"/api/v1/complaints/{filed['id']}/respond", headers=tokens["operator"],
                        json={"decision": "upheld", "response": " " * 30})
    assert set(problem(empty, 422)["errors"]) == {"response"}
