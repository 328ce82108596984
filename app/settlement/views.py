"""Payout accounts for owners; bank transfers recorded by the operator."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired

from app.core.clock import now
from app.core.errors import DomainError
from app.core.permissions import Permission, current_actor, requires
from app.extensions import db
from app.settlement import services

bp = Blueprint("settlement", __name__)


class BankTransferForm(FlaskForm):
    reference = StringField(_l("Bank reference"), validators=[InputRequired()])


class ConnectForm(FlaskForm):
    """CSRF only."""


@bp.post("/payout-account")
@requires(Permission.CREATE_CAMPAIGN)
def connect():
    if ConnectForm().validate_on_submit():
        try:
            services.connect_payout_account(current_actor(), now=now())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.detail, "error")
        else:
            db.session.commit()
            flash(_("Payout account connected: future payouts are transferred to it."), "success")
    return redirect(url_for("campaigns.mine"))


@bp.get("/payouts")
@requires(Permission.REVIEW_CAMPAIGNS)
def payouts():
    return render_template("settlement/payouts.html", payouts=services.awaiting_bank_transfer(),
                           form=BankTransferForm())


@bp.post("/payouts/<int:payout_id>/bank-transfer")
@requires(Permission.REVIEW_CAMPAIGNS)
def record_bank_transfer(payout_id: int):
    form = BankTransferForm()
    if not form.validate_on_submit():
        flash(_("Enter the bank's reference of the transfer."), "error")
        return redirect(url_for("settlement.payouts"))
    try:
        services.record_bank_transfer(payout_id, current_actor(), form.reference.data, now=now())
    except DomainError as exc:
        db.session.rollback()
        flash(" ".join([exc.detail, *[m for ms in exc.errors.values() for m in ms]]), "error")
    else:
        db.session.commit()
        flash(_("Bank transfer recorded."), "success")
    return redirect(url_for("settlement.payouts"))
