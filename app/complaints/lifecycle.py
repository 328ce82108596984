"""The complaint lifecycle: ``received → resolved`` when the operator responds (once)."""

from enum import StrEnum

from app.complaints.models import ComplaintStatus as C
from app.core.lifecycle import Lifecycle

__all__ = ["COMPLAINT", "ComplaintEvent"]


class ComplaintEvent(StrEnum):
    RESPOND = "respond"


COMPLAINT = Lifecycle("complaint", C, ComplaintEvent, {
    (C.RECEIVED, ComplaintEvent.RESPOND): C.RESOLVED,
}, initial=(C.RECEIVED,))
