"""The wallet pages: balances, movements, the bank account and withdrawals for investors and
fund managers; the waiting withdrawals and their payment files for the operator."""

from decimal import InvalidOperation

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.banking.iban import format_iban, mask_iban
from app.core.clock import now
from app.core.errors import DomainError, ValidationFailed
from app.core.forms import apply_errors
from app.core.money import format_money, minor_digits, parse_typed
from app.core.pagination import paginate
from app.core.permissions import Permission, current_actor, requires
from app.extensions import db
from app.payments.forms import new_token
from app.wallets import services
from app.wallets.forms import BankAccountForm, BatchForm, WithdrawalForm

bp = Blueprint("wallets", __name__)

PER_PAGE = 20


def _page_number() -> int:
    page = request.args.get("page", "1")
    return max(int(page), 1) if page.isdigit() and len(page) < 7 else 1


def _withdrawal_form(balances: list[dict]) -> WithdrawalForm:
    form = WithdrawalForm()
    form.currency.choices = [(b["currency"], b["currency"]) for b in balances] or [("EUR", "EUR")]
    if not form.idempotency_token.data:
        form.idempotency_token.data = new_token()
    return form


def _render(bank_form: BankAccountForm | None = None, withdrawal_form: WithdrawalForm | None = None,
            status: int = 200):
    actor = current_actor()
    balances = services.balances(actor)
    account = services.bank_account(actor)
    if bank_form is None:
        bank_form = BankAccountForm(formdata=None)
        if account is not None:
            bank_form.holder_name.data, bank_form.bic.data = account.holder_name, account.bic or ""
    withdrawal_form = withdrawal_form or _withdrawal_form(balances)
    page = _page_number()
    movements = services.movements(actor, page, PER_PAGE)
    withdrawals = paginate(services.withdrawals_query(actor), 1, PER_PAGE)
    return render_template("wallets/show.html", balances=balances, account=account, bank_form=bank_form,
                           withdrawal_form=withdrawal_form, movements=movements, withdrawals=withdrawals,
                           masked=mask_iban, pages=max(1, -(-movements["total"] // PER_PAGE))), status


@bp.get("/wallet")
@requires(Permission.INVEST)
def show():
    return _render()


@bp.post("/wallet/bank-account")
@requires(Permission.INVEST)
def bank_account():
    form = BankAccountForm()
    if form.validate_on_submit():
        try:
            services.set_bank_account(current_actor(), {"holder_name": form.holder_name.data or "",
                                                        "iban": form.iban.data or "", "bic": form.bic.data or None},
                                      now=now(), ip_address=request.remote_addr)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
            return _render(bank_form=form, status=exc.status)
        db.session.commit()
        flash(_("Bank account saved: withdrawals are paid into it."), "success")
        return redirect(url_for("wallets.show"))
    return _render(bank_form=form, status=422)


@bp.post("/wallet/withdrawals")
@requires(Permission.INVEST)
def withdraw():
    actor = current_actor()
    form = _withdrawal_form(services.balances(actor))
    if form.validate_on_submit():
        currency = form.currency.data or ""
        try:
            try:
                amount = parse_typed(form.amount.data or "", currency or "EUR")
            except (InvalidOperation, ValueError):
                raise ValidationFailed(_("The withdrawal is invalid."), {"amount": [
                    _("Enter an amount such as 100 or 100.50 (at most %(digits)s decimals).",
                      digits=minor_digits(currency or "EUR"))]}) from None
            outcome = services.request_withdrawal(actor, {"amount": amount, "currency": currency}, now=now(),
                                                  idempotency_key=f"form-{form.idempotency_token.data}",
                                                  ip_address=request.remote_addr)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc, {"Idempotency-Key": "amount", "bank_account": "amount"})
            form.idempotency_token.data = new_token()
            return _render(withdrawal_form=form, status=exc.status)
        db.session.commit()
        w = outcome.withdrawal
        flash(_("Withdrawal of %(amount)s requested: it goes out with the next payment file to %(iban)s.",
                amount=format_money(w.amount, w.currency), iban=mask_iban(w.iban)), "success")
        return redirect(url_for("wallets.show"))
    form.idempotency_token.data = new_token()
    return _render(withdrawal_form=form, status=422)


# --- the operator ----------------------------------------------------------------------------


@bp.get("/operator/withdrawals")
@requires(Permission.PAY_WITHDRAWALS)
def batches():
    page = paginate(services.batches_query(), _page_number(), PER_PAGE)
    return render_template("wallets/batches.html", waiting=services.waiting_totals(), batches=page,
                           form=BatchForm(), format_iban=format_iban)


@bp.post("/operator/withdrawals/batches")
@requires(Permission.PAY_WITHDRAWALS)
def create_batch():
    form = BatchForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("wallets.batches"))
    try:
        batch = services.create_batch(current_actor(), {"currency": form.currency.data or "EUR"}, now=now(),
                                      ip_address=request.remote_addr)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.detail, "error")
        return redirect(url_for("wallets.batches"))
    db.session.commit()
    flash(_("Payment file %(id)s: %(count)s withdrawals, %(total)s. Download it and upload it to the bank.",
            id=batch.message_id, count=batch.count, total=format_money(batch.total, batch.currency)), "success")
    return redirect(url_for("wallets.batches"))


@bp.get("/operator/withdrawals/batches/<int:batch_id>.xml")
@requires(Permission.PAY_WITHDRAWALS)
def batch_file(batch_id: int):
    batch = services.get_batch(batch_id, current_actor())
    return Response(batch.xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="withdrawals-{batch.id}.xml"'})


@bp.get("/operator/withdrawals/batches/<int:batch_id>")
@requires(Permission.PAY_WITHDRAWALS)
def batch(batch_id: int):
    found = services.get_batch(batch_id, current_actor())
    return render_template("wallets/batch.html", batch=found, withdrawals=services.batch_withdrawals(found),
                           masked=mask_iban)
