"""Campaign pages: public browsing, the owner's drafts, the operator's review."""

import secrets
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from app.campaigns import services
from app.campaigns.forms import (
    FORM_FIELDS,
    ActionForm,
    ApproveForm,
    CampaignForm,
    CancelForm,
    DocumentForm,
    RejectForm,
    UpdateForm,
)
from app.campaigns.models import Category
from app.core.clock import now
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.forms import apply_errors
from app.core.pagination import paginate
from app.core.permissions import Permission, current_actor, requires
from app.extensions import db

bp = Blueprint("campaigns", __name__)

FILTER_KEYS = ("status", "category", "sdg", "country", "q", "sort", "page")


@bp.get("/")
def index():
    args = {k: request.args[k] for k in FILTER_KEYS if request.args.get(k)}
    try:
        filters = services.parse_filters({**args, "per_page": 12})
        problems = {}
    except ValidationFailed as exc:
        filters, problems = services.parse_filters({"per_page": 12}), exc.errors
    pagination = paginate(services.browse_query(filters), filters["page"], filters["per_page"])
    return render_template("campaigns/index.html", pagination=pagination, filters=filters, problems=problems,
                           args=args, categories=[c.value for c in Category])


@bp.get("/<int:campaign_id>")
def detail(campaign_id: int):
    campaign = services.get_visible(campaign_id, current_actor())
    actor = current_actor()
    is_owner = actor is not None and actor.id == campaign.owner_id
    operator = actor is not None and "operator" in actor.role_names
    owner_money = _owner_money(campaign) if is_owner and campaign.status not in ("draft", "submitted") else None
    return render_template(
        "campaigns/detail.html",
        owner_money=owner_money,
        new_attempt=lambda: secrets.token_urlsafe(12),
        campaign=campaign,
        days_left=max(0, (campaign.closes_at - now()).days),
        updates=services.updates(campaign),
        documents=services.documents(campaign),
        kiis=services.kiis_versions(campaign),
        is_owner=is_owner,
        operator=operator,
        action_form=ActionForm(),
        update_form=UpdateForm(),
        document_form=DocumentForm(),
        approve_form=ApproveForm(),
        reject_form=RejectForm(),
        cancel_form=CancelForm(),
    )


def _owner_money(campaign):
    """Pledges received (amounts only), the payout and the repayment schedule, for the owner."""
    from app.loans.collection import mandate_method
    from app.loans.services import loan_for
    from app.loans.views import PayInstalmentForm
    from app.payments.services import campaign_pledges
    from app.settlement.services import payout_account, payout_for

    pay_form = PayInstalmentForm().set_choices()
    method = mandate_method(campaign)
    labels = {c.value: c.label for c in pay_form.payment_method.choices}
    return {
        "mandate": labels.get(method, method),
        "pledges": [p for p in campaign_pledges(campaign.id) if p.status != "failed"],
        "payout": payout_for(campaign.id),
        "account": payout_account(campaign.owner_id),
        "loan": loan_for(campaign.id),
        "pay_form": pay_form,
    }


@bp.get("/mine")
@requires(Permission.CREATE_CAMPAIGN)
def mine():
    return render_template("campaigns/mine.html", campaigns=services.owned_by(current_actor()),
                           action_form=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CREATE_CAMPAIGN)
def new():
    form = CampaignForm()
    if form.validate_on_submit():
        data, conversion_errors = form.to_input()
        try:
            if conversion_errors:
                raise ValidationFailed("The campaign is invalid.", conversion_errors)
            campaign = services.create_draft(current_actor(), data, now=now())
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc, FORM_FIELDS)
        else:
            db.session.commit()
            flash(_("Draft saved. Preview it, then submit it for review."), "success")
            return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return render_template("campaigns/form.html", form=form, campaign=None), 422 if form.errors else 200


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@requires(Permission.CREATE_CAMPAIGN)
def edit(campaign_id: int):
    campaign = services.get_visible(campaign_id, current_actor())
    if campaign.owner_id != current_actor().id:
        raise NotFound("No such campaign.")
    if campaign.status != "draft":
        flash(_("Only drafts can be edited; this campaign is %(status)s.", status=campaign.status), "error")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    form = CampaignForm()
    if request.method == "GET":
        form.fill_from(campaign)
    elif form.validate_on_submit():
        data, conversion_errors = form.to_input()
        try:
            if conversion_errors:
                raise ValidationFailed("The campaign is invalid.", conversion_errors)
            services.update_draft(campaign, current_actor(), data, now=now())
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc, FORM_FIELDS)
        else:
            db.session.commit()
            flash(_("Draft saved."), "success")
            return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return render_template("campaigns/form.html", form=form, campaign=campaign), 422 if form.errors else 200


def _act(campaign_id: int, form_class: type, action, success: str):
    """Run a state-changing action from a small form; a refusal becomes a flash message."""
    campaign = services.get_visible(campaign_id, current_actor())
    form = form_class()
    if not form.validate_on_submit():
        messages = [m for msgs in form.errors.values() for m in msgs]
        flash(" ".join(str(m) for m in messages) or _("The form was incomplete."), "error")
    else:
        try:
            action(campaign, form)
        except DomainError as exc:
            db.session.rollback()
            details = " ".join(m for msgs in exc.errors.values() for m in msgs)
            flash(f"{exc.detail} {details}".strip(), "error")
        else:
            db.session.commit()
            flash(success, "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/submit")
@requires(Permission.CREATE_CAMPAIGN)
def submit(campaign_id: int):
    return _act(campaign_id, ActionForm, lambda c, f: services.submit(
        c, current_actor(), now=now()),
        _("Submitted. The platform operator will review your campaign."))


@bp.post("/<int:campaign_id>/approve")
@requires(Permission.REVIEW_CAMPAIGNS)
def approve(campaign_id: int):
    def action(c, f):
        opens = f.opens_at.data.isoformat() + "+00:00" if f.opens_at.data else None
        services.approve(c, current_actor(), {"risk_class": f.risk_class.data, "opens_at": opens}, now=now(),
                         fee_bps=current_app.config["PLATFORM_FEE_BPS"])

    return _act(campaign_id, ApproveForm, action, _("Approved; the Key Investment Information Sheet is frozen."))


@bp.post("/<int:campaign_id>/reject")
@requires(Permission.REVIEW_CAMPAIGNS)
def reject(campaign_id: int):
    return _act(campaign_id, RejectForm, lambda c, f: services.reject(
        c, current_actor(), {"reason": f.reason.data}, now=now()), _("Sent back to the owner with your reason."))


@bp.post("/<int:campaign_id>/cancel")
@requires(Permission.REVIEW_CAMPAIGNS)
def cancel(campaign_id: int):
    return _act(campaign_id, CancelForm, lambda c, f: services.cancel(
        c, current_actor(), now=now(), reason=f.reason.data),
        _("Cancelled. Every paid pledge will be refunded by the refund sweep."))


@bp.post("/<int:campaign_id>/updates")
@requires(Permission.CREATE_CAMPAIGN)
def post_update(campaign_id: int):
    return _act(campaign_id, UpdateForm, lambda c, f: services.post_update(
        c, current_actor(), {"title": f.title.data, "body": f.body.data}, now=now()), _("Update posted."))


@bp.post("/<int:campaign_id>/documents")
@requires(Permission.CREATE_CAMPAIGN)
def upload_document(campaign_id: int):
    def action(c, f):
        upload = f.file.data
        services.add_document(c, current_actor(), title=f.title.data,
                              filename=getattr(upload, "filename", "") or "document.pdf",
                              data=upload.read() if upload else b"",
                              storage=Path(current_app.config["DOCUMENTS_DIR"]), now=now())

    return _act(campaign_id, DocumentForm, action, _("Document uploaded."))


@bp.get("/<int:campaign_id>/documents/<int:document_id>")
def download_document(campaign_id: int, document_id: int):
    campaign = services.get_visible(campaign_id, current_actor())
    document = next((d for d in services.documents(campaign) if d.id == document_id), None)
    if document is None:
        raise NotFound("No such document.")
    path = Path(current_app.config["DOCUMENTS_DIR"]) / document.storage_name
    response = Response(path.read_bytes(), mimetype="application/pdf")  # at most 10 MB
    response.headers["Content-Disposition"] = f'attachment; filename="document-{document.id}.pdf"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<int:campaign_id>/kiis/<int:version>.<fmt>")
def kiis(campaign_id: int, version: int, fmt: str):
    """A frozen version as it was frozen; ``?lang=`` gives the PDF in another of the
    deployment's languages (frozen with it), which the campaign page links in the visitor's."""
    campaign = services.get_visible(campaign_id, current_actor())
    sheet = services.kiis_version(campaign, version)
    language = request.args.get("lang") or sheet.content.get("language", "en")
    suffix = ""
    if fmt == "pdf" and language != sheet.content.get("language", "en"):
        translation = services.kiis_translation(sheet, language)
        if translation is None:
            raise NotFound(_("This version is available in %(languages)s.",
                             languages=", ".join(services.kiis_languages(sheet))))
        body, mimetype, digest = translation.pdf_bytes, "application/pdf", translation.pdf_sha256
        suffix = f"-{language}"
    elif fmt == "pdf":
        body, mimetype, digest = sheet.pdf_bytes, "application/pdf", sheet.pdf_sha256
    elif fmt == "json":
        body, mimetype, digest = sheet.json_bytes, "application/json", sheet.json_sha256
    else:
        raise NotFound(_("KIIS documents are PDF or JSON."))
    response = Response(body, mimetype=mimetype)
    response.headers["X-Content-SHA256"] = digest
    response.headers["Content-Disposition"] = f'inline; filename="kiis-{campaign.id}-v{version}{suffix}.{fmt}"'
    return response


@bp.get("/review")
@requires(Permission.REVIEW_CAMPAIGNS)
def review_queue():
    return render_template("campaigns/review.html", campaigns=services.review_queue())
