"""Payment webhooks: verify, store the event id once, then act on the payment's current state.

Stripe delivers events at least once and in any order. So each event id is stored under
a unique constraint (a replay finds it and changes nothing), and the handlers never
trust the event's snapshot of a payment: they ask the gateway for the PaymentIntent's
state now and apply that, which converges whatever order the events came in. What a
state means for a pledge is decided by the pledge services (``pledging``, ``refunds``);
this module only maps event types onto them.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import String, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import now as clock_now
from app.core.errors import StateConflict
from app.core.problems import problem
from app.core.types import UTCDateTime
from app.extensions import csrf, db
from app.payments.gateways import gateway as current_gateway
from app.payments.gateways.base import GatewayEvent, InvalidWebhook, PaymentGateway
from app.payments.models import Pledge
from app.payments.pledging import record_charge_result
from app.payments.queries import find_by_reference
from app.payments.refunds import record_gateway_refund

log = logging.getLogger(__name__)


class WebhookEvent(db.Model):
    """One provider event we received; its unique id is what makes a replay a no-op."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The gateway's name ("stripe").
    provider: Mapped[str] = mapped_column(String(20))
    #: The provider's event id (``evt_…``).
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100), index=True)
    #: The payment the event is about (a PaymentIntent id on Stripe).
    reference: Mapped[str] = mapped_column(String(255), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When a handler acted on it; NULL for types we do not act on, a payment no pledge
    #: knows, or a partial refund (those are logged for an operator).
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- Processing ---------------------------------------------------------------------------


def _unless_conflict(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a pledge service; a refusal with a conflict means "nothing to do" here.

    A pledge already past the state (paid twice, paid after a refund) is the normal result
    of replays and reordering, not an error that would make the provider retry.
    """
    try:
        return function(*args, **kwargs)
    except StateConflict as exc:
        log.info("webhook: %s changed nothing: %s", function.__name__, exc.detail)
        return None


def _pledge_by_id(pledge_id: int) -> Any:
    return db.session.get(Pledge, pledge_id)


def _pledge_for(event: GatewayEvent) -> Any:
    """The pledge the payment belongs to, by its reference, else by the ``pledge_id`` we put in its metadata.

    The fallback closes the gap PITFALLS describes: a worker killed after Stripe charged
    and before the pledge stored the PaymentIntent id.
    """
    pledge = find_by_reference(event.reference)
    if pledge is not None:
        return pledge
    pledge_id = str((event.data.get("metadata") or {}).get("pledge_id") or "")
    if pledge_id.isdigit():
        pledge = _pledge_by_id(int(pledge_id))
        if pledge is not None and pledge.gateway_reference in (None, event.reference):
            return pledge
    return None


def settle_payment(event: GatewayEvent, gateway: PaymentGateway, now: datetime) -> bool:
    """Apply the payment's state as the gateway reports it now, not as the event says it was."""
    pledge = _pledge_for(event)
    if pledge is None:
        return False
    _unless_conflict(record_charge_result, pledge, gateway.retrieve(event.reference), now=now)
    return True


def record_refund(event: GatewayEvent, gateway: PaymentGateway, now: datetime) -> bool:
    """The charge was refunded: by us (our commit may not have landed yet) or in the Stripe dashboard.

    The payment's own state is applied first, so a refund that overtook its
    ``payment_intent.succeeded`` still ends paid → refunded. We never refund part of a
    pledge, so a partial refund is left to an operator.
    """
    pledge = _pledge_for(event)
    if pledge is None:
        return False
    if pledge.status == "refunded":
        return True
    amount_refunded = int(event.data.get("amount_refunded") or 0)
    if amount_refunded < pledge.amount:
        log.warning("webhook: %s refunds %s of pledge %s's %s: left for an operator", event.id, amount_refunded,
                    pledge.id, pledge.amount)
        return False
    _unless_conflict(record_charge_result, pledge, gateway.retrieve(event.reference), now=now)
    _unless_conflict(record_gateway_refund, pledge, amount_refunded=amount_refunded, now=now)
    return True


Handler = Callable[[GatewayEvent, PaymentGateway, datetime], bool]

#: The event types we act on; any other verified event is stored and left alone.
HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": settle_payment,
    "payment_intent.payment_failed": settle_payment,
    "payment_intent.canceled": settle_payment,
    "payment_intent.processing": settle_payment,
    "charge.refunded": record_refund,
}


def process_event(event: GatewayEvent, *, gateway: PaymentGateway, now: datetime) -> bool:
    """Store a verified event and act on it once. False if it was a replay (nothing changed).

    Flushes, never commits: the caller's commit keeps the event row and the pledge's
    change together, and a failure rolls both back so the provider's retry redoes both.
    """
    record = WebhookEvent(provider=gateway.name, event_id=event.id, type=event.type,
                          reference=event.reference, received_at=now)
    try:
        # A concurrent delivery of the same event waits here on the unique key, then fails.
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        log.info("webhook: %s %s already received", gateway.name, event.id)
        return False
    handler = HANDLERS.get(event.type)
    if handler is not None:
        if handler(event, gateway, now):
            record.processed_at = now
        else:
            log.warning("webhook: %s %s about %s left unprocessed (no such pledge, or a partial refund)",
                        event.type, event.id, event.reference)
    db.session.flush()
    return True


# -- The endpoint -----------------------------------------------------------------------

bp = Blueprint("payments_webhooks", __name__)
csrf.exempt(bp)


@bp.post("/payments/webhooks/stripe")
def stripe_webhook():
    """Stripe's endpoint: 400 unless the signature verifies over the raw body; 200 once stored."""
    gateway = current_gateway()
    try:
        event = gateway.parse_webhook(request.get_data(), request.headers.get("Stripe-Signature"))
    except InvalidWebhook as exc:
        log.warning("webhook: refused: %s", exc)
        return problem(400, "Invalid webhook", "The webhook signature or payload did not verify.")
    fresh = process_event(event, gateway=gateway, now=clock_now())
    db.session.commit()
    return jsonify(received=event.id, duplicate=not fresh)
