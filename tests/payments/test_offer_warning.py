"""The Art. 21(7) risk warning applies to an investor's total in one offer, not to each pledge."""

from sqlalchemy import func, select

from app.extensions import db
from app.payments.models import Pledge
from tests.factories import CampaignFactory
from tests.payments.conftest import make_ready_investor


def pledges() -> int:
    return db.session.scalar(select(func.count()).select_from(Pledge))


def test_splitting_a_pledge_does_not_avoid_the_risk_warning(pledge_api):
    """ECSP Art. 21(7): EUR 10,000 net worth puts the threshold at EUR 1,000 for the offer in total."""
    investor = make_ready_investor(net_worth=10_000_00)
    live = CampaignFactory()
    first = {"amount": 1_000_00, "payment_method": "pm_card_visa"}
    assert pledge_api(investor, live, first).status_code == 201
    second = pledge_api(investor, live, first)
    assert second.status_code == 422 and "acknowledge_risk" in second.get_json()["errors"]
    assert "earlier pledges" in second.get_json()["errors"]["acknowledge_risk"][0]
    assert pledges() == 1
    assert pledge_api(investor, live, first | {"acknowledge_risk": True}).status_code == 201
    assert pledge_api(investor, CampaignFactory(), first).status_code == 201  # another offer starts again
