"""The sandbox gateway: Stripe's test payment methods, idempotent by key, counted."""

import pytest

from app.payments.gateways.base import GatewayError, PaymentGateway
from app.payments.gateways.sandbox import SandboxGateway


def charge(gw: SandboxGateway, pm: str, key: str = "k1", amount: int = 1000):
    return gw.charge(amount=amount, currency="EUR", payment_method=pm, idempotency_key=key, metadata={},
                     return_url="http://localhost/back")


@pytest.mark.parametrize("pm", ["pm_card_visa", "pm_card_mastercard"])
def test_good_cards_succeed(pm):
    gw = SandboxGateway()
    result = charge(gw, pm)
    assert result.status == "succeeded" and result.reference.startswith("pi_sbx_")
    assert gw.charges_made == 1


@pytest.mark.parametrize("pm, code, message", [
    ("pm_card_chargeDeclined", "card_declined", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "Your card has insufficient funds."),
    ("pm_card_bogus", "unknown_payment_method", "unknown payment method"),
])
def test_declines_carry_stripes_codes_and_messages(pm, code, message):
    gw = SandboxGateway()
    result = charge(gw, pm)
    assert (result.status, result.failure_code, result.failure_message) == ("failed", code, message)
    assert gw.charges_made == 0


def test_a_retry_with_the_same_key_returns_the_first_result_and_charges_once():
    gw = SandboxGateway()
    assert charge(gw, "pm_card_visa") == charge(gw, "pm_card_visa")
    assert gw.charges_made == 1 and len(gw.calls) == 2


def test_authentication_required_then_confirm_succeeds_once():
    gw = SandboxGateway()
    first = charge(gw, "pm_card_authenticationRequired")
    assert first.status == "requires_action" and first.next_action_url == "http://localhost/back"
    assert gw.retrieve(first.reference).status == "requires_action"
    confirmed = gw.confirm(reference=first.reference, idempotency_key="c1")
    assert confirmed.status == "succeeded"
    assert gw.confirm(reference=first.reference, idempotency_key="c1") == confirmed
    assert gw.retrieve(first.reference).status == "succeeded"
    assert gw.charges_made == 1


def test_another_process_can_answer_for_a_reference_it_never_saw():
    reference = charge(SandboxGateway(), "pm_card_authenticationRequired").reference
    other = SandboxGateway()
    assert other.retrieve(reference).status == "requires_action"
    assert other.confirm(reference=reference, idempotency_key="c").status == "succeeded"


def test_refunds_are_idempotent_and_never_exceed_the_charge():
    gw = SandboxGateway()
    ref = charge(gw, "pm_card_visa").reference
    first = gw.refund(charge_reference=ref, amount=1000, idempotency_key="r1", metadata={})
    assert first.status == "succeeded"
    assert gw.refund(charge_reference=ref, amount=1000, idempotency_key="r1", metadata={}) == first
    assert gw.refund(charge_reference=ref, amount=1, idempotency_key="r2", metadata={}).status == "failed"
    assert gw.refunds_made == 1


def test_payouts_are_idempotent():
    gw = SandboxGateway()
    args = dict(destination="acct_1", amount=500, currency="EUR", transfer_group="campaign-1", metadata={})
    assert gw.payout(idempotency_key="p1", **args) == gw.payout(idempotency_key="p1", **args)
    assert gw.payouts_made == 1


def test_fail_next_simulates_an_unreachable_gateway_once():
    gw = SandboxGateway()
    gw.fail_next = GatewayError("timeout")
    with pytest.raises(GatewayError):
        charge(gw, "pm_card_visa")
    assert charge(gw, "pm_card_visa").status == "succeeded"


def test_the_sandbox_knows_its_cards_and_the_default_accepts_stripe_ids():
    gw = SandboxGateway()
    assert gw.supports_payment_method("pm_card_visa") and not gw.supports_payment_method("pm_card_bogus")
    assert PaymentGateway.supports_payment_method(gw, "pm_1Nxyz") and not PaymentGateway.supports_payment_method(
        gw, "card")
    assert ("pm_card_visa", "Visa 4242 4242 4242 4242 (succeeds)") in gw.payment_method_choices()
