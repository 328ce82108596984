"""The loan and instalment lifecycles: one table each, nothing else decides.

Instalment: ``scheduled → due`` (its date came) ``→ overdue`` (unpaid past the overdue
period); ``due | overdue → paid``.

Loan: ``active → overdue`` when an instalment falls overdue (and stays overdue as more do),
``overdue → active`` when a payment leaves nothing overdue (a payment on an active loan keeps
it active), ``active | overdue → completed`` with the last instalment, ``active | overdue →
defaulted`` after the default period. A defaulted loan leaves default by no move here:
its repayments are the operator's to handle.
"""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle
from app.loans.models import InstalmentStatus as I
from app.loans.models import LoanStatus as L

__all__ = ["INSTALMENT", "LOAN", "IllegalTransition", "InstalmentEvent", "LoanEvent"]


class InstalmentEvent(StrEnum):
    FALL_DUE = "fall_due"
    FALL_OVERDUE = "fall_overdue"
    PAY = "pay"


class LoanEvent(StrEnum):
    FALL_BEHIND = "fall_behind"
    CATCH_UP = "catch_up"
    COMPLETE = "complete"
    DEFAULT = "default"


INSTALMENT = Lifecycle("instalment", I, InstalmentEvent, {
    (I.SCHEDULED, InstalmentEvent.FALL_DUE): I.DUE,
    (I.DUE, InstalmentEvent.FALL_OVERDUE): I.OVERDUE,
    (I.DUE, InstalmentEvent.PAY): I.PAID,
    (I.OVERDUE, InstalmentEvent.PAY): I.PAID,
}, initial=(I.SCHEDULED,))

LOAN = Lifecycle("loan", L, LoanEvent, {
    (L.ACTIVE, LoanEvent.FALL_BEHIND): L.OVERDUE,
    (L.OVERDUE, LoanEvent.FALL_BEHIND): L.OVERDUE,  # a second instalment falls overdue
    (L.ACTIVE, LoanEvent.CATCH_UP): L.ACTIVE,  # an instalment paid on time
    (L.OVERDUE, LoanEvent.CATCH_UP): L.ACTIVE,  # the arrears paid
    (L.ACTIVE, LoanEvent.COMPLETE): L.COMPLETED,
    (L.OVERDUE, LoanEvent.COMPLETE): L.COMPLETED,  # the last instalment paid late
    (L.ACTIVE, LoanEvent.DEFAULT): L.DEFAULTED,
    (L.OVERDUE, LoanEvent.DEFAULT): L.DEFAULTED,
}, initial=(L.ACTIVE,))
