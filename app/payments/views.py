"""Pledge pages: the pledge form, the 3-D Secure stand-in, "my pledges", the operator's ledger."""

from decimal import InvalidOperation
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.accounts.limits import pledge_attempts
from app.campaigns import services as campaigns
from app.core.clock import now
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.forms import apply_errors
from app.core.money import format_money, minor_digits, parse_typed
from app.core.permissions import Permission, can, current_actor, requires
from app.extensions import db
from app.investors import limits
from app.investors import services as investors
from app.payments import methods, services
from app.payments.forms import ActionForm, PledgeForm, new_token
from app.payments.gateways import gateway
from app.payments.models import PledgeStatus

bp = Blueprint("payments", __name__)


def _actor() -> Any:
    return current_user._get_current_object()


def _payment_choices() -> list[tuple[str, str]]:
    """The gateway's cards, then the wallet and a bank transfer."""
    return [*gateway().payment_method_choices(), (methods.WALLET, _("Pay from my wallet")),
            (methods.BANK_TRANSFER, _("Pay by bank transfer"))]


def _pledge_form(campaign, formdata=None) -> PledgeForm:
    form = PledgeForm(formdata=formdata) if formdata is not None else PledgeForm()
    form.set_choices(_payment_choices())
    form.idempotency_token.data = new_token()
    form.kiis_version.data = "" if campaign.current_kiis_version is None else str(campaign.current_kiis_version)
    if formdata is None:
        form.amount.data = str(campaign.min_pledge / 10 ** minor_digits(campaign.currency))
    return form


#: Pledge statuses for people (the shared ``label`` table names campaign states).
STATUS_LABELS = {
    "pending_payment": _l("Awaiting payment"),
    "paid": _l("Paid"),
    "failed": _l("Payment failed"),
    "expired": _l("Expired unpaid"),
    "revoked": _l("Revoked, refund pending"),
    "refunded": _l("Refunded"),
    "settled": _l("Invested"),
}


def pledge_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@bp.app_context_processor
def pledge_helpers() -> dict[str, Any]:
    """``pledge_box(campaign)`` for the campaign page: what the pledge section shows to this visitor."""

    def pledge_box(campaign) -> dict[str, Any]:
        actor = current_actor()
        box: dict[str, Any] = {"show": False, "operator": actor is not None and can(actor, Permission.REVIEW_CAMPAIGNS)}
        if campaign.status != "live" or actor is None or not can(actor, Permission.INVEST):
            return box
        at = now()
        readiness = investors.readiness(actor, at)
        box.update(show=True, ready=readiness.ready, readiness=readiness,
                   room=max(0, campaign.max_amount - campaign.raised_amount - campaign.reserved_amount),
                   open=campaign.closes_at > at)
        if readiness.ready:
            box["form"] = _pledge_form(campaign)
        return box

    return {"pledge_box": pledge_box, "pledge_label": pledge_label}


@bp.get("/")
@requires()
def index():
    """My pledges: status, reflection deadline, and the revoke button while it applies."""
    actor = _actor()
    pledges = list(db.session.scalars(services.pledges_query(actor))) if can(actor, Permission.INVEST) else []
    return render_template("payments/index.html", pledges=pledges, at=now(),
                           revocable=services.is_revocable)


def _form_data(form: PledgeForm, currency: str) -> dict:
    try:
        amount = parse_typed(form.amount.data or "", currency)
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("The pledge is invalid."), {
            "amount": [_("Enter an amount such as 500 or 500.50 (at most %(digits)s decimals).",
                         digits=minor_digits(currency))]}) from None
    data: dict[str, Any] = {"amount": amount, "payment_method": form.payment_method.data or "",
                            "acknowledge_risk": bool(form.acknowledge_risk.data)}
    if (form.kiis_version.data or "").isdigit():
        data["kiis_version"] = int(form.kiis_version.data)
    return data


@bp.route("/campaigns/<int:campaign_id>/pledge", methods=["GET", "POST"])
@requires(Permission.INVEST)
@pledge_attempts
def pledge(campaign_id: int):
    """The pledge form (also embedded on the campaign page); a POST pledges and charges the card."""
    actor = _actor()
    campaign = campaigns.get_visible(campaign_id, actor)
    readiness = investors.readiness(actor, now())
    if request.method == "GET":
        return render_template("payments/pledge.html", campaign=campaign, form=_pledge_form(campaign),
                               readiness=readiness, ask_ack=False, ack_message=None, warning=limits.RISK_WARNING)
    form = PledgeForm()
    form.set_choices(_payment_choices())
    status, ask_ack, ack_message = 422, False, None
    if form.validate_on_submit():
        try:
            data = _form_data(form, campaign.currency)
            outcome = services.create_pledge(
                actor, campaign.id, data, now=now(), idempotency_key=f"form-{form.idempotency_token.data}",
                return_url=lambda pid: url_for("payments.authenticate", pledge_id=pid, _external=True),
                ip_address=request.remote_addr)
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            status = exc.status
            ask_ack = "acknowledge_risk" in exc.errors
            ack_message = exc.detail if ask_ack else None
            errors = {k: v for k, v in exc.errors.items() if k != "acknowledge_risk"}
            apply_errors(form, type(exc)(exc.detail, errors) if errors else exc, {"Idempotency-Key": "amount"})
        else:
            pledge = outcome.pledge
            if pledge.status == PledgeStatus.PENDING_PAYMENT and pledge.next_action_url:
                return redirect(url_for("payments.authenticate", pledge_id=pledge.id))
            if pledge.payment_method == methods.BANK_TRANSFER and pledge.status == PledgeStatus.PENDING_PAYMENT:
                flash(_("Your pledge of %(amount)s waits for your bank transfer: the details are below.",
                        amount=format_money(pledge.amount, pledge.currency)), "success")
            elif not outcome.replayed:
                flash(_("Thank you: your pledge of %(amount)s is paid.",
                        amount=format_money(pledge.amount, pledge.currency)), "success")
            return redirect(url_for("payments.detail", pledge_id=pledge.id))
    # Every re-render gets a new token: the failed attempt may have used the old one.
    form.idempotency_token.data = new_token()
    form.acknowledge_risk.data = False
    form.kiis_version.data = "" if campaign.current_kiis_version is None else str(campaign.current_kiis_version)
    return render_template("payments/pledge.html", campaign=campaign, form=form, readiness=readiness,
                           ask_ack=ask_ack, ack_message=ack_message, warning=limits.RISK_WARNING), status


@bp.get("/pledges/<int:pledge_id>")
@requires()
def detail(pledge_id: int):
    """The confirmation page of one pledge."""
    pledge = services.get_pledge(pledge_id, _actor())
    own = services.is_own(pledge, _actor())
    return render_template("payments/detail.html", pledge=pledge, at=now(),
                           revocable=services.is_revocable(pledge, now()) and own,
                           instructions=services.instructions(pledge) if own else None,
                           qr_svg=services.qr_svg(pledge) if own and pledge.status == PledgeStatus.PENDING_PAYMENT
                           else None)


@bp.route("/pledges/<int:pledge_id>/authenticate", methods=["GET", "POST"])
@requires(Permission.INVEST)
def authenticate(pledge_id: int):
    """The sandbox's stand-in for the bank's 3-D Secure page (and the return page after Stripe's)."""
    actor = _actor()
    pledge = services.get_own_pledge(pledge_id, actor)
    form = ActionForm()
    if request.method == "GET":
        if pledge.status == PledgeStatus.PENDING_PAYMENT and gateway().name != "sandbox":
            services.reconcile_pledge(pledge, now=now())
            db.session.commit()
        if pledge.status != PledgeStatus.PENDING_PAYMENT:
            return redirect(url_for("payments.detail", pledge_id=pledge.id))
        return render_template("payments/authenticate.html", pledge=pledge, form=form)
    if not form.validate_on_submit():
        abort(400)
    try:
        if request.form.get("action") == "confirm":
            services.confirm_pledge(pledge.id, actor, now=now())
            flash(_("Thank you: your pledge of %(amount)s is paid.",
                    amount=format_money(pledge.amount, pledge.currency)), "success")
        else:
            services.abort_pledge(pledge.id, actor, now=now())
            flash(_("You cancelled the payment; the pledge was not made."), "info")
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(exc.detail, "error")
    return redirect(url_for("payments.detail", pledge_id=pledge.id))


@bp.route("/pledges/<int:pledge_id>/revoke", methods=["GET", "POST"])
@requires(Permission.INVEST)
def revoke(pledge_id: int):
    """Revoke during the reflection period: the same means as investing. The buttons lead to
    this page first (GET), which says what revoking does; only its button revokes (POST)."""
    form = ActionForm()
    if request.method == "GET":
        pledge = services.get_own_pledge(pledge_id, _actor())
        if not services.is_revocable(pledge, now()):
            flash(_("This pledge can no longer be revoked."), "info")
            return redirect(url_for("payments.detail", pledge_id=pledge.id))
        return render_template("payments/revoke.html", pledge=pledge, action_form=form,
                               to_wallet=pledge.payment_method in (methods.WALLET, methods.BANK_TRANSFER))
    if not form.validate_on_submit():
        abort(400)
    try:
        pledge = services.revoke_pledge(pledge_id, _actor(), now=now(), ip_address=request.remote_addr)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(exc.detail, "error")
    else:
        if pledge.status == PledgeStatus.REFUNDED:
            flash(_("Your pledge is revoked and %(amount)s is on its way back to your card.",
                    amount=format_money(pledge.amount, pledge.currency)), "success")
        else:
            flash(_("Your pledge is revoked; the refund will follow shortly."), "info")
    return redirect(url_for("payments.index"))


@bp.get("/campaigns/<int:campaign_id>/ledger")
@requires(Permission.REVIEW_CAMPAIGNS)
def campaign_ledger(campaign_id: int):
    """The operator's view of a campaign's escrow: its balance, every transaction and pledge."""
    return render_template("payments/ledger.html", **services.campaign_money(campaign_id, _actor()))
