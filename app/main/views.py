"""The home page, the language switch and a health check for load balancers."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import text

from app.accounts import services as accounts
from app.api.openapi import cached_spec
from app.api.reference import reference
from app.campaigns import services as campaigns
from app.core.clock import now
from app.core.permissions import Permission, requires
from app.extensions import db

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    featured = campaigns.featured(limit=12)
    return render_template("main/index.html", campaigns=featured)


@bp.get("/developers/api")
def api_reference():
    """The API reference for people, laid out from the OpenAPI document the API serves."""
    return render_template("api/docs.html", ref=reference(cached_spec()))


@bp.post("/language")
def set_language():
    """Remember the chosen language in the session and go back where the visitor was."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            accounts.set_locale(current_user._get_current_object(), lang)
            db.session.commit()
    target = request.form.get("next") or url_for("main.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("main.index")
    return redirect(target)


@bp.get("/operator/")
@requires(Permission.REVIEW_CAMPAIGNS)
def operator_dashboard():
    """The operator's queues with their counts, each a link to the queue itself."""
    from app.complaints import services as complaints
    from app.investors import services as investors
    from app.statements import services as statements
    from app.wallets import services as wallets

    return render_template(
        "main/operator.html", reviews=len(campaigns.review_queue()),
        identities=investors.count(investors.verification_queue()),
        classifications=investors.count(investors.classification_queue()),
        unmatched=statements.unmatched_count(), complaints=complaints.open_count(),
        overdue=complaints.open_count(overdue_at=now()), withdrawals=wallets.waiting_totals())


@bp.get("/healthz")
def health():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
