"""Payment sweeps: expire unpaid pledges, finish refunds of revoked pledges."""

from datetime import datetime

from flask import current_app

from app.jobs.registry import Job
from app.payments import services
from app.payments.models import Pledge, PledgeStatus


def _unpaid_too_long(now: datetime):
    """Card pledges left unpaid past the payment timeout; bank-transfer pledges past their pay-by time."""
    timed_out = Pledge.pay_by.is_(None) & (Pledge.created_at <= now - current_app.config["PLEDGE_PAYMENT_TIMEOUT"])
    return (Pledge.status == PledgeStatus.PENDING_PAYMENT) & (timed_out | (Pledge.pay_by <= now))


def _revoked(now: datetime):
    return Pledge.status == PledgeStatus.REVOKED


expire_unpaid = Job("expire unpaid pledges", Pledge, _unpaid_too_long,
                    lambda pledge, now: services.expire_pledge(pledge, now=now))
refund_revoked = Job("refund revoked pledges", Pledge, _revoked,
                     lambda pledge, now: services.refund_pledge(pledge, now=now, reason="revoked"))

JOBS = [expire_unpaid, refund_revoked]
