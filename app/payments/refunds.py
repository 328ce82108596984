"""Giving pledges' money back: revoked pledges, failed and cancelled rounds, late charges,
and refunds the gateway reports. Each refund is one gateway call under the key
``pledge-<id>-refund`` and one ledger posting under ``pledge-<id>-refunded``, so a retry
after a crash never moves money twice. These functions flush; the jobs and the pledge
boundaries commit.

A failed or cancelled round is refunded in batches (``refund_round_batch``): a gateway call
per pledge, then the whole batch recorded in a few set-based statements.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.core.i18n import _
from app.payments import methods
from app.payments.errors import RefundFailed
from app.payments.gateways import gateway
from app.payments.gateways.base import ChargeResult, GatewayError
from app.payments.lifecycle import IllegalTransition
from app.payments.models import Pledge, PledgeStatus
from app.payments.store import store


def refund_key(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-refund"


def refund_pledge(pledge: Pledge, *, now: datetime, reason: str) -> Pledge:
    """Give a paid or revoked pledge's money back through the gateway, and post it. Flushes.

    Idempotent: a refunded pledge is returned as it is; the gateway key ``pledge-<id>-refund``
    and the ledger key make a repeated call after a crash move nothing twice. For the jobs:
    failed and cancelled rounds (``reason`` "round_failed", "round_cancelled"). A refund
    from ``paid`` of a round that is over leaves its ``raised_amount`` as the record of what
    was raised (a live round's is reduced); revocation already took its pledge out of it.

    :raises GatewayError: the gateway is unreachable (retry later; nothing was recorded).
    :raises RefundFailed: the gateway refused the refund.
    """
    if pledge.status == PledgeStatus.REFUNDED:
        return pledge
    if pledge.status not in (PledgeStatus.PAID, PledgeStatus.REVOKED):
        raise IllegalTransition(_("A pledge that is %(status)s cannot be refunded.",
                                  status=pledge.status.replace("_", " ")), {"status": [pledge.status]})
    if methods.refunds_to_wallet(pledge.payment_method):
        store().refund(pledge, now=now, reason=reason)  # back into the wallet: no gateway call
        return pledge
    result = gateway().refund(charge_reference=pledge.gateway_reference or "", amount=pledge.amount,
                              idempotency_key=refund_key(pledge.id),
                              metadata={"pledge_id": str(pledge.id), "reason": reason})
    if result.status == "failed":
        raise RefundFailed(_("The refund was refused: %(message)s", message=result.failure_message or ""))
    store().refund(pledge, now=now, reason=reason, reference=result.reference)
    return pledge


def record_gateway_refund(pledge: Pledge, *, amount_refunded: int, now: datetime) -> Pledge:
    """The gateway reports the pledge's charge refunded (our own refund, or one made in the
    provider's dashboard). Idempotent; flushes. Only a full refund changes the pledge."""
    if pledge.status not in (PledgeStatus.PAID, PledgeStatus.REVOKED) or amount_refunded < pledge.amount:
        return pledge
    store().refund(pledge, now=now, reason="gateway_refund", source="gateway")
    return pledge


def refund_late_charge(pledge: Pledge, result: ChargeResult, *, now: datetime) -> None:
    """Money arrived for a pledge we had given up on: record it, then give it straight back."""
    refund = gateway().refund(charge_reference=result.reference, amount=pledge.amount,
                              idempotency_key=refund_key(pledge.id), metadata={"pledge_id": str(pledge.id)})
    if refund.status == "failed":
        raise GatewayError(f"late-charge refund for pledge {pledge.id} failed: {refund.failure_message}")
    store().refund_late_charge(pledge, now=now, charge_reference=result.reference, refund_reference=refund.reference)


@dataclass(frozen=True)
class BatchRefunds:
    """What ``refund_round_batch`` did: the pledges recorded refunded (ids, in id order) and those
    left as they were, with why (the gateway failed or refused)."""

    refunded: list[int]
    failed: list[tuple[int, str]] = field(default_factory=list)


def refund_round_batch(refunds: Sequence[tuple[Any, str]], *, now: datetime) -> BatchRefunds:
    """Refund a batch of paid pledges of rounds that are over: one gateway refund per pledge
    under its key ``pledge-<id>-refund`` (as ``refund_pledge``), then every refund the gateway
    made recorded at once (``store().refund_many``: pledges, postings, audit entries). Flushes.

    ``refunds`` are ``(pledge, reason)`` with the pledge's columns as attributes (a Core row
    will do), claimed by the caller. Crash-safe as ``refund_pledge``: if the transaction does not
    commit, nothing was recorded, and the next call repeats the gateway calls with the same keys
    (the gateway answers with the first refund). A pledge the gateway refuses, or fails on,
    is left as it is, in ``failed``; the rest are recorded.
    """
    provider = gateway()
    made: list[tuple[Any, str, str]] = []
    failed: list[tuple[int, str]] = []
    for pledge, reason in refunds:
        try:
            result = provider.refund(charge_reference=pledge.gateway_reference or "", amount=pledge.amount,
                                     idempotency_key=refund_key(pledge.id),
                                     metadata={"pledge_id": str(pledge.id), "reason": reason})
        except Exception as exc:  # one pledge must not lose the batch: it stays due
            failed.append((pledge.id, f"{type(exc).__name__}: {exc}"[:300]))
            continue
        if result.status == "failed":
            refused = RefundFailed(_("The refund was refused: %(message)s", message=result.failure_message or ""))
            failed.append((pledge.id, f"{type(refused).__name__}: {refused}"[:300]))
            continue
        made.append((pledge, reason, result.reference))
    return BatchRefunds(store().refund_many(made, now=now) if made else [], failed)
