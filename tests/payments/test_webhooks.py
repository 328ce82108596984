"""The Stripe webhook endpoint: signatures, once-only processing, and any order of events.

The first half scripts the pledge services and the payment's state to pin the endpoint's
own rules; the second half runs the real pledge services on the sandbox gateway, with
events signed the way Stripe signs them.
"""

import itertools
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import stripe
from flask import Flask

from app.extensions import db
from app.payments import webhooks
from app.payments.gateways.base import ChargeResult, GatewayError
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.gateways.stripe import StripeGateway
from app.payments.models import Pledge, PledgeStatus
from app.payments.webhooks import WebhookEvent
from tests.factories import NOW
from tests.payments.stripe_fakes import TEST_WEBHOOK_SECRET, stripe_config

pytestmark = pytest.mark.stripe

URL = "/payments/webhooks/stripe"


def stripe_event(event_id: str, kind: str, obj: dict) -> dict:
    return {"id": event_id, "object": "event", "type": kind, "api_version": "2026-10-28.endive",
            "created": int(time.time()), "data": {"object": obj}}


def intent_event(event_id: str, kind: str, reference: str, *, pledge_id: int | None = None) -> dict:
    """What Stripe sends; the status in it is deliberately stale: handlers must not read it."""
    metadata = {"pledge_id": str(pledge_id)} if pledge_id else {}
    return stripe_event(event_id, kind, {"id": reference, "object": "payment_intent",
                                         "status": "requires_payment_method", "metadata": metadata})


def refund_event(event_id: str, reference: str, amount_refunded: int) -> dict:
    return stripe_event(event_id, "charge.refunded", {"id": "ch_" + reference, "object": "charge",
                                                      "payment_intent": reference, "amount_refunded": amount_refunded})


def deliver(client, event: dict, *, secret: str = TEST_WEBHOOK_SECRET):
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    return client.post(URL, data=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"})


def stored() -> list[WebhookEvent]:
    return list(db.session.scalars(db.select(WebhookEvent).order_by(WebhookEvent.id)))


def install(app: Flask, gateway) -> Iterator:
    previous = app.extensions.get("gateway")
    app.extensions["gateway"] = gateway
    try:
        yield gateway
    finally:
        if previous is None:
            app.extensions.pop("gateway", None)
        else:
            app.extensions["gateway"] = previous


# -- The endpoint's rules, with scripted services ------------------------------------------------


class ScriptedStripe(StripeGateway):
    """Stripe's real signature check; the payments' current state is set by the test."""

    def __init__(self) -> None:
        super().__init__(stripe.StripeClient("sk_test_unused"), webhook_secret=TEST_WEBHOOK_SECRET)
        self.states: dict[str, ChargeResult | Exception] = {}

    def retrieve(self, reference: str) -> ChargeResult:
        state = self.states[reference]
        if isinstance(state, Exception):
            raise state
        return state


class FakeServices:
    """The pledge services' contract as the webhooks use it, with their transition table."""

    def __init__(self, *pledges: SimpleNamespace) -> None:
        self.pledges = {p.gateway_reference: p for p in pledges}
        self.calls: list[tuple] = []

    def find_by_reference(self, reference: str):
        return self.pledges.get(reference)

    def record_charge_result(self, pledge, result: ChargeResult, *, now):
        self.calls.append(("record_charge_result", pledge.id, result.status))
        if pledge.status == "pending_payment" and result.status in ("succeeded", "failed"):
            pledge.status = "paid" if result.status == "succeeded" else "failed"
        return pledge

    def record_gateway_refund(self, pledge, *, amount_refunded: int, now):
        self.calls.append(("record_gateway_refund", pledge.id, amount_refunded))
        if pledge.status in ("paid", "revoked"):
            pledge.status = "refunded"
        return pledge


def pending(pledge_id: int = 1, reference: str = "pi_1", amount: int = 2500) -> SimpleNamespace:
    return SimpleNamespace(id=pledge_id, amount=amount, status="pending_payment", gateway_reference=reference)


@pytest.fixture
def scripted(app: Flask, sandbox) -> Iterator[ScriptedStripe]:
    yield from install(app, ScriptedStripe())


@pytest.fixture
def services(monkeypatch) -> FakeServices:
    fake = FakeServices(pending())
    for name in ("find_by_reference", "record_charge_result", "record_gateway_refund"):
        monkeypatch.setattr(webhooks, name, getattr(fake, name))
    return fake


@pytest.mark.parametrize("secret", ["whsec_someone_else", None])
def test_a_bad_or_missing_signature_is_400_and_stores_nothing(client, scripted, services, secret):
    event = intent_event("evt_1", "payment_intent.succeeded", "pi_1")
    if secret:
        response = deliver(client, event, secret=secret)
    else:
        response = client.post(URL, data=json.dumps(event), headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Invalid webhook"
    assert stored() == []
    assert services.calls == []


def test_the_webhook_needs_no_csrf_token_or_session(app, scripted, services):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    scripted.states["pi_1"] = ChargeResult("succeeded", "pi_1")
    response = deliver(app.test_client(), intent_event("evt_1", "payment_intent.succeeded", "pi_1"))

    assert response.status_code == 200


def test_the_same_event_twice_is_processed_once(client, scripted, services):
    scripted.states["pi_1"] = ChargeResult("succeeded", "pi_1")
    event = intent_event("evt_1", "payment_intent.succeeded", "pi_1")

    first = deliver(client, event)
    replay = deliver(client, event)

    assert first.get_json() == {"received": "evt_1", "duplicate": False}
    assert replay.status_code == 200
    assert replay.get_json() == {"received": "evt_1", "duplicate": True}
    assert services.calls == [("record_charge_result", 1, "succeeded")]
    (row,) = stored()
    assert (row.provider, row.event_id, row.type, row.reference) == ("stripe", "evt_1", "payment_intent.succeeded",
                                                                      "pi_1")
    assert row.received_at == row.processed_at == NOW


EVENTS = [
    intent_event("evt_failed", "payment_intent.payment_failed", "pi_1"),  # an earlier attempt's decline
    intent_event("evt_succeeded", "payment_intent.succeeded", "pi_1"),
    refund_event("evt_refunded", "pi_1", 2500),
]


@pytest.mark.parametrize("order", list(itertools.permutations(EVENTS)), ids=lambda order: "-".join(
    e["id"].removeprefix("evt_") for e in order))
def test_events_in_any_order_end_in_the_same_state(client, scripted, services, order):
    scripted.states["pi_1"] = ChargeResult("succeeded", "pi_1")  # what Stripe says now, whatever the events say

    for event in order:
        assert deliver(client, event).status_code == 200
    for event in order:  # and Stripe's retries of all of them
        assert deliver(client, event).get_json()["duplicate"] is True

    assert services.pledges["pi_1"].status == "refunded"
    assert [row.processed_at is not None for row in stored()] == [True, True, True]


def test_a_decline_after_the_payment_succeeded_does_not_fail_the_pledge(client, scripted, services):
    scripted.states["pi_1"] = ChargeResult("succeeded", "pi_1")
    deliver(client, intent_event("evt_2", "payment_intent.succeeded", "pi_1"))
    deliver(client, intent_event("evt_1", "payment_intent.payment_failed", "pi_1"))

    assert services.pledges["pi_1"].status == "paid"


def test_a_payment_still_awaiting_3d_secure_is_left_pending(client, scripted, services):
    scripted.states["pi_1"] = ChargeResult("requires_action", "pi_1")
    deliver(client, intent_event("evt_1", "payment_intent.processing", "pi_1"))

    assert services.pledges["pi_1"].status == "pending_payment"


def test_events_we_do_not_act_on_are_stored_unprocessed(client, scripted, services):
    response = deliver(client, stripe_event("evt_1", "customer.created", {"id": "cus_1", "object": "customer"}))

    assert response.status_code == 200
    (row,) = stored()
    assert row.type == "customer.created" and row.processed_at is None
    assert services.calls == []


def test_an_event_for_a_payment_no_pledge_knows_is_kept_unprocessed(client, scripted, services):
    scripted.states["pi_other"] = ChargeResult("succeeded", "pi_other")
    response = deliver(client, intent_event("evt_1", "payment_intent.succeeded", "pi_other"))

    assert response.status_code == 200
    assert stored()[0].processed_at is None
    assert services.calls == []


def test_a_pledge_that_never_stored_its_reference_is_found_by_its_metadata(client, scripted, services,
                                                                           monkeypatch):
    lost = SimpleNamespace(id=7, amount=2500, status="pending_payment", gateway_reference=None)
    monkeypatch.setattr(webhooks, "_pledge_by_id", lambda pledge_id: lost if pledge_id == 7 else None)
    scripted.states["pi_7"] = ChargeResult("succeeded", "pi_7")

    deliver(client, intent_event("evt_1", "payment_intent.succeeded", "pi_7", pledge_id=7))

    assert lost.status == "paid"
    assert services.calls == [("record_charge_result", 7, "succeeded")]


def test_metadata_never_points_a_payment_at_a_pledge_with_another_reference(client, scripted, services,
                                                                            monkeypatch):
    other = SimpleNamespace(id=7, amount=2500, status="pending_payment", gateway_reference="pi_real")
    monkeypatch.setattr(webhooks, "_pledge_by_id", lambda pledge_id: other)
    scripted.states["pi_7"] = ChargeResult("succeeded", "pi_7")

    deliver(client, intent_event("evt_1", "payment_intent.succeeded", "pi_7", pledge_id=7))

    assert other.status == "pending_payment"
    assert stored()[0].processed_at is None


def test_a_partial_refund_is_left_for_an_operator(client, scripted, services):
    scripted.states["pi_1"] = ChargeResult("succeeded", "pi_1")
    deliver(client, intent_event("evt_1", "payment_intent.succeeded", "pi_1"))
    deliver(client, refund_event("evt_2", "pi_1", 1000))

    assert services.pledges["pi_1"].status == "paid"
    assert [row.processed_at is not None for row in stored()] == [True, False]


def test_a_failure_while_processing_stores_nothing_so_the_retry_processes_it(client, scripted, services):
    event = intent_event("evt_1", "payment_intent.succeeded", "pi_1")
    scripted.states["pi_1"] = GatewayError("Stripe is down")

    assert deliver(client, event).status_code == 500
    assert stored() == []

    scripted.states["pi_1"] = ChargeResult("succeeded", "pi_1")
    retry = deliver(client, event)
    assert retry.get_json() == {"received": "evt_1", "duplicate": False}
    assert services.pledges["pi_1"].status == "paid"


def _signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event)
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, TEST_WEBHOOK_SECRET)


# -- With the real pledge services, on the sandbox ------------------------------------------------


class SignedSandbox(SandboxGateway):
    """The sandbox's payments, with webhooks verified the way the Stripe gateway verifies them."""

    def __init__(self) -> None:
        super().__init__()
        self._parser = StripeGateway.from_config(stripe_config("http://127.0.0.1:9"))

    def parse_webhook(self, payload: bytes, signature: str | None):
        return self._parser.parse_webhook(payload, signature)


@pytest.fixture
def signed_sandbox(app: Flask, sandbox) -> Iterator[SignedSandbox]:
    yield from install(app, SignedSandbox())


AUTH_CARD = {"amount": 500_00, "payment_method": "pm_card_authenticationRequired"}


def _awaiting_3d_secure(investor, campaign, pledge_api) -> Pledge:
    response = pledge_api(investor, campaign, AUTH_CARD)
    assert response.status_code in (201, 202), response.get_json()
    pledge = db.session.get(Pledge, response.get_json()["id"])
    assert pledge.status == PledgeStatus.PENDING_PAYMENT and pledge.gateway_reference
    return pledge


def test_a_3d_secure_pledge_is_paid_by_its_webhook_in_any_order(client, investor, campaign, pledge_api,
                                                                 signed_sandbox):
    pledge = _awaiting_3d_secure(investor, campaign, pledge_api)
    reference = pledge.gateway_reference
    signed_sandbox.confirm(reference=reference, idempotency_key="the-bank-page")  # the investor authenticated

    for event in (intent_event("evt_stale_decline", "payment_intent.payment_failed", reference),
                  intent_event("evt_paid", "payment_intent.succeeded", reference),
                  intent_event("evt_paid", "payment_intent.succeeded", reference)):
        assert deliver(client, event).status_code == 200

    db.session.expire_all()
    pledge = db.session.get(Pledge, pledge.id)
    assert pledge.status == PledgeStatus.PAID
    assert pledge.campaign.raised_amount == 500_00 and pledge.campaign.reserved_amount == 0
    assert [row.event_id for row in stored()] == ["evt_stale_decline", "evt_paid"]
    assert signed_sandbox.charges_made == 1


def test_a_charge_the_pledge_never_recorded_is_closed_by_its_webhook(client, investor, campaign, pledge_api,
                                                                      signed_sandbox):
    pledge = _awaiting_3d_secure(investor, campaign, pledge_api)
    reference = pledge.gateway_reference
    # As if the worker died between Stripe's answer and our commit.
    db.session.execute(db.update(Pledge).where(Pledge.id == pledge.id).values(gateway_reference=None))
    db.session.commit()
    signed_sandbox.confirm(reference=reference, idempotency_key="the-bank-page")

    deliver(client, intent_event("evt_paid", "payment_intent.succeeded", reference, pledge_id=pledge.id))

    db.session.expire_all()
    pledge = db.session.get(Pledge, pledge.id)
    assert pledge.status == PledgeStatus.PAID and pledge.gateway_reference == reference


def test_the_refund_event_for_a_pledge_we_refunded_changes_nothing(client, investor, campaign, pledge_api,
                                                                   signed_sandbox):
    from app.payments import services

    response = pledge_api(investor, campaign, {"amount": 500_00, "payment_method": "pm_card_visa"})
    pledge = services.revoke_pledge(response.get_json()["id"], investor, now=NOW)
    assert pledge.status == PledgeStatus.REFUNDED

    event = refund_event("evt_refunded", pledge.gateway_reference, 500_00)
    assert deliver(client, event).status_code == 200

    db.session.expire_all()
    assert db.session.get(Pledge, pledge.id).status == PledgeStatus.REFUNDED
    assert signed_sandbox.refunds_made == 1
    assert stored()[0].processed_at is not None
