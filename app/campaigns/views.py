"""Public campaign pages."""

from flask import Blueprint, abort, render_template, request

from app.campaigns import services
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.pagination import page_args, paginate

bp = Blueprint("campaigns", __name__)


@bp.get("/")
def index():
    try:
        page, per_page = page_args(request.args, default_per_page=12)
    except ValidationFailed:
        page, per_page = 1, 12
    pagination = paginate(services.public_query(), page, per_page)
    return render_template("campaigns/index.html", pagination=pagination)


@bp.get("/<int:campaign_id>")
def detail(campaign_id: int):
    campaign = services.get_public(campaign_id)
    if campaign is None:
        abort(404)
    days_left = max(0, (campaign.closes_at - now()).days)
    return render_template("campaigns/detail.html", campaign=campaign, days_left=days_left)
