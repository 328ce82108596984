"""The wallet: balances, movements, the bank account, withdrawals; the operator's payment files."""

from flask import Response, g, request, url_for

from app.api import bp, json_body
from app.api.openapi import PAGE, document
from app.core.clock import now
from app.core.pagination import envelope, page_args, paginate
from app.core.permissions import Permission, requires
from app.extensions import db
from app.wallets import services
from app.wallets.schemas import (
    BankAccountInputSchema,
    BankAccountSchema,
    BatchInputSchema,
    BatchSchema,
    MovementSchema,
    WalletSchema,
    WithdrawalInputSchema,
    WithdrawalSchema,
)

document("/me/wallet", "get", "The wallet's balances per currency (investor, fund manager: the fund's)",
         response=WalletSchema)
document("/me/wallet/movements", "get", "The wallet's movements, newest first, paginated", response=MovementSchema,
         paged=True, query=PAGE)
document("/me/bank-account", "put", "Set (replace) the bank account withdrawals are paid into",
         request=BankAccountInputSchema, response=BankAccountSchema)
document("/me/withdrawals", "post", "Withdraw from the available balance to the bank account; honours an "
         "Idempotency-Key header; 409 without a bank account", request=WithdrawalInputSchema, status=201,
         response=WithdrawalSchema, idempotent=True, errors=(409,))
document("/me/withdrawals", "get", "The caller's own withdrawals, paginated", response=WithdrawalSchema,
         paged=True, query=PAGE)
document("/withdrawals/batches", "post", "Operator: every requested withdrawal of a currency into one pain.001 "
         "file; 409 when none is waiting", request=BatchInputSchema, body_optional=True, status=201,
         response=BatchSchema, errors=(409,))
document("/withdrawals/batches/{batch_id}/file", "get", "Operator: the pain.001.001.03 XML of a payment file",
         media=("application/xml",))

_withdrawal = WithdrawalSchema().dump
_movement = MovementSchema().dump


def _batch(batch) -> dict:
    return BatchSchema().dump({"id": batch.id, "count": batch.count, "total": batch.total,
                               "currency": batch.currency, "created_at": batch.created_at,
                               "file_url": url_for("api.withdrawal_batch_file", batch_id=batch.id)})


@bp.get("/me/wallet")
@requires(Permission.INVEST)
def get_wallet():
    return WalletSchema().dump({"balances": services.balances(g.api_user)})


@bp.get("/me/wallet/movements")
@requires(Permission.INVEST)
def wallet_movements():
    page, per_page = page_args(request.args)
    listed = services.movements(g.api_user, page, per_page)
    return listed | {"items": [_movement(item) for item in listed["items"]]}


@bp.put("/me/bank-account")
@requires(Permission.INVEST)
def put_bank_account():
    account = services.set_bank_account(g.api_user, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return BankAccountSchema().dump(services.masked(account))


@bp.post("/me/withdrawals")
@requires(Permission.INVEST)
def create_withdrawal():
    outcome = services.request_withdrawal(g.api_user, json_body(), now=now(),
                                          idempotency_key=request.headers.get("Idempotency-Key"),
                                          ip_address=request.remote_addr)
    db.session.commit()
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return _withdrawal(outcome.withdrawal), 201, headers


@bp.get("/me/withdrawals")
@requires(Permission.INVEST)
def list_withdrawals():
    page, per_page = page_args(request.args)
    return envelope(paginate(services.withdrawals_query(g.api_user), page, per_page), _withdrawal)


@bp.post("/withdrawals/batches")
@requires(Permission.PAY_WITHDRAWALS)
def create_withdrawal_batch():
    body = json_body() if request.get_data() else {}
    batch = services.create_batch(g.api_user, body, now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return _batch(batch), 201


@bp.get("/withdrawals/batches/<int:batch_id>/file")
@requires(Permission.PAY_WITHDRAWALS)
def withdrawal_batch_file(batch_id: int):
    batch = services.get_batch(batch_id, g.api_user)
    return Response(batch.xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="withdrawals-{batch.id}.xml"'})
