"""Settlement sweeps: refund failed and cancelled rounds, pay out successful ones."""

from app.campaigns.models import Campaign
from app.jobs.registry import BatchJob, Job
from app.payments.models import Pledge
from app.settlement import refunds, services
from app.settlement.models import Payout

refund_rounds = BatchJob("refund failed and cancelled rounds", Pledge, refunds.due, refunds.claim,
                         refunds.refund_batch, batch_size=refunds.BATCH_SIZE)
refund_rounds_to_wallets = Job("refund failed and cancelled rounds to wallets", Pledge, refunds.due_to_wallet,
                               lambda pledge, now: refunds.refund_to_wallet(pledge, now))
pay_out_rounds = Job("pay out successful rounds", Campaign, services.payable,
                     lambda campaign, now: services.settle_round(campaign, now=now))
send_payouts = Job("send payouts", Payout, services.sendable, lambda payout, now: services.send_payout(payout, now=now))

JOBS = [refund_rounds, refund_rounds_to_wallets, pay_out_rounds, send_payouts]
