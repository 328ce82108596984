"""The Stripe gateway: the official SDK behind our gateway contract.

Only this module imports ``stripe``; every answer leaves it as a ``ChargeResult``,
``TransferResult`` or ``GatewayEvent`` made of plain values. It uses its own
``StripeClient`` (never the global ``stripe.api_key``), a pinned API version, and the
caller's deterministic idempotency keys, so a retry after a crash or a timeout returns
Stripe's first answer instead of charging twice.
"""

from collections.abc import Mapping
from typing import Any

import stripe

from app.payments.gateways.base import (
    ChargeResult,
    GatewayError,
    GatewayEvent,
    InvalidWebhook,
    PaymentGateway,
    TransferResult,
)

#: Seconds a webhook signature stays valid (Stripe's own default).
WEBHOOK_TOLERANCE = 300

#: PaymentIntent states that end the attempt without money collected.
_FAILED_INTENT_STATES = {"requires_payment_method", "canceled"}


class StripeGateway(PaymentGateway):
    name = "stripe"

    def __init__(self, client: stripe.StripeClient, *, webhook_secret: str | None) -> None:
        self._client = client
        self._webhook_secret = webhook_secret

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "StripeGateway":
        """Build the gateway from the app's ``STRIPE_*`` settings; refuses to start without a secret key."""
        api_key = config.get("STRIPE_SECRET_KEY")
        if not api_key:
            raise RuntimeError("PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY")
        base = config.get("STRIPE_API_BASE")
        client = stripe.StripeClient(
            api_key,
            stripe_version=config["STRIPE_API_VERSION"],
            base_addresses={"api": base} if base else None,
            max_network_retries=config.get("STRIPE_MAX_NETWORK_RETRIES", 2),
            http_client=stripe.RequestsClient(timeout=config.get("STRIPE_TIMEOUT_SECONDS", 20)),
        )
        return cls(client, webhook_secret=config.get("STRIPE_WEBHOOK_SECRET"))

    # Charges

    def save_mandate(self, payment_method: str, *, idempotency_key: str) -> str | None:
        """A customer with the card attached through a confirmed off-session SetupIntent;
        the reference is ``<customer>/<payment method>``, what an off-session charge needs."""
        try:
            customer = self._client.v1.customers.create({"metadata": {"purpose": "repayment mandate"}},
                                                        {"idempotency_key": f"{idempotency_key}-customer"})
            created = self._client.v1.setup_intents.create(
                {"customer": customer.id, "usage": "off_session", "payment_method_types": ["card"]},
                {"idempotency_key": f"{idempotency_key}-setup"})
            intent = _plain(self._client.v1.setup_intents.confirm(
                created.id, {"payment_method": payment_method}, {"idempotency_key": f"{idempotency_key}-confirm"}))
        except (stripe.CardError, stripe.InvalidRequestError):
            return None
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        if intent.get("status") != "succeeded":
            return None
        return f"{customer.id}/{intent.get('payment_method') or payment_method}"

    def charge(self, *, amount: int, currency: str, payment_method: str, idempotency_key: str,
               metadata: dict[str, str], return_url: str, off_session: bool = False) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "capture_method": "automatic",
            "confirm": True,
            "metadata": metadata,
        }
        if off_session:
            customer, _, method = payment_method.rpartition("/")
            params |= {"payment_method": method, "off_session": True, "payment_method_types": ["card"]}
            if customer:
                params["customer"] = customer
        else:
            params["return_url"] = return_url
        try:
            intent = _plain(self._client.v1.payment_intents.create(params, {"idempotency_key": idempotency_key}))
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            return _declined(exc)
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        return _charge_result(intent)

    def confirm(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        """Report the state after 3-D Secure; confirm again only if Stripe still waits for it.

        With automatic confirmation Stripe finishes the payment itself once the investor
        authenticates, so usually this is a read. Only a card error is a failed charge;
        anything else (a PaymentIntent that changed state meanwhile) raises, and a retry
        reads the new state.
        """
        try:
            intent = _plain(self._client.v1.payment_intents.retrieve(reference))
            if intent["status"] == "requires_confirmation":
                intent = _plain(self._client.v1.payment_intents.confirm(
                    reference, options={"idempotency_key": idempotency_key}
                ))
        except stripe.CardError as exc:
            return _declined(exc, reference=reference)
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        return _charge_result(intent)

    def retrieve(self, reference: str) -> ChargeResult:
        """Read the PaymentIntent. Any error raises: a failed read must never look like a failed payment."""
        try:
            intent = _plain(self._client.v1.payment_intents.retrieve(reference))
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        return _charge_result(intent)

    # Money going out

    def refund(self, *, charge_reference: str, amount: int, idempotency_key: str,
               metadata: dict[str, str]) -> TransferResult:
        params = {"payment_intent": charge_reference, "amount": amount, "metadata": metadata}
        try:
            refund = _plain(self._client.v1.refunds.create(params, {"idempotency_key": idempotency_key}))
        except stripe.InvalidRequestError as exc:  # e.g. more than was charged, or a failed charge
            return _refused(exc)
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        status = refund.get("status")
        if status == "succeeded":
            return TransferResult(status="succeeded", reference=refund["id"])
        if status in {"failed", "canceled"}:
            return TransferResult(status="failed", reference=refund["id"],
                                  failure_message=refund.get("failure_reason") or status)
        return TransferResult(status="pending", reference=refund["id"])

    def payout(self, *, destination: str, amount: int, currency: str, transfer_group: str,
               idempotency_key: str, metadata: dict[str, str]) -> TransferResult:
        params = {
            "amount": amount,
            "currency": currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
            "metadata": metadata,
        }
        try:
            transfer = _plain(self._client.v1.transfers.create(params, {"idempotency_key": idempotency_key}))
        except stripe.InvalidRequestError as exc:  # e.g. balance_insufficient, an unusable destination
            return _refused(exc)
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        # A Transfer moves balance between Stripe accounts at once; it has no pending state.
        if transfer.get("reversed"):
            return TransferResult(status="failed", reference=transfer["id"], failure_message="reversed")
        return TransferResult(status="succeeded", reference=transfer["id"])

    def create_connected_account(self, *, email: str, country: str, idempotency_key: str) -> str:
        params = {
            "type": "express",
            "country": country.upper(),
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
        }
        try:
            account = _plain(self._client.v1.accounts.create(params, {"idempotency_key": idempotency_key}))
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        return account["id"]

    # Webhooks

    def parse_webhook(self, payload: bytes, signature: str | None) -> GatewayEvent:
        """Verify ``Stripe-Signature`` over the raw body, then reduce the event to plain values."""
        if not self._webhook_secret:
            raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set; no webhook can be verified")
        try:
            event = self._client.construct_event(payload, signature, self._webhook_secret,
                                                 tolerance=WEBHOOK_TOLERANCE)
            raw = _plain(event)
            data = raw["data"]["object"]
            return GatewayEvent(id=raw["id"], type=raw["type"], reference=_event_reference(data), data=data)
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook(str(exc)) from exc
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            # Undecodable bytes, bad JSON, or an event without the fields every event has.
            raise InvalidWebhook(f"Malformed webhook payload: {exc}") from exc


def _plain(obj: stripe.StripeObject) -> dict[str, Any]:
    """SDK objects are not dicts (a missing attribute raises): work on their data instead."""
    return obj.to_dict()


def _charge_result(intent: dict[str, Any]) -> ChargeResult:
    """Map a PaymentIntent's state onto ours."""
    status = intent["status"]
    if status == "succeeded":
        return ChargeResult(status="succeeded", reference=intent["id"])
    if status in {"requires_action", "requires_confirmation"}:
        return ChargeResult(status="requires_action", reference=intent["id"],
                            next_action_url=_redirect_url(intent.get("next_action")))
    if status in _FAILED_INTENT_STATES:
        error = intent.get("last_payment_error") or {}
        return ChargeResult(
            status="failed",
            reference=intent["id"],
            failure_code=error.get("decline_code") or error.get("code") or status,
            failure_message=error.get("message") or "The payment did not go through.",
        )
    # processing, and requires_capture (which automatic capture should never leave).
    return ChargeResult(status="processing", reference=intent["id"])


def _redirect_url(next_action: dict[str, Any] | None) -> str | None:
    if not next_action:
        return None
    redirect = next_action.get("redirect_to_url")
    return redirect.get("url") if redirect else None


def _declined(exc: stripe.CardError | stripe.InvalidRequestError, *, reference: str | None = None) -> ChargeResult:
    """A decline or a refused request is an answer, not an outage: nothing was charged.

    Card errors (402) and, when creating a charge, invalid requests (400/404: an unknown
    payment method, an amount Stripe will not take) become a failed charge.
    """
    error = _error_data(exc)
    intent = error.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return ChargeResult(
        status="failed",
        # Stripe names the PaymentIntent in the error; fall back to the charge when it does not.
        reference=reference or intent or error.get("charge") or "",
        failure_code=error.get("decline_code") or exc.code
        or ("card_declined" if isinstance(exc, stripe.CardError) else "invalid_request"),
        failure_message=error.get("message") or "The payment was refused.",
    )


def _refused(exc: stripe.InvalidRequestError) -> TransferResult:
    """Stripe refused a refund or transfer (400): a final answer, so not a ``GatewayError`` to retry."""
    return TransferResult(status="failed", reference="",
                          failure_message=f"{exc.code or 'invalid_request'}: {exc.user_message or exc}")


def _error_data(exc: stripe.StripeError) -> dict[str, Any]:
    """The ``error`` object of Stripe's answer, as a plain dict (empty without one)."""
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _gateway_error(exc: stripe.StripeError) -> GatewayError:
    return GatewayError(f"Stripe {type(exc).__name__} ({exc.http_status or 'no response'}): "
                        f"{exc.user_message or exc}")


def _event_reference(obj: dict[str, Any]) -> str:
    """The payment an event is about: the PaymentIntent itself, or the one a charge or refund belongs to."""
    if obj.get("object") == "payment_intent":
        return obj["id"]
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return intent or obj["id"]
