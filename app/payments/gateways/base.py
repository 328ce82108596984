"""The payment gateway contract. ``sandbox.py`` and ``stripe.py`` implement it; nothing
outside this folder imports a provider SDK or sees a provider object.

Every money-moving call takes an ``idempotency_key`` derived from our own row id
(``pledge-<id>-charge``, ``pledge-<id>-refund``, ``payout-<id>``): a retry after a crash
or a timeout must return the first result and never move money twice.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

ChargeStatus = Literal["succeeded", "requires_action", "processing", "failed"]
TransferStatus = Literal["succeeded", "pending", "failed"]


class GatewayError(Exception):
    """The gateway could not be reached or answered unexpectedly; safe to retry with the same key."""


class InvalidWebhook(Exception):
    """A webhook whose signature or payload does not verify."""


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    #: The gateway's id for the payment (a PaymentIntent id on Stripe).
    reference: str
    failure_code: str | None = None
    failure_message: str | None = None
    #: Where the investor confirms the payment (3-D Secure) when status is requires_action.
    next_action_url: str | None = None


@dataclass(frozen=True)
class TransferResult:
    """A refund or a payout."""

    status: TransferStatus
    reference: str
    failure_message: str | None = None


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook, reduced to what the payments service needs."""

    id: str
    type: str  # e.g. "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"
    reference: str  # the PaymentIntent (or refund/transfer) id the event is about
    data: dict = field(default_factory=dict)


class PaymentGateway(ABC):
    name: str

    def supports_payment_method(self, payment_method: str) -> bool:
        """Whether ``payment_method`` can be charged at all, asked before any room is reserved.

        The default accepts anything shaped like a Stripe payment-method id; the sandbox
        accepts only the test cards it knows.
        """
        return payment_method.startswith("pm_") and 3 < len(payment_method) <= 100

    def payment_method_choices(self) -> list[tuple[str, str]]:
        """``(id, label)`` pairs an HTML form may offer (the sandbox's test cards); empty
        when the card is collected by the provider's own element instead."""
        return []

    @abstractmethod
    def charge(self, *, amount: int, currency: str, payment_method: str, idempotency_key: str,
               metadata: dict[str, str], return_url: str, off_session: bool = False) -> ChargeResult:
        """Collect ``amount`` minor units now (automatic capture). ``off_session``: the payer is
        not present (a mandate's collection), ``payment_method`` is a ``save_mandate`` reference
        and a payment that would need the payer's action fails instead."""

    @abstractmethod
    def save_mandate(self, payment_method: str, *, idempotency_key: str) -> str | None:
        """Save ``payment_method`` for later off-session charges; the reference to charge, or
        None when the provider refuses it (nothing is saved then)."""

    @abstractmethod
    def confirm(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        """Finish a charge that required action (3-D Secure) and report its state."""

    @abstractmethod
    def retrieve(self, reference: str) -> ChargeResult:
        """The charge's current state, for reconciliation after a crash or a webhook."""

    @abstractmethod
    def refund(self, *, charge_reference: str, amount: int, idempotency_key: str,
               metadata: dict[str, str]) -> TransferResult:
        """Return ``amount`` minor units of a succeeded charge to the payer."""

    @abstractmethod
    def payout(self, *, destination: str, amount: int, currency: str, transfer_group: str,
               idempotency_key: str, metadata: dict[str, str]) -> TransferResult:
        """Transfer ``amount`` to a project owner's connected account."""

    @abstractmethod
    def create_connected_account(self, *, email: str, country: str, idempotency_key: str) -> str:
        """Open a payout account for a project owner; returns its id."""

    @abstractmethod
    def parse_webhook(self, payload: bytes, signature: str | None) -> GatewayEvent:
        """Verify and decode a webhook; raise InvalidWebhook if it does not verify."""
