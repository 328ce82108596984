"""The refusals a payment can end in, shared by pledges and instalments."""

from app.core.errors import DomainError


class PaymentDeclined(DomainError):
    """The card was declined; for a pledge, it failed and its room is free again."""

    status = 402
    title = "Payment declined"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None, *, pledge_id: int | None = None):
        super().__init__(detail, errors)
        self.pledge_id = pledge_id


class GatewayUnavailable(DomainError):
    """The provider did not answer; retrying with the same Idempotency-Key is safe."""

    status = 503
    title = "Payment provider unavailable"


class RefundFailed(DomainError):
    """The gateway refused a refund (the pledge stays as it was, to be retried)."""

    status = 502
    title = "Refund failed"
