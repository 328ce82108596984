"""The embedded sandbox gateway: no network, deterministic, Stripe's test payment methods.

It keeps charges, refunds and payouts in memory keyed by idempotency key, so a retry
returns the first result and moves no money twice; the counters say how many money
movements really happened (tests count gateway calls with them). References are derived
from the key and the payment method, so another process (a second gunicorn worker) can
still answer ``retrieve`` and ``confirm`` for a charge it never saw: the database, not
this memory, is the record of what was paid.
"""

import hashlib
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass, field

from app.payments.gateways.base import ChargeResult, GatewayEvent, InvalidWebhook, PaymentGateway, TransferResult


@dataclass(frozen=True)
class SandboxCard:
    id: str
    label: str
    #: "succeeded", "requires_action" or "failed"
    outcome: str
    failure_code: str | None = None
    failure_message: str | None = None


#: Stripe's test payment-method ids and what Stripe answers for each (codes and messages
#: as Stripe's ``last_payment_error`` gives them).
TEST_CARDS: dict[str, SandboxCard] = {
    card.id: card
    for card in (
        SandboxCard("pm_card_visa", "Visa 4242 4242 4242 4242 (succeeds)", "succeeded"),
        SandboxCard("pm_card_mastercard", "Mastercard 5555 5555 5555 4444 (succeeds)", "succeeded"),
        SandboxCard("pm_card_authenticationRequired", "Visa 4000 0027 6000 3184 (asks for 3-D Secure)",
                 "requires_action"),
        SandboxCard("pm_card_chargeDeclined", "Visa 4000 0000 0000 0002 (declined)", "failed", "card_declined",
                 "Your card was declined."),
        SandboxCard("pm_card_chargeDeclinedInsufficientFunds", "Visa 4000 0000 0000 9995 (insufficient funds)",
                 "failed", "insufficient_funds", "Your card has insufficient funds."),
    )
}

UNKNOWN_METHOD = "unknown payment method"
#: Short codes embedded in references, so any process can tell what a charge was.
_CODES = {"pm_card_visa": "v", "pm_card_mastercard": "m", "pm_card_authenticationRequired": "a",
          "pm_card_chargeDeclined": "d", "pm_card_chargeDeclinedInsufficientFunds": "i"}
_BY_CODE = {code: method for method, code in _CODES.items()}


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass
class _State:
    charges: dict[str, ChargeResult] = field(default_factory=dict)  # by idempotency key
    by_reference: dict[str, ChargeResult] = field(default_factory=dict)
    confirmations: dict[str, ChargeResult] = field(default_factory=dict)  # by idempotency key
    refunds: dict[str, TransferResult] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=dict)  # charge reference → amount refunded
    amounts: dict[str, int] = field(default_factory=dict)  # charge reference → amount
    payouts: dict[str, TransferResult] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)


class Journal:
    """An optional record of money movements shared by every process (a SQLite file).

    A real gateway remembers idempotency keys across all our processes; the in-memory
    sandbox cannot. With ``SANDBOX_JOURNAL`` set, each movement is recorded once by its
    key, so several ``flask jobs run-due`` processes see one gateway, and tests can count
    what was really moved (``movements``) and what was asked (``attempts``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        with closing(self._connect()) as db:
            db.execute("CREATE TABLE IF NOT EXISTS movements (key TEXT PRIMARY KEY, op TEXT, amount INTEGER)")
            db.execute("CREATE TABLE IF NOT EXISTS attempts (op TEXT, key TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    def record(self, op: str, key: str, amount: int) -> bool:
        """Record an attempt; True if this call made the movement, False if it was made before."""
        with closing(self._connect()) as db:
            db.execute("INSERT INTO attempts VALUES (?, ?)", (op, key))
            made = db.execute("INSERT OR IGNORE INTO movements VALUES (?, ?, ?)", (key, op, amount)).rowcount
        return made == 1


class SandboxGateway(PaymentGateway):
    name = "sandbox"

    def __init__(self, journal_path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self.journal = Journal(journal_path) if journal_path else None
        #: Money movements really made (replays of a key are not counted).
        self.charges_made = 0
        self.refunds_made = 0
        self.payouts_made = 0
        #: Every call, replays included: ``(method, idempotency_key)``.
        self.calls: list[tuple[str, str]] = []
        #: Set to an exception instance to make the next money-moving call raise it once
        #: (tests simulate an unreachable gateway with ``GatewayError``).
        self.fail_next: Exception | None = None

    # -- helpers ---------------------------------------------------------------------------

    def supports_payment_method(self, payment_method: str) -> bool:
        return payment_method in TEST_CARDS

    def payment_method_choices(self) -> list[tuple[str, str]]:
        return [(card.id, card.label) for card in TEST_CARDS.values()]

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    # -- the contract ------------------------------------------------------------------------

    def save_mandate(self, payment_method: str, *, idempotency_key: str) -> str | None:
        """A test card is its own reference; one that needs 3-D Secure cannot be charged off-session."""
        card = TEST_CARDS.get(payment_method)
        return None if card is None or card.outcome == "requires_action" else payment_method

    def charge(self, *, amount: int, currency: str, payment_method: str, idempotency_key: str,
               metadata: dict[str, str], return_url: str, off_session: bool = False) -> ChargeResult:
        with self._lock:
            self.calls.append(("charge", idempotency_key))
            if idempotency_key in self._state.charges:
                return self._state.charges[idempotency_key]
            self._maybe_fail()
            card = TEST_CARDS.get(payment_method)
            code = _CODES.get(payment_method, "x")
            reference = f"pi_sbx_{code}_{_digest(idempotency_key)}"
            if card is None:
                result = ChargeResult("failed", reference, "unknown_payment_method", UNKNOWN_METHOD)
            elif card.outcome == "succeeded":
                result = ChargeResult("succeeded", reference)
                self.charges_made += 1
            elif card.outcome == "requires_action" and off_session:
                result = ChargeResult("failed", reference, "authentication_required",
                                      "Your card requires authentication, and you were not there to give it.")
            elif card.outcome == "requires_action":
                result = ChargeResult("requires_action", reference, next_action_url=return_url)
            else:
                result = ChargeResult("failed", reference, card.failure_code, card.failure_message)
            self._state.charges[idempotency_key] = result
            self._state.by_reference[reference] = result
            self._state.amounts[reference] = amount
            return result

    def confirm(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        with self._lock:
            self.calls.append(("confirm", idempotency_key))
            if idempotency_key in self._state.confirmations:
                return self._state.confirmations[idempotency_key]
            self._maybe_fail()
            current = self._state.by_reference.get(reference) or self._derive(reference)
            if current.status == "requires_action":
                current = ChargeResult("succeeded", reference)
                self.charges_made += 1
            self._state.confirmations[idempotency_key] = current
            self._state.by_reference[reference] = current
            return current

    def retrieve(self, reference: str) -> ChargeResult:
        with self._lock:
            self.calls.append(("retrieve", reference))
            return self._state.by_reference.get(reference) or self._derive(reference)

    def _derive(self, reference: str) -> ChargeResult:
        parts = reference.split("_")
        if len(parts) != 4 or parts[:2] != ["pi", "sbx"]:
            return ChargeResult("failed", reference, "resource_missing", f"No such payment_intent: '{reference}'")
        card = TEST_CARDS.get(_BY_CODE.get(parts[2], ""))
        if card is None:
            return ChargeResult("failed", reference, "unknown_payment_method", UNKNOWN_METHOD)
        if card.outcome == "failed":
            return ChargeResult("failed", reference, card.failure_code, card.failure_message)
        if card.outcome == "requires_action":
            return ChargeResult("requires_action", reference)
        return ChargeResult("succeeded", reference)

    def refund(self, *, charge_reference: str, amount: int, idempotency_key: str,
               metadata: dict[str, str]) -> TransferResult:
        with self._lock:
            self.calls.append(("refund", idempotency_key))
            if idempotency_key in self._state.refunds:
                return self._state.refunds[idempotency_key]
            self._maybe_fail()
            charge = self._state.by_reference.get(charge_reference) or self._derive(charge_reference)
            charged = self._state.amounts.get(charge_reference)
            already = self._state.refunded.get(charge_reference, 0)
            if charge.status != "succeeded" or amount <= 0 or (charged is not None and already + amount > charged):
                result = TransferResult("failed", f"re_sbx_{_digest(idempotency_key)}",
                                        "The charge cannot be refunded by that amount.")
            else:
                result = TransferResult("succeeded", f"re_sbx_{_digest(idempotency_key)}")
                self._state.refunded[charge_reference] = already + amount
                if self.journal is None or self.journal.record("refund", idempotency_key, amount):
                    self.refunds_made += 1
            self._state.refunds[idempotency_key] = result
            return result

    def payout(self, *, destination: str, amount: int, currency: str, transfer_group: str,
               idempotency_key: str, metadata: dict[str, str]) -> TransferResult:
        with self._lock:
            self.calls.append(("payout", idempotency_key))
            if idempotency_key in self._state.payouts:
                return self._state.payouts[idempotency_key]
            self._maybe_fail()
            if amount <= 0 or not destination:
                result = TransferResult("failed", f"tr_sbx_{_digest(idempotency_key)}",
                                        "A payout needs a destination and a positive amount.")
            else:
                result = TransferResult("succeeded", f"tr_sbx_{_digest(idempotency_key)}")
                if self.journal is None or self.journal.record("payout", idempotency_key, amount):
                    self.payouts_made += 1
            self._state.payouts[idempotency_key] = result
            return result

    def create_connected_account(self, *, email: str, country: str, idempotency_key: str) -> str:
        with self._lock:
            self.calls.append(("create_connected_account", idempotency_key))
            return self._state.accounts.setdefault(idempotency_key, f"acct_sbx_{_digest(idempotency_key)[:16]}")

    def parse_webhook(self, payload: bytes, signature: str | None) -> GatewayEvent:
        raise InvalidWebhook("The sandbox gateway sends no webhooks.")
