"""The campaign lifecycle: one table of allowed transitions, nothing else decides.

``draft → submitted → approved → live → successful | failed | cancelled``, later
``successful → repaying → completed | defaulted``. Rejection sends a submission back
to draft; cancellation refunds every pledge (the jobs do the refunding). A successful
round still fails if revocations during its investors' reflection periods take it back
below its target before it is paid out: the offer is all or nothing, as its KIIS says.
"""

from enum import StrEnum

from app.campaigns.models import CampaignStatus as S
from app.core.lifecycle import IllegalTransition, Lifecycle

__all__ = ["CAMPAIGN", "TRANSITIONS", "Event", "IllegalTransition", "next_status", "sources", "target"]


class Event(StrEnum):
    SUBMIT = "submit"
    REJECT = "reject"
    APPROVE = "approve"
    OPEN = "open"
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"
    START_REPAYING = "start_repaying"
    COMPLETE = "complete"
    DEFAULT = "default"


TRANSITIONS: dict[tuple[S, Event], S] = {
    (S.DRAFT, Event.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, Event.REJECT): S.DRAFT,
    (S.SUBMITTED, Event.APPROVE): S.APPROVED,
    (S.APPROVED, Event.OPEN): S.LIVE,
    (S.APPROVED, Event.CANCEL): S.CANCELLED,
    (S.LIVE, Event.SUCCEED): S.SUCCESSFUL,
    (S.LIVE, Event.FAIL): S.FAILED,
    (S.LIVE, Event.CANCEL): S.CANCELLED,
    (S.SUCCESSFUL, Event.FAIL): S.FAILED,  # revoked back below the target before the payout
    (S.SUCCESSFUL, Event.START_REPAYING): S.REPAYING,
    (S.SUCCESSFUL, Event.COMPLETE): S.COMPLETED,  # a donation round, once paid out
    (S.REPAYING, Event.COMPLETE): S.COMPLETED,
    (S.REPAYING, Event.DEFAULT): S.DEFAULTED,
}

CAMPAIGN = Lifecycle("campaign", S, Event, TRANSITIONS, initial=(S.DRAFT,))

next_status = CAMPAIGN.next_status
sources = CAMPAIGN.sources
target = CAMPAIGN.target
