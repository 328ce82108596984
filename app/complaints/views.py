"""Complaint pages: file one, follow one's own; the operator's queue and decision."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.complaints import services
from app.complaints.forms import ComplaintForm, ResponseForm
from app.core.clock import now
from app.core.errors import DomainError
from app.core.forms import apply_errors
from app.core.pagination import page_args, paginate
from app.core.permissions import Permission, can, current_actor, requires
from app.extensions import db

bp = Blueprint("complaints", __name__, url_prefix="/complaints")


def _optional_id(raw: str | None) -> int | None:
    """A hidden id field: digits or nothing (anything else is taken as nothing, and says so)."""
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@bp.get("/")
@requires(Permission.FILE_COMPLAINT)
def index():
    actor = current_actor()
    page, per_page = page_args(request.args)
    status = request.args.get("status") or None
    pagination = paginate(services.complaints_query(actor, status=status), page, per_page)
    return render_template("complaints/index.html", pagination=pagination, status=status, now=now(),
                           sees_all=can(actor, Permission.HANDLE_COMPLAINTS) or can(actor, Permission.READ_DISCLOSURES),
                           waiting=services.open_count() if can(actor, Permission.HANDLE_COMPLAINTS) else None)


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.FILE_COMPLAINT)
def new():
    form = ComplaintForm(campaign_id=request.args.get("campaign_id", ""), pledge_id=request.args.get("pledge_id", ""))
    status = 200
    if form.validate_on_submit():  # the CSRF token; the service checks every field at once
        data = {"subject": form.subject.data or "", "body": form.body.data or "",
                "campaign_id": _optional_id(form.campaign_id.data), "pledge_id": _optional_id(form.pledge_id.data)}
        try:
            complaint = services.file_complaint(current_actor(), data, now=now(), ip_address=request.remote_addr)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
            status = 404 if exc.status == 404 else 422
        else:
            db.session.commit()
            flash(_("Your complaint %(reference)s is received. We answer by %(deadline)s.",
                    reference=complaint.reference, deadline=complaint.respond_by.strftime("%Y-%m-%d")), "success")
            return redirect(url_for("complaints.detail", complaint_id=complaint.id))
    elif request.method == "POST":
        status = 422
    return render_template("complaints/new.html", form=form), status


@bp.route("/<int:complaint_id>", methods=["GET", "POST"])
@requires(Permission.FILE_COMPLAINT)
def detail(complaint_id: int):
    actor = current_actor()
    complaint = services.get_complaint(actor, complaint_id)
    form = ResponseForm() if can(actor, Permission.HANDLE_COMPLAINTS) else None
    status = 200
    if request.method == "POST":
        if form is None:
            abort(403)
        if form.validate_on_submit():
            try:
                services.respond(actor, complaint_id, {"decision": form.decision.data, "response": form.response.data},
                                 now=now(), ip_address=request.remote_addr)
            except DomainError as exc:
                db.session.rollback()
                apply_errors(form, exc)
                status = exc.status if exc.status in (403, 409) else 422
            else:
                db.session.commit()
                flash(_("The decision is recorded and e-mailed to the complainant."), "success")
                return redirect(url_for("complaints.detail", complaint_id=complaint_id))
        else:
            status = 422
        complaint = services.get_complaint(actor, complaint_id)
    return render_template("complaints/detail.html", complaint=complaint, form=form, now=now()), status
