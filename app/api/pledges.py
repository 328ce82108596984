"""Pledges: pledge with a card, list and read one's own, revoke during the reflection period."""

from flask import g, request, url_for

from app.accounts.limits import pledge_attempts
from app.api import bp, json_body
from app.api.openapi import PAGE, document
from app.core.clock import now
from app.core.pagination import envelope, page_args, paginate
from app.core.permissions import Permission, requires
from app.payments import services
from app.payments.schemas import PledgeInputSchema, PledgeSchema

document("/campaigns/{campaign_id}/pledges", "post",
         "Pledge to a live campaign (investor, fund manager); honours an Idempotency-Key header; "
         "402 when the card is declined", request=PledgeInputSchema, status=201, response=PledgeSchema,
         idempotent=True, errors=(402, 409))
document("/pledges", "get", "The caller's own pledges (a fund manager's are the fund's), paginated",
         response=PledgeSchema, paged=True, query=PAGE)
document("/pledges/{pledge_id}", "get", "One pledge (its investor or the operator)", response=PledgeSchema)
document("/pledges/{pledge_id}/revoke", "post", "Revoke during the reflection period; the money is refunded",
         response=PledgeSchema, errors=(409,))

_dump = PledgeSchema().dump


def _return_url(pledge_id: int) -> str:
    return url_for("payments.authenticate", pledge_id=pledge_id, _external=True)


@bp.post("/campaigns/<int:campaign_id>/pledges")
@requires(Permission.INVEST)
@pledge_attempts
def create_pledge(campaign_id: int):
    outcome = services.create_pledge(
        g.api_user, campaign_id, json_body(), now=now(), idempotency_key=request.headers.get("Idempotency-Key"),
        return_url=_return_url, ip_address=request.remote_addr)
    headers = {"Location": url_for("api.get_pledge", pledge_id=outcome.pledge.id)}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _dump(outcome.pledge), 201, headers


@bp.get("/pledges")
@requires(Permission.INVEST)
def list_pledges():
    page, per_page = page_args(request.args)
    return envelope(paginate(services.pledges_query(g.api_user), page, per_page), _dump)


@bp.get("/pledges/<int:pledge_id>")
@requires()
def get_pledge(pledge_id: int):
    return _dump(services.get_pledge(pledge_id, g.api_user))


@bp.post("/pledges/<int:pledge_id>/revoke")
@requires(Permission.INVEST)
def revoke_pledge(pledge_id: int):
    pledge = services.revoke_pledge(pledge_id, g.api_user, now=now(), ip_address=request.remote_addr)
    return _dump(pledge)
