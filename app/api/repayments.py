"""Repayments: the instalment schedule, paying an instalment, the repayment mandate."""

from flask import g, request

from app.api import bp, json_body
from app.api.openapi import document
from app.core.clock import now
from app.core.permissions import Permission, requires
from app.extensions import db
from app.loans import collection
from app.loans.schemas import InstalmentSchema, MandateSchema

document("/campaigns/{campaign_id}/instalments", "get", "The loan's instalments in order (the owner, the operator)",
         response=InstalmentSchema, many=True)
document("/instalments/{instalment_id}/pay", "post", "The owner pays a due instalment now; honours an "
         "Idempotency-Key header; 402 declined, 409 already paid", request=collection.PayInputSchema,
         response=InstalmentSchema, idempotent=True, errors=(402, 409))
document("/campaigns/{campaign_id}/repayment-mandate", "put", "The owner's payment method each instalment is "
         "collected from on its due date; `payment_method: null` removes it", request=collection.MandateInputSchema,
         response=MandateSchema, errors=(409,))

_instalment = InstalmentSchema().dump


@bp.get("/campaigns/<int:campaign_id>/instalments")
@requires()
def list_instalments(campaign_id: int):
    return [_instalment(row) for row in collection.schedule(campaign_id, g.api_user)]


@bp.post("/instalments/<int:instalment_id>/pay")
@requires(Permission.CREATE_CAMPAIGN)
def pay_instalment(instalment_id: int):
    instalment, replayed = collection.pay_by_hand(instalment_id, g.api_user, json_body(), now=now(),
                                                  idempotency_key=request.headers.get("Idempotency-Key"))
    row = next(r for r in collection.schedule(instalment.loan.campaign_id, g.api_user) if r["id"] == instalment.id)
    return _instalment(row), 200, {"Idempotent-Replayed": "true"} if replayed else {}


@bp.put("/campaigns/<int:campaign_id>/repayment-mandate")
@requires(Permission.CREATE_CAMPAIGN)
def put_repayment_mandate(campaign_id: int):
    campaign = collection.set_mandate(campaign_id, g.api_user, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return MandateSchema().dump({"campaign_id": campaign.id, "payment_method": collection.mandate_method(campaign),
                                 "set_at": campaign.repayment_mandate_set_at})
