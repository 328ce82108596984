"""The payments domain's public surface: what the views, the API, the jobs and other domains call.

The work is split by what it does: ``rules`` (the checks a pledge must pass), ``pledging``
(reserve, charge, record, confirm, revoke, expire), ``refunds`` (money going back),
``transfers`` (bank-transfer pledges), ``queries`` (reads) and ``store`` (every write of a
pledge row, per database). Callers import the names from here, so the split can change
without them.
"""

from app.payments.errors import GatewayUnavailable, PaymentDeclined, RefundFailed
from app.payments.pledging import (
    PledgeOutcome,
    abort_pledge,
    charge_key,
    confirm_key,
    confirm_pledge,
    create_pledge,
    expire_pledge,
    reconcile_pledge,
    record_charge_result,
    revoke_pledge,
    settle_pledge,
)
from app.payments.queries import (
    campaign_money,
    campaign_pledges,
    find_by_reference,
    get_own_pledge,
    get_pledge,
    is_own,
    is_revocable,
    pledged_this_year,
    pledges_query,
)
from app.payments.refunds import record_gateway_refund, refund_key, refund_pledge
from app.payments.transfers import instructions, pledge_for_reference, qr_svg, settle_transfer, settle_transfers

__all__ = [
    "GatewayUnavailable",
    "PaymentDeclined",
    "PledgeOutcome",
    "RefundFailed",
    "abort_pledge",
    "campaign_money",
    "campaign_pledges",
    "charge_key",
    "confirm_key",
    "confirm_pledge",
    "create_pledge",
    "expire_pledge",
    "find_by_reference",
    "get_own_pledge",
    "get_pledge",
    "instructions",
    "is_own",
    "is_revocable",
    "pledge_for_reference",
    "pledged_this_year",
    "pledges_query",
    "qr_svg",
    "reconcile_pledge",
    "record_charge_result",
    "record_gateway_refund",
    "refund_key",
    "refund_pledge",
    "revoke_pledge",
    "settle_pledge",
    "settle_transfer",
    "settle_transfers",
]
