"""Campaigns: browse, draft, submit, review."""

from flask import current_app, g, request, url_for

from app.api import bp, json_body
from app.api.openapi import document
from app.campaigns import services
from app.campaigns.notices import Links
from app.campaigns.schemas import (
    AmendSchema,
    ApproveSchema,
    CampaignFilterSchema,
    CampaignInputSchema,
    CampaignSchema,
    RejectSchema,
)
from app.core.clock import now
from app.core.pagination import envelope, paginate
from app.core.permissions import Permission, requires
from app.extensions import db

document("/campaigns", "get", "Live and past campaigns; filters status, category, sdg, country, q, sort",
         query=CampaignFilterSchema, response=CampaignSchema, paged=True, auth=False)
document("/campaigns", "post", "Create a draft campaign (owner)", request=CampaignInputSchema, status=201,
         response=CampaignSchema)
document("/campaigns/{campaign_id}", "get", "One campaign (drafts only for their owner and the operator)",
         response=CampaignSchema, auth=False)
document("/campaigns/{campaign_id}", "patch", "Change a draft (owner)", request=CampaignInputSchema,
         response=CampaignSchema, errors=(409,))
document("/campaigns/{campaign_id}/submit", "post", "Submit a draft for review (owner)", response=CampaignSchema,
         errors=(409,))
document("/campaigns/{campaign_id}/approve", "post", "Approve with a risk class; freezes a KIIS (operator)",
         request=ApproveSchema, response=CampaignSchema, errors=(409,))
document("/campaigns/{campaign_id}/reject", "post", "Send back to draft with a reason (operator)",
         request=RejectSchema, response=CampaignSchema, errors=(409,))
document("/campaigns/{campaign_id}/cancel", "post", "Cancel an approved or live round (operator)",
         response=CampaignSchema, errors=(409,))

document("/campaigns/{campaign_id}/amend", "post",
         "Change an approved or live offer's terms; freezes the next KIIS version (operator)",
         request=AmendSchema, response=CampaignSchema, errors=(409,))

_dump = CampaignSchema().dump


@bp.get("/campaigns")
def list_campaigns():
    filters = services.parse_filters(request.args)
    pagination = paginate(services.browse_query(filters), filters["page"], filters["per_page"])
    return envelope(pagination, _dump)


@bp.post("/campaigns")
@requires(Permission.CREATE_CAMPAIGN)
def create_campaign():
    campaign = services.create_draft(g.api_user, json_body(), now=now())
    db.session.commit()
    return _dump(campaign), 201, {"Location": url_for("api.get_campaign", campaign_id=campaign.id)}


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int):
    return _dump(services.get_visible(campaign_id, g.api_user))


@bp.patch("/campaigns/<int:campaign_id>")
@requires(Permission.CREATE_CAMPAIGN)
def patch_campaign(campaign_id: int):
    campaign = services.get_visible(campaign_id, g.api_user)
    body = json_body()
    services.update_draft(campaign, g.api_user, body, now=now())
    db.session.commit()
    return _dump(campaign)


@bp.post("/campaigns/<int:campaign_id>/submit")
@requires(Permission.CREATE_CAMPAIGN)
def submit_campaign(campaign_id: int):
    campaign = services.get_visible(campaign_id, g.api_user)
    services.submit(campaign, g.api_user, now=now())
    db.session.commit()
    return _dump(campaign)


@bp.post("/campaigns/<int:campaign_id>/approve")
@requires(Permission.REVIEW_CAMPAIGNS)
def approve_campaign(campaign_id: int):
    campaign = services.get_visible(campaign_id, g.api_user)
    services.approve(campaign, g.api_user, json_body(), now=now(), fee_bps=current_app.config["PLATFORM_FEE_BPS"])
    db.session.commit()
    return _dump(campaign)


@bp.post("/campaigns/<int:campaign_id>/reject")
@requires(Permission.REVIEW_CAMPAIGNS)
def reject_campaign(campaign_id: int):
    campaign = services.get_visible(campaign_id, g.api_user)
    services.reject(campaign, g.api_user, json_body(), now=now())
    db.session.commit()
    return _dump(campaign)


@bp.post("/campaigns/<int:campaign_id>/cancel")
@requires(Permission.REVIEW_CAMPAIGNS)
def cancel_campaign(campaign_id: int):
    campaign = services.get_visible(campaign_id, g.api_user)
    body = request.get_json(silent=True)
    reason = str(body.get("reason", ""))[:500] if isinstance(body, dict) else ""
    services.cancel(campaign, g.api_user, now=now(), reason=reason)
    db.session.commit()
    return _dump(campaign)


_AMENDMENT_LINKS = Links(
    kiis_pdf=lambda campaign_id, version: url_for("campaigns.kiis", campaign_id=campaign_id, version=version,
                                                  fmt="pdf", _external=True),
    pledge=lambda pledge_id: url_for("payments.detail", pledge_id=pledge_id, _external=True),
    complaints=lambda: url_for("complaints.new", _external=True))


@bp.post("/campaigns/<int:campaign_id>/amend")
@requires(Permission.REVIEW_CAMPAIGNS)
def amend_campaign(campaign_id: int):
    campaign = services.get_visible(campaign_id, g.api_user)
    services.amend_terms(campaign, g.api_user, json_body(), now=now(), fee_bps=current_app.config["PLATFORM_FEE_BPS"],
                         links=_AMENDMENT_LINKS)
    db.session.commit()
    return _dump(campaign)
