"""The operator's start page: every queue with its count, each a link to the queue."""

from datetime import timedelta

import pytest

from app.complaints.models import Complaint
from app.extensions import db
from tests.factories import NOW, CampaignFactory, UserFactory


@pytest.fixture
def frozen(app):
    app.config["CLOCK"] = lambda: NOW
    yield
    app.config.pop("CLOCK", None)


def test_the_operator_sees_each_queue_with_its_count(client, auth, frozen):
    CampaignFactory(status="submitted")
    CampaignFactory(status="submitted")
    complainant = UserFactory(roles=["investor"])
    for days, reference in ((40, "C-2026-00001"), (1, "C-2026-00002")):
        db.session.add(Complaint(complainant_id=complainant.id, subject="Late refund", body="Still waiting for it.",
                                 status="received", received_at=NOW - timedelta(days=days),
                                 respond_by=NOW - timedelta(days=days) + timedelta(days=30), reference=reference))
    db.session.commit()
    UserFactory(email="op@example.org", roles=["operator"])
    response = auth.login("op@example.org")
    assert response.headers["Location"] == "/operator/"
    page = client.get("/operator/").get_data(as_text=True)
    assert 'href="/campaigns/review">Campaigns to review</a></header>\n    <p><strong class="figure">2</strong>' in page
    assert "1 overdue" in page and "/complaints/?status=received" in page


def test_no_one_else_sees_it(client, auth):
    UserFactory(email="inv@example.org", roles=["investor"])
    auth.login("inv@example.org")
    assert client.get("/operator/").status_code == 403
