"""The pledge pages: the form on the campaign page, double clicks, consent, 3-D Secure,
"my pledges" with its revoke button, and the operator's ledger page."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.payments import ledger
from app.payments.models import Pledge
from tests.conftest import csrf_from
from tests.factories import NOW, CampaignFactory, UserFactory
from tests.payments.conftest import fresh, make_ready_investor

TOKEN_RE = re.compile(r'name="idempotency_token" type="hidden" value="([^"]+)"')


def pledge_form(client, campaign) -> dict:
    """The form's hidden fields as the campaign page rendered them."""
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'id="pledge"' in html, "no pledge section on the campaign page"
    return {"csrf_token": csrf_from(html), "idempotency_token": TOKEN_RE.search(html).group(1),
            "kiis_version": ""}


def submit(client, campaign, fields: dict, **data):
    return client.post(f"/payments/campaigns/{campaign.id}/pledge", data={**fields, **data})


def pledges() -> list[Pledge]:
    return list(db.session.scalars(select(Pledge).order_by(Pledge.id)))


def test_the_campaign_page_offers_investors_the_sandbox_cards(client, auth, investor, campaign):
    auth.login(investor.email)
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'action="/payments/campaigns/{campaign.id}/pledge"' in html
    assert 'value="pm_card_visa"' in html and 'value="pm_card_chargeDeclined"' in html
    assert 'name="acknowledge_risk"' not in html  # only when the limits engine asks


def test_visitors_and_owners_see_no_pledge_form(client, auth, campaign):
    assert 'id="pledge"' not in client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    owner = UserFactory(roles=["owner"])
    auth.login(owner.email)
    assert 'id="pledge"' not in client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)


def test_an_investor_not_ready_sees_the_missing_steps(client, auth, campaign):
    newcomer = UserFactory(roles=["investor"])
    auth.login(newcomer.email)
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Before your first pledge" in html and 'name="amount"' not in html


def test_pledging_in_the_browser_pays_and_shows_the_confirmation(client, auth, investor, campaign, sandbox):
    auth.login(investor.email)
    fields = pledge_form(client, campaign)
    response = submit(client, campaign, fields, amount="500", payment_method="pm_card_visa")
    assert response.status_code == 302
    (p,) = pledges()
    assert response.headers["Location"].endswith(f"/payments/pledges/{p.id}")
    assert (p.status, p.amount) == ("paid", 500_00)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "€500.00" in page and "2026-11-29 12:00 UTC" in page and "Revoke this pledge" in page


def test_a_double_click_pledges_once(client, auth, investor, campaign, sandbox):
    auth.login(investor.email)
    fields = pledge_form(client, campaign)
    first = submit(client, campaign, fields, amount="500", payment_method="pm_card_visa")
    second = submit(client, campaign, fields, amount="500", payment_method="pm_card_visa")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert len(pledges()) == 1 and sandbox.charges_made == 1
    assert fresh(campaign).backers_count == 1


def test_bad_amounts_are_shown_on_the_form(client, auth, investor, campaign):
    auth.login(investor.email)
    for amount in ("abc", "10.555", "0", "-5", "1" + "0" * 30):
        fields = pledge_form(client, campaign)
        response = submit(client, campaign, fields, amount=amount, payment_method="pm_card_visa")
        assert response.status_code == 422, amount
        assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert pledges() == []


def test_above_the_threshold_the_warning_and_an_unticked_consent_appear(client, auth, investor, campaign):
    auth.login(investor.email)
    fields = pledge_form(client, campaign)
    response = submit(client, campaign, fields, amount="6000", payment_method="pm_card_visa")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "includes the risk of losing the entirety of the money invested" in html
    checkbox = re.search(r'<input[^>]*name="acknowledge_risk"[^>]*>', html).group(0)
    assert "checked" not in checkbox
    new_token = TOKEN_RE.search(html).group(1)
    assert new_token != fields["idempotency_token"]
    again = submit(client, campaign, {**fields, "idempotency_token": new_token}, amount="6000",
                   payment_method="pm_card_visa", acknowledge_risk="y")
    assert again.status_code == 302
    assert [p.amount for p in pledges()] == [6_000_00]


def test_a_declined_card_is_shown_and_another_card_can_be_tried(client, auth, investor, campaign):
    auth.login(investor.email)
    fields = pledge_form(client, campaign)
    response = submit(client, campaign, fields, amount="500", payment_method="pm_card_chargeDeclined")
    assert response.status_code == 402
    html = response.get_data(as_text=True)
    assert "Your card was declined." in html
    retry = submit(client, campaign, {**fields, "idempotency_token": TOKEN_RE.search(html).group(1)},
                   amount="500", payment_method="pm_card_visa")
    assert retry.status_code == 302
    assert [p.status for p in pledges()] == ["failed", "paid"]


def test_3ds_confirmation_page_confirms_or_cancels(client, auth, investor, campaign, sandbox):
    auth.login(investor.email)
    fields = pledge_form(client, campaign)
    response = submit(client, campaign, fields, amount="500", payment_method="pm_card_authenticationRequired")
    (p,) = pledges()
    assert response.headers["Location"].endswith(f"/payments/pledges/{p.id}/authenticate")
    page = client.get(f"/payments/pledges/{p.id}/authenticate").get_data(as_text=True)
    assert "Confirm the payment" in page and "€500.00" in page
    done = client.post(f"/payments/pledges/{p.id}/authenticate", data={"csrf_token": csrf_from(page),
                                                                       "action": "confirm"})
    assert done.status_code == 302 and fresh(p).status == "paid" and sandbox.charges_made == 1

    fields = pledge_form(client, campaign)
    submit(client, campaign, fields, amount="500", payment_method="pm_card_authenticationRequired")
    second = pledges()[-1]
    page = client.get(f"/payments/pledges/{second.id}/authenticate").get_data(as_text=True)
    client.post(f"/payments/pledges/{second.id}/authenticate", data={"csrf_token": csrf_from(page),
                                                                    "action": "abort"})
    assert fresh(second).status == "failed"
    assert fresh(campaign).reserved_amount == 0


def test_another_investor_cannot_open_the_3ds_page(client, auth, investor, campaign):
    auth.login(investor.email)
    submit(client, campaign, pledge_form(client, campaign), amount="500",
           payment_method="pm_card_authenticationRequired")
    (p,) = pledges()
    auth.logout()
    other = make_ready_investor()
    auth.login(other.email)
    assert client.get(f"/payments/pledges/{p.id}/authenticate").status_code == 404
    assert client.get(f"/payments/pledges/{p.id}").status_code == 404


def test_my_pledges_shows_the_deadline_and_revokes_after_a_confirmation_page(client, auth, investor, campaign,
                                                                            sandbox, clock):
    auth.login(investor.email)
    submit(client, campaign, pledge_form(client, campaign), amount="500", payment_method="pm_card_visa")
    page = client.get("/payments/").get_data(as_text=True)
    (p,) = pledges()
    assert "until 2026-11-29 12:00 UTC" in page and f'href="/payments/pledges/{p.id}/revoke"' in page
    confirm = client.get(f"/payments/pledges/{p.id}/revoke").get_data(as_text=True)
    assert fresh(p).status == "paid" and sandbox.refunds_made == 0  # opening the page revokes nothing
    assert "Revoke your pledge of €500.00" in confirm and "back to the card you paid with" in confirm
    assert "Yes, revoke this pledge" in confirm and f'href="/payments/pledges/{p.id}"' in confirm
    response = client.post(f"/payments/pledges/{p.id}/revoke", data={"csrf_token": csrf_from(confirm)})
    assert response.status_code == 302
    assert fresh(p).status == "refunded" and sandbox.refunds_made == 1
    page = client.get("/payments/").get_data(as_text=True)
    assert "is on its way back to your card" in page and f'/payments/pledges/{p.id}/revoke"' not in page
    again = client.get(f"/payments/pledges/{p.id}/revoke", follow_redirects=True).get_data(as_text=True)
    assert "This pledge can no longer be revoked." in again and sandbox.refunds_made == 1


def test_nobody_opens_the_revoke_page_of_another_investors_pledge(client, auth, investor, campaign, clock):
    auth.login(investor.email)
    submit(client, campaign, pledge_form(client, campaign), amount="500", payment_method="pm_card_visa")
    (p,) = pledges()
    auth.logout()
    auth.login(UserFactory(roles=["investor"]).email)
    assert client.get(f"/payments/pledges/{p.id}/revoke").status_code == 404
    assert fresh(p).status == "paid"


def test_after_the_deadline_the_revoke_button_is_gone(client, auth, investor, campaign, clock):
    auth.login(investor.email)
    submit(client, campaign, pledge_form(client, campaign), amount="500", payment_method="pm_card_visa")
    (p,) = pledges()
    clock["now"] = NOW + timedelta(days=4, seconds=1)
    page = client.get("/payments/").get_data(as_text=True)
    assert f'/payments/pledges/{p.id}/revoke"' not in page
    response = client.post(f"/payments/pledges/{p.id}/revoke", data={"csrf_token": csrf_from(page)},
                           follow_redirects=True)
    assert "The reflection period ended" in response.get_data(as_text=True)
    assert fresh(p).status == "paid"


def test_the_operator_sees_the_escrow_and_its_entries(client, auth, investor, campaign):
    from app.payments import services

    services.create_pledge(investor, campaign.id, {"amount": 700_00, "payment_method": "pm_card_visa"}, now=NOW)
    operator = UserFactory(roles=["operator"])
    auth.login(operator.email)
    detail = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f"/payments/campaigns/{campaign.id}/ledger" in detail
    page = client.get(f"/payments/campaigns/{campaign.id}/ledger").get_data(as_text=True)
    assert '<strong id="escrow-balance">€700.00</strong>' in page
    assert f"campaign_escrow:campaign:{campaign.id}" in page and "gateway_clearing" in page
    assert ledger.escrow_balance(campaign.id) == 700_00


def test_investors_may_not_see_the_ledger_page(client, auth, investor, campaign):
    auth.login(investor.email)
    assert client.get(f"/payments/campaigns/{campaign.id}/ledger").status_code == 403


def test_the_nav_says_my_pledges_for_investors(client, auth, investor):
    auth.login(investor.email)
    assert "My pledges" in client.get("/").get_data(as_text=True)


def test_pledges_made_in_a_full_round_say_so(client, auth, investor):
    full = CampaignFactory(target_amount=1_000_00, max_amount=1_000_00, raised_amount=1_000_00)
    auth.login(investor.email)
    html = client.get(f"/campaigns/{full.id}").get_data(as_text=True)
    assert "This round is full." in html
    assert db.session.scalar(select(func.count(Pledge.id))) == 0
