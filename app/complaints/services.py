"""Filing, reading and answering complaints; the register. Services flush; callers commit.

A complaint is acknowledged at once with its reference and the date a decision is due
(``COMPLAINT_RESPONSE_DAYS``); the operator's queue puts the overdue ones first. The
complainant sees only their own; operators and regulators see all (the register).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, select

from app.accounts.models import User
from app.campaigns import services as campaigns
from app.complaints.lifecycle import COMPLAINT, ComplaintEvent
from app.complaints.models import Complaint, ComplaintStatus, Decision
from app.complaints.schemas import ComplaintInputSchema, ResponseInputSchema
from app.core.audit import audit
from app.core.boundaries import MAX_ID
from app.core.errors import NotAllowed, NotFound, ValidationFailed, load
from app.core.i18n import _
from app.core.permissions import Permission, can
from app.core.spreadsheets import inert
from app.extensions import db
from app.notifications.services import enqueue
from app.payments.models import Pledge


def _sees_all(actor: Any) -> bool:
    return can(actor, Permission.HANDLE_COMPLAINTS) or can(actor, Permission.READ_DISCLOSURES)


def _own_pledge(actor: Any, pledge_id: int) -> Pledge:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.investor_id != actor.id:
        message = _("No such pledge of yours.")
        raise NotFound(message, {"pledge_id": [message]})
    return pledge


def file_complaint(actor: Any, data: Any, *, now: datetime, ip_address: str | None = None) -> Complaint:
    """Record a complaint, with the campaign (one the complainant can see) or the pledge (their
    own) it is about, and e-mail the acknowledgement. Audited."""
    clean = load(ComplaintInputSchema(), data, _("The complaint is incomplete."))
    campaign_id, pledge_id = clean.get("campaign_id"), clean.get("pledge_id")
    if pledge_id is not None:
        pledge = _own_pledge(actor, pledge_id)
        if campaign_id is not None and campaign_id != pledge.campaign_id:
            raise ValidationFailed(_("The complaint is incomplete."), {"campaign_id": [
                _("The pledge is to another campaign.")]})
        campaign_id = pledge.campaign_id
    if campaign_id is not None:
        try:
            campaigns.get_visible(campaign_id, actor)
        except NotFound:
            message = _("No such campaign.")
            raise NotFound(message, {"campaign_id": [message]}) from None
    days = current_app.config["COMPLAINT_RESPONSE_DAYS"][current_app.config["PLATFORM_JURISDICTION"]]
    complaint = Complaint(complainant_id=actor.id, campaign_id=campaign_id, pledge_id=pledge_id,
                          subject=clean["subject"].strip(), body=clean["body"].strip(),
                          status=ComplaintStatus.RECEIVED.value, received_at=now, respond_by=now + timedelta(days=days))
    db.session.add(complaint)
    db.session.flush()
    complaint.reference = f"C-{now.year}-{complaint.id:05d}"
    audit("complaint.received", actor=actor, subject=complaint, ip_address=ip_address, at=now,
          details={"reference": complaint.reference, "campaign_id": campaign_id, "pledge_id": pledge_id})
    enqueue(actor, kind="complaint_received", dedupe_key=f"complaint-{complaint.id}-received", now=now,
            subject=_l("We received your complaint %(reference)s", reference=complaint.reference),
            body=_l("Thank you for telling us. Your complaint \"%(subject)s\" has the reference %(reference)s; "
                    "please quote it if you write to us about it.\n\nWe will answer by %(deadline)s. If you are "
                    "not satisfied with our answer, you may take the matter to the supervisory authority.",
                    subject=complaint.subject, reference=complaint.reference,
                    deadline=complaint.respond_by.strftime("%Y-%m-%d")))
    db.session.flush()
    return complaint


def complaints_query(actor: Any, *, status: str | None = None) -> Select:
    """The complaints ``actor`` may read: operators and regulators all, waiting ones first
    (overdue first: the earliest deadline first), the rest newest first; anyone else their own."""
    statement = select(Complaint)
    if status is not None:
        if status not in {s.value for s in ComplaintStatus}:
            raise ValidationFailed(_("Unknown complaint status."), {"status": [
                _("Must be one of: %(values)s.", values=", ".join(s.value for s in ComplaintStatus))]})
        statement = statement.where(Complaint.status == status)
    if not _sees_all(actor):
        statement = statement.where(Complaint.complainant_id == actor.id)
    waiting_first = case((Complaint.status == ComplaintStatus.RECEIVED.value, 0), else_=1)
    return statement.order_by(waiting_first, case((Complaint.status == ComplaintStatus.RECEIVED.value,
                                                   Complaint.respond_by)), Complaint.received_at.desc(),
                              Complaint.id.desc())


def get_complaint(actor: Any, complaint_id: int) -> Complaint:
    """One complaint, for its complainant, an operator or a regulator; a 404 for anyone else."""
    complaint = db.session.get(Complaint, complaint_id) if 0 < complaint_id <= MAX_ID else None
    if complaint is None or (complaint.complainant_id != actor.id and not _sees_all(actor)):
        raise NotFound(_("No such complaint."))
    return complaint


def respond(actor: Any, complaint_id: int, data: Any, *, now: datetime, ip_address: str | None = None) -> Complaint:
    """The operator's decision, e-mailed to the complainant; once (a second answer is a 409).
    An operator does not decide a complaint of their own (a 403). Audited."""
    complaint = get_complaint(actor, complaint_id)
    if complaint.complainant_id == actor.id:
        raise NotAllowed(_("You cannot decide a complaint you filed yourself; another operator must."))
    clean = load(ResponseInputSchema(), data, _("The response is incomplete."))
    COMPLAINT.move(complaint, ComplaintEvent.RESPOND)
    complaint.decision = clean["decision"]
    complaint.response = clean["response"].strip()
    complaint.responded_by_id = actor.id
    complaint.responded_at = now
    audit("complaint.resolved", actor=actor, subject=complaint, ip_address=ip_address, at=now,
          details={"reference": complaint.reference, "decision": complaint.decision})
    outcome = (_l("We uphold your complaint.") if complaint.decision == Decision.UPHELD
               else _l("We do not uphold your complaint."))
    enqueue(db.session.get(User, complaint.complainant_id), kind="complaint_resolved", now=now,
            dedupe_key=f"complaint-{complaint.id}-resolved",
            subject=_l("Our answer to your complaint %(reference)s", reference=complaint.reference),
            body=_l("%(outcome)s\n\n%(response)s\n\nIf you are not satisfied with this answer, you may take the "
                    "matter to the supervisory authority.", outcome=outcome, response=complaint.response))
    db.session.flush()
    return complaint


def open_count(*, overdue_at: datetime | None = None) -> int:
    """Complaints waiting for a decision (the operator's queue count); with ``overdue_at``,
    those of them past their deadline then."""
    statement = select(func.count()).select_from(Complaint).where(Complaint.status == ComplaintStatus.RECEIVED.value)
    if overdue_at is not None:
        statement = statement.where(Complaint.respond_by <= overdue_at)
    return db.session.scalar(statement) or 0


REGISTER_COLUMNS = ("reference", "received_at", "respond_by", "status", "subject", "campaign_id", "pledge_id",
                    "decision", "responded_at", "days_to_decision", "overdue")


def register_rows(now: datetime) -> Iterator[list[Any]]:
    """The complaints register, oldest first, one row per complaint (the complainant by id only)."""
    for c in db.session.scalars(select(Complaint).order_by(Complaint.received_at, Complaint.id)
                                .execution_options(yield_per=500)):
        decided = c.responded_at
        yield [c.reference, c.received_at.isoformat(), c.respond_by.isoformat(), c.status, inert(c.subject),
               c.campaign_id or "", c.pledge_id or "", c.decision or "", decided.isoformat() if decided else "",
               (decided - c.received_at).days if decided else "", "yes" if (decided or now) > c.respond_by else "no"]
