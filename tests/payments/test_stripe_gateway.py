"""The Stripe gateway driving the real SDK: against localstripe for payments, refunds and
signed webhooks, and against a loopback fake for Connect accounts, transfers and the
Stripe answers localstripe does not imitate. Then one contract, run over both gateways."""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import stripe
from flask import Flask

from app.extensions import db
from app.payments import webhooks
from app.payments.gateways.base import ChargeResult, GatewayError, InvalidWebhook, PaymentGateway
from app.payments.gateways.sandbox import SandboxGateway
from app.payments.gateways.stripe import StripeGateway
from app.payments.webhooks import WebhookEvent
from config import Config
from tests.payments import stripe_fakes
from tests.payments.stripe_fakes import (
    TEST_WEBHOOK_SECRET,
    ConnectFake,
    LocalStripe,
    StripeProxy,
    free_port,
    stripe_config,
)

pytestmark = pytest.mark.stripe

# The fakes' fixtures, used by the tests below.
localstripe = stripe_fakes.localstripe
webhook_receiver = stripe_fakes.webhook_receiver
connect_fake = stripe_fakes.connect_fake
stripe_proxy = stripe_fakes.stripe_proxy

VISA = "4242424242424242"
DECLINED = "4000000000000341"  # localstripe lets 4000000000000002 succeed when charged
THREE_D_SECURE = "4000002760003184"
RETURN_URL = "https://greenround.test/pledges/1/confirm"


@pytest.fixture
def gateway(stripe_proxy: StripeProxy) -> StripeGateway:
    """The real SDK, pointed at localstripe through the test adapter."""
    return StripeGateway.from_config(stripe_config(stripe_proxy.url))


@pytest.fixture
def connect_gateway(connect_fake: ConnectFake) -> StripeGateway:
    """The real SDK, pointed straight at the Connect fake (no localstripe needed)."""
    return StripeGateway.from_config(stripe_config(connect_fake.url))


def charge(gateway: PaymentGateway, payment_method: str, key: str = "pledge-1-charge", amount: int = 2500):
    return gateway.charge(amount=amount, currency="EUR", payment_method=payment_method, idempotency_key=key,
                          metadata={"pledge_id": "1", "campaign_id": "9"}, return_url=RETURN_URL)


# -- PaymentIntents against localstripe -------------------------------------------------------


def test_a_card_is_charged_at_once_with_our_key_and_the_pinned_version(gateway, localstripe, stripe_proxy):
    result = charge(gateway, localstripe.card(VISA))

    assert result.status == "succeeded"
    assert result.reference.startswith("pi_")
    assert gateway.retrieve(result.reference).status == "succeeded"
    (sent,) = stripe_proxy.requests("POST", "/v1/payment_intents")
    assert sent.headers["idempotency-key"] == "pledge-1-charge"
    assert sent.headers["stripe-version"] == Config.STRIPE_API_VERSION
    assert sent.params["amount"] == "2500"
    assert sent.params["currency"] == "eur"
    assert sent.params["capture_method"] == "automatic"
    assert sent.params["confirm"] == "true"
    assert sent.params["return_url"] == RETURN_URL
    assert sent.params["metadata"] == {"pledge_id": "1", "campaign_id": "9"}


def test_a_retry_with_the_same_key_returns_the_first_payment(gateway, localstripe, stripe_proxy):
    method = localstripe.card(VISA)
    first = charge(gateway, method, key="pledge-2-charge")
    again = charge(gateway, method, key="pledge-2-charge")

    assert again == first
    assert stripe_proxy.idempotency.replays == 1
    assert len([s for s in stripe_proxy.forwarded if s.path == "/v1/payment_intents"]) == 1


def test_a_declined_card_is_a_failed_charge_not_an_error(gateway, localstripe):
    result = charge(gateway, localstripe.card(DECLINED))

    assert result.status == "failed"
    assert result.failure_code == "card_declined"
    assert result.failure_message == "Your card was declined."


def test_an_unknown_payment_method_is_a_failed_charge(gateway, localstripe):
    result = charge(gateway, "pm_does_not_exist")

    assert result.status == "failed"
    assert result.failure_code == "invalid_request"


def test_3d_secure_requires_action_until_the_investor_authenticates(gateway, localstripe):
    result = charge(gateway, localstripe.card(THREE_D_SECURE))
    assert result.status == "requires_action"

    still = gateway.confirm(reference=result.reference, idempotency_key="pledge-1-confirm")
    assert still.status == "requires_action"

    localstripe.authenticate(result.reference)
    confirmed = gateway.confirm(reference=result.reference, idempotency_key="pledge-1-confirm-2")
    assert confirmed == ChargeResult(status="succeeded", reference=result.reference)
    assert gateway.retrieve(result.reference).status == "succeeded"


def test_a_failed_3d_secure_is_a_failed_charge(gateway, localstripe):
    result = charge(gateway, localstripe.card(THREE_D_SECURE))
    localstripe.authenticate(result.reference, success=False)

    failed = gateway.confirm(reference=result.reference, idempotency_key="pledge-1-confirm")
    assert failed.status == "failed"
    assert failed.failure_code == "payment_intent_authentication_failure"


def test_a_refund_returns_a_succeeded_charge_and_replays_its_key(gateway, localstripe, stripe_proxy):
    paid = charge(gateway, localstripe.card(VISA), amount=5000)

    refund = gateway.refund(charge_reference=paid.reference, amount=5000, idempotency_key="pledge-1-refund",
                            metadata={"pledge_id": "1", "reason": "revoked"})
    again = gateway.refund(charge_reference=paid.reference, amount=5000, idempotency_key="pledge-1-refund",
                           metadata={"pledge_id": "1", "reason": "revoked"})

    assert refund.status == "succeeded"
    assert refund.reference.startswith("re_")
    assert again == refund
    (sent, _replayed) = stripe_proxy.requests("POST", "/v1/refunds")
    assert sent.params == {"payment_intent": paid.reference, "amount": "5000",
                           "metadata": {"pledge_id": "1", "reason": "revoked"}}
    assert sent.headers["idempotency-key"] == "pledge-1-refund"


def test_a_refund_stripe_refuses_is_a_failed_transfer(gateway, localstripe):
    declined = charge(gateway, localstripe.card(DECLINED))

    refund = gateway.refund(charge_reference=declined.reference, amount=2500, idempotency_key="pledge-1-refund",
                            metadata={})
    assert refund.status == "failed"
    assert refund.failure_message


def test_a_mandate_saves_the_card_for_off_session_collection(gateway, localstripe, stripe_proxy):
    reference = gateway.save_mandate(localstripe.card(VISA), idempotency_key="mandate-7-abc")
    assert reference is not None and reference.startswith("cus_") and "/pm_" in reference
    setup = stripe_proxy.requests("POST", "/v1/setup_intents")[0]
    assert setup.params["usage"] == "off_session" and setup.headers["idempotency-key"] == "mandate-7-abc-setup"
    result = gateway.charge(amount=1_000_00, currency="EUR", payment_method=reference,
                            idempotency_key="instalment-1-charge-mandate-2027-01-05", metadata={}, return_url="",
                            off_session=True)
    assert result.status == "succeeded"
    (sent,) = stripe_proxy.requests("POST", "/v1/payment_intents")
    assert sent.params["off_session"] in ("true", "True")
    assert sent.params["customer"] == reference.split("/")[0]


def test_a_mandate_stripe_refuses_saves_nothing(gateway, localstripe):
    assert gateway.save_mandate("pm_does_not_exist", idempotency_key="mandate-8-x") is None


def test_an_unreachable_stripe_raises_gateway_error():
    gateway = StripeGateway.from_config(stripe_config(f"http://127.0.0.1:{free_port()}"))

    with pytest.raises(GatewayError, match="APIConnectionError"):
        charge(gateway, "pm_card_visa")
    with pytest.raises(GatewayError):
        gateway.retrieve("pi_123")


def test_the_gateway_never_sets_the_global_api_key(gateway, localstripe):
    charge(gateway, localstripe.card(VISA))

    assert stripe.api_key is None


def test_the_gateway_refuses_to_start_without_a_secret_key():
    with pytest.raises(RuntimeError, match="STRIPE_SECRET_KEY"):
        StripeGateway.from_config(stripe_config("http://127.0.0.1:9", STRIPE_SECRET_KEY=None))


# -- Signed webhooks from localstripe, into our endpoint ------------------------------------------


@pytest.fixture
def app_gateway(app: Flask, gateway: StripeGateway) -> Iterator[StripeGateway]:
    previous = app.extensions.get("gateway")
    app.extensions["gateway"] = gateway
    try:
        yield gateway
    finally:
        if previous is None:
            app.extensions.pop("gateway", None)
        else:
            app.extensions["gateway"] = previous


def test_localstripe_signed_events_are_verified_and_processed_once(
    client, app_gateway, localstripe, webhook_receiver, monkeypatch
):
    pledge = SimpleNamespace(id=1, amount=2500, status="pending_payment", gateway_reference=None)
    calls: list[tuple[str, str]] = []

    def record_charge_result(p, result, *, now):
        calls.append((p.gateway_reference, result.status))
        p.status = "paid" if result.status == "succeeded" else p.status

    monkeypatch.setattr(webhooks, "find_by_reference",
                        lambda reference: pledge if reference == pledge.gateway_reference else None)
    monkeypatch.setattr(webhooks, "record_charge_result", record_charge_result)
    paid = charge(app_gateway, localstripe.card(VISA))
    pledge.gateway_reference = paid.reference

    delivery = webhook_receiver.wait_for("payment_intent.succeeded", paid.reference)
    headers = {"Stripe-Signature": delivery.signature, "Content-Type": "application/json"}
    first = client.post("/payments/webhooks/stripe", data=delivery.body, headers=headers)
    replay = client.post("/payments/webhooks/stripe", data=delivery.body, headers=headers)

    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"received": delivery.event["id"], "duplicate": False}
    assert replay.status_code == 200
    assert replay.get_json()["duplicate"] is True
    assert calls == [(paid.reference, "succeeded")]
    assert pledge.status == "paid"
    (stored,) = db.session.scalars(db.select(WebhookEvent)).all()
    assert (stored.event_id, stored.type, stored.reference) == (delivery.event["id"], "payment_intent.succeeded",
                                                                 paid.reference)
    assert stored.processed_at is not None


def test_a_localstripe_event_with_a_tampered_body_is_refused(client, app_gateway, localstripe, webhook_receiver):
    paid = charge(app_gateway, localstripe.card(VISA))
    delivery = webhook_receiver.wait_for("payment_intent.succeeded", paid.reference)

    tampered = delivery.body.replace(b'"amount": 2500', b'"amount": 1')
    response = client.post("/payments/webhooks/stripe", data=tampered,
                           headers={"Stripe-Signature": delivery.signature})

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)) == 0


# -- Connect against the loopback fake -------------------------------------------------------------


def test_an_owner_gets_an_express_account_once_per_key(connect_gateway, connect_fake):
    account = connect_gateway.create_connected_account(email="owner@example.com", country="ee",
                                                       idempotency_key="owner-7-account")
    again = connect_gateway.create_connected_account(email="owner@example.com", country="ee",
                                                     idempotency_key="owner-7-account")

    assert account == again
    assert account.startswith("acct_")
    assert list(connect_fake.accounts) == [account]
    sent = connect_fake.requests("POST", "/v1/accounts")[0]
    assert sent.headers["idempotency-key"] == "owner-7-account"
    assert sent.params == {"type": "express", "country": "EE", "email": "owner@example.com",
                           "capabilities": {"transfers": {"requested": "true"}}}


def test_a_payout_transfers_to_the_owner_with_the_campaign_as_transfer_group(connect_gateway, connect_fake):
    account = connect_gateway.create_connected_account(email="o@example.com", country="LV",
                                                       idempotency_key="owner-1-account")
    kwargs = dict(destination=account, amount=97_000_00, currency="EUR", transfer_group="campaign-42",
                  idempotency_key="payout-5", metadata={"campaign_id": "42", "payout_id": "5"})

    result = connect_gateway.payout(**kwargs)
    again = connect_gateway.payout(**kwargs)

    assert result.status == "succeeded"
    assert result.reference.startswith("tr_")
    assert again == result
    assert len(connect_fake.transfers) == 1
    sent = connect_fake.requests("POST", "/v1/transfers")
    assert [s.headers["idempotency-key"] for s in sent] == ["payout-5", "payout-5"]
    assert sent[0].params == {"amount": "9700000", "currency": "eur", "destination": account,
                              "transfer_group": "campaign-42", "metadata": {"campaign_id": "42", "payout_id": "5"}}


def test_the_same_payout_key_with_another_amount_is_an_error_not_a_second_transfer(connect_gateway, connect_fake):
    account = connect_gateway.create_connected_account(email="o@example.com", country="LV",
                                                       idempotency_key="owner-1-account")
    connect_gateway.payout(destination=account, amount=100, currency="EUR", transfer_group="campaign-1",
                           idempotency_key="payout-1", metadata={})

    with pytest.raises(GatewayError, match="IdempotencyError"):
        connect_gateway.payout(destination=account, amount=200, currency="EUR", transfer_group="campaign-1",
                               idempotency_key="payout-1", metadata={})
    assert len(connect_fake.transfers) == 1


def test_a_payout_stripe_refuses_is_a_failed_transfer(connect_gateway):
    result = connect_gateway.payout(destination="acct_unknown", amount=100, currency="EUR",
                                    transfer_group="campaign-1", idempotency_key="payout-2", metadata={})

    assert result.status == "failed"
    assert "No such destination" in result.failure_message


def test_a_server_error_is_retried_with_the_same_key(connect_fake):
    gateway = StripeGateway.from_config(stripe_config(connect_fake.url, STRIPE_MAX_NETWORK_RETRIES=1))
    account = gateway.create_connected_account(email="o@example.com", country="EE", idempotency_key="owner-1")
    connect_fake.reply("POST", "/v1/transfers", 500, {"error": {"type": "api_error", "message": "try again"}})

    result = gateway.payout(destination=account, amount=100, currency="EUR", transfer_group="campaign-1",
                            idempotency_key="payout-9", metadata={})

    assert result.status == "succeeded"
    assert [s.headers["idempotency-key"] for s in connect_fake.requests("POST", "/v1/transfers")] == [
        "payout-9", "payout-9"]


def test_an_outage_without_retries_left_raises_gateway_error(connect_gateway, connect_fake):
    connect_fake.reply("POST", "/v1/transfers", 503, {"error": {"type": "api_error", "message": "down"}})

    with pytest.raises(GatewayError, match="503"):
        connect_gateway.payout(destination="acct_1", amount=100, currency="EUR", transfer_group="campaign-1",
                               idempotency_key="payout-3", metadata={})


def test_a_wrong_api_key_raises_gateway_error(connect_fake):
    gateway = StripeGateway.from_config(stripe_config(connect_fake.url, STRIPE_SECRET_KEY="rk_wrong"))

    with pytest.raises(GatewayError, match="AuthenticationError"):
        gateway.create_connected_account(email="o@example.com", country="EE", idempotency_key="owner-1")


# -- Stripe answers localstripe does not give (canned by the fake) ----------------------------------


def test_requires_action_carries_stripe_s_redirect_url(connect_gateway, connect_fake):
    connect_fake.reply("POST", "/v1/payment_intents", 200, {
        "id": "pi_3ds", "object": "payment_intent", "status": "requires_action",
        "next_action": {"type": "redirect_to_url",
                        "redirect_to_url": {"url": "https://hooks.stripe.com/3d_secure/x", "return_url": RETURN_URL}},
    })

    result = charge(connect_gateway, "pm_card_authenticationRequired")

    assert result == ChargeResult(status="requires_action", reference="pi_3ds",
                                  next_action_url="https://hooks.stripe.com/3d_secure/x")


def test_a_stripe_decline_names_its_payment_intent_and_decline_code(connect_gateway, connect_fake):
    connect_fake.reply("POST", "/v1/payment_intents", 402, {"error": {
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_intent": {"id": "pi_declined", "object": "payment_intent", "status": "requires_payment_method"},
    }})

    result = charge(connect_gateway, "pm_card_chargeDeclinedInsufficientFunds")

    assert result == ChargeResult(status="failed", reference="pi_declined", failure_code="insufficient_funds",
                                  failure_message="Your card has insufficient funds.")


@pytest.mark.parametrize(("status", "expected"), [
    ("processing", "processing"),
    ("requires_capture", "processing"),
    ("requires_confirmation", "requires_action"),
    ("canceled", "failed"),
])
def test_other_payment_intent_states_map_onto_ours(connect_gateway, connect_fake, status, expected):
    connect_fake.reply("GET", "/v1/payment_intents/pi_x", 200, {"id": "pi_x", "object": "payment_intent",
                                                                "status": status})

    assert connect_gateway.retrieve("pi_x").status == expected


# -- parse_webhook (no server) -------------------------------------------------------------------


def signed(event: dict, *, secret: str = TEST_WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
    return body, header


def event(kind: str, obj: dict) -> dict:
    return {"id": "evt_1", "object": "event", "type": kind, "api_version": Config.STRIPE_API_VERSION,
            "created": int(time.time()), "data": {"object": obj}}


@pytest.fixture
def parser() -> StripeGateway:
    return StripeGateway.from_config(stripe_config("http://127.0.0.1:9"))


def test_a_signed_event_becomes_plain_values(parser):
    body, header = signed(event("payment_intent.succeeded", {
        "id": "pi_1", "object": "payment_intent", "status": "succeeded", "metadata": {"pledge_id": "7"},
        "latest_charge": {"id": "ch_1", "object": "charge"},
    }))

    parsed = parser.parse_webhook(body, header)

    assert (parsed.id, parsed.type, parsed.reference) == ("evt_1", "payment_intent.succeeded", "pi_1")
    assert parsed.data["metadata"] == {"pledge_id": "7"}
    assert type(parsed.data) is dict and type(parsed.data["latest_charge"]) is dict


def test_a_refund_event_is_about_the_charge_s_payment_intent(parser):
    body, header = signed(event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_9",
                                                     "amount": 2500, "amount_refunded": 2500}))

    parsed = parser.parse_webhook(body, header)

    assert parsed.reference == "pi_9"
    assert parsed.data["amount_refunded"] == 2500


def _bad_signature() -> tuple[bytes, str]:
    return signed(event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}),
                  secret="whsec_someone_else")


def _stale() -> tuple[bytes, str]:
    return signed(event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}),
                  at=int(time.time()) - 301)


def _tampered() -> tuple[bytes, str]:
    body, header = signed(event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}))
    return body.replace(b"pi_1", b"pi_2"), header


def _not_json() -> tuple[bytes, str]:
    body = b"\xff\xfe not json"
    return body, "t=1,v1=abc"


def _no_object() -> tuple[bytes, str]:
    return signed({"id": "evt_1", "object": "event", "type": "x"})


@pytest.mark.parametrize("make", [_bad_signature, _stale, _tampered, _not_json, _no_object,
                                  lambda: (b"{}", None), lambda: (b"{}", "")])
def test_an_event_that_does_not_verify_is_refused(parser, make: Callable[[], tuple[bytes, str | None]]):
    body, header = make()

    with pytest.raises(InvalidWebhook):
        parser.parse_webhook(body, header)


def test_no_webhook_verifies_without_a_secret():
    gateway = StripeGateway.from_config(stripe_config("http://127.0.0.1:9", STRIPE_WEBHOOK_SECRET=None))
    body, header = signed(event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}))

    with pytest.raises(InvalidWebhook, match="STRIPE_WEBHOOK_SECRET"):
        gateway.parse_webhook(body, header)


# -- One contract, both gateways --------------------------------------------------------------


@dataclass
class Driver:
    """A gateway plus what a test needs to play the investor's side of it."""

    gateway: PaymentGateway
    cards: dict[str, str]  # "visa", "declined", "3ds" → a payment method id
    authenticate: Callable[[str], None]  # pass 3-D Secure for a PaymentIntent


@pytest.fixture(params=["sandbox", "stripe"])
def driver(request: pytest.FixtureRequest) -> Driver:
    if request.param == "sandbox":
        return Driver(SandboxGateway(), {"visa": "pm_card_visa", "declined": "pm_card_chargeDeclined",
                                         "3ds": "pm_card_authenticationRequired"}, lambda reference: None)
    server: LocalStripe = request.getfixturevalue("localstripe")
    proxy: StripeProxy = request.getfixturevalue("stripe_proxy")
    return Driver(StripeGateway.from_config(stripe_config(proxy.url)),
                  {"visa": server.card(VISA), "declined": server.card(DECLINED), "3ds": server.card(THREE_D_SECURE)},
                  server.authenticate)


def test_contract_a_good_card_is_charged_once_per_key(driver):
    first = charge(driver.gateway, driver.cards["visa"], key="pledge-11-charge")
    again = charge(driver.gateway, driver.cards["visa"], key="pledge-11-charge")

    assert first.status == "succeeded" and first.reference
    assert again == first
    assert driver.gateway.retrieve(first.reference).status == "succeeded"


def test_contract_a_declined_card_fails_with_a_code_and_a_message(driver):
    result = charge(driver.gateway, driver.cards["declined"], key="pledge-12-charge")

    assert result.status == "failed"
    assert result.failure_code == "card_declined"
    assert result.failure_message


def test_contract_3d_secure_then_confirm_succeeds(driver):
    pending = charge(driver.gateway, driver.cards["3ds"], key="pledge-13-charge")
    assert pending.status == "requires_action"

    driver.authenticate(pending.reference)
    confirmed = driver.gateway.confirm(reference=pending.reference, idempotency_key="pledge-13-confirm")

    assert confirmed.status == "succeeded"
    assert confirmed.reference == pending.reference
    assert driver.gateway.retrieve(pending.reference).status == "succeeded"


def test_contract_a_paid_charge_is_refunded_once_per_key(driver):
    paid = charge(driver.gateway, driver.cards["visa"], key="pledge-14-charge")
    refund = driver.gateway.refund(charge_reference=paid.reference, amount=2500, idempotency_key="pledge-14-refund",
                                   metadata={"pledge_id": "14"})
    again = driver.gateway.refund(charge_reference=paid.reference, amount=2500, idempotency_key="pledge-14-refund",
                                  metadata={"pledge_id": "14"})

    assert refund.status == "succeeded" and refund.reference
    assert again == refund


def test_contract_a_failed_charge_cannot_be_refunded(driver):
    declined = charge(driver.gateway, driver.cards["declined"], key="pledge-15-charge")

    refund = driver.gateway.refund(charge_reference=declined.reference, amount=2500,
                                   idempotency_key="pledge-15-refund", metadata={})

    assert refund.status == "failed"
    assert refund.failure_message


def test_contract_an_owner_is_paid_out_once_per_key(driver):
    account = driver.gateway.create_connected_account(email="o@example.com", country="EE",
                                                      idempotency_key="owner-3-account")
    assert account == driver.gateway.create_connected_account(email="o@example.com", country="EE",
                                                              idempotency_key="owner-3-account")
    kwargs = dict(destination=account, amount=10_000, currency="EUR", transfer_group="campaign-3",
                  idempotency_key="payout-3", metadata={"campaign_id": "3"})

    payout = driver.gateway.payout(**kwargs)

    assert payout.status == "succeeded" and payout.reference
    assert driver.gateway.payout(**kwargs) == payout


def test_contract_an_unsigned_webhook_is_refused(driver):
    body = json.dumps(event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})).encode()

    with pytest.raises(InvalidWebhook):
        driver.gateway.parse_webhook(body, None)


@pytest.mark.parametrize(("in_ci", "outcome"), [(True, pytest.fail.Exception), (False, pytest.skip.Exception)])
def test_a_missing_localstripe_fails_in_ci_and_skips_elsewhere(monkeypatch, in_ci, outcome):
    monkeypatch.setattr(stripe_fakes.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(stripe_fakes, "IN_CI", in_ci)

    with pytest.raises(outcome, match="localstripe is not installed"):
        stripe_fakes.require_localstripe()
