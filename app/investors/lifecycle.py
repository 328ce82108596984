"""The classification request lifecycle: ``pending → approved | refused``, by the operator's
decision or by a classification set directly. Nothing else decides."""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle
from app.investors.models import RequestStatus as R

__all__ = ["CLASSIFICATION_REQUEST", "IllegalTransition", "RequestEvent"]


class RequestEvent(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"


CLASSIFICATION_REQUEST = Lifecycle("classification request", R, RequestEvent, {
    (R.PENDING, RequestEvent.APPROVE): R.APPROVED,
    (R.PENDING, RequestEvent.REFUSE): R.REFUSED,
}, initial=(R.PENDING,))
