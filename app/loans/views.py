"""The owner pays an instalment; the campaign page shows the schedule."""

import secrets

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField

from app.core.clock import now
from app.core.errors import DomainError
from app.core.permissions import Permission, current_actor, requires
from app.extensions import db
from app.loans import collection, services
from app.payments.gateways import gateway

bp = Blueprint("loans", __name__)


class PayInstalmentForm(FlaskForm):
    payment_method = SelectField(_l("Pay with"), validate_choice=False)
    #: A fresh token per render: a double click pays once, a retry after a decline is a new attempt.
    attempt = HiddenField(default=lambda: secrets.token_urlsafe(12))

    def set_choices(self) -> "PayInstalmentForm":
        choices = getattr(gateway(), "payment_method_choices", lambda: [])()
        self.payment_method.choices = [SelectChoice(value, label) for value, label in choices]
        return self


@bp.post("/instalments/<int:instalment_id>/pay")
@requires(Permission.CREATE_CAMPAIGN)
def pay(instalment_id: int):
    instalment = services.owner_instalment(instalment_id, current_actor())
    campaign_id = instalment.loan.campaign_id
    form = PayInstalmentForm().set_choices()
    if not form.validate_on_submit() or not form.payment_method.data:
        flash(_("Choose how to pay."), "error")
    else:
        try:  # a boundary: it commits its claim and its result itself
            services.pay_instalment(instalment, payment_method=form.payment_method.data, now=now(),
                                    attempt=(form.attempt.data or "form")[:40])
        except DomainError as exc:
            db.session.rollback()
            flash(exc.detail, "error")
        else:
            flash(_("Instalment %(number)s paid and distributed to the investors.", number=instalment.number),
                  "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id, _anchor="repayments"))


@bp.post("/campaigns/<int:campaign_id>/mandate")
@requires(Permission.CREATE_CAMPAIGN)
def mandate(campaign_id: int):
    """Save, replace or remove the payment method instalments are collected from."""
    form = PayInstalmentForm().set_choices()
    remove = request.form.get("remove") == "1"
    if not form.validate_on_submit() or (not remove and not form.payment_method.data):
        flash(_("Choose the payment method to collect from."), "error")
    else:
        try:
            collection.set_mandate(campaign_id, current_actor(),
                                   {"payment_method": None if remove else form.payment_method.data}, now=now(),
                                   ip_address=request.remote_addr)
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 404:
                raise
            flash(" ".join([exc.detail, *[m for ms in exc.errors.values() for m in ms]]), "error")
        else:
            db.session.commit()
            flash(_("Automatic repayment switched off: pay each instalment here when it is due.") if remove else
                  _("Payment method saved: each instalment is collected on its due date."), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id, _anchor="mandate"))
