"""Disclosure pages for regulators and the operator, and the public transparency page.

The URL surface (one blueprint, registered without a prefix):

- ``/transparency`` — anyone: the platform's figures and projected impact;
- ``/disclosures/`` — regulator, operator: the index of what can be downloaded;
- ``/disclosures/campaigns/<id>`` and ``…/kiis/<version>.<pdf|json>`` — KIIS versions;
- ``/disclosures/reports/<year>`` (``?format=csv``) — the periodic report;
- ``/disclosures/exports/pledges.csv?from=&to=`` — the streamed pledge ledger;
- ``/disclosures/audit-log`` (``?from=&to=&page=``, ``?format=csv``) — the audit log.

Every ``/disclosures`` page except the index is audited like its API twin.
"""

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.pagination import page_args, paginate
from app.core.permissions import Permission, current_actor, requires
from app.disclosures import exports, reports, responses, services
from app.extensions import db

bp = Blueprint("disclosures", __name__)


@bp.get("/transparency")
def transparency():
    from app.disclosures import default_rates

    return render_template("disclosures/transparency.html", figures=reports.transparency(now=now()),
                           default_rates=default_rates.default_rates(now()))


@bp.route("/disclosures/expected-default-rates", methods=["GET", "POST"])
@requires(Permission.SET_EXPECTED_DEFAULTS)
def expected_default_rates():
    """The operator sets each risk class's expected default rate and its assumptions (one form per class)."""
    from app.disclosures import default_rates

    errors: dict[str, dict[str, list[str]]] = {}
    status = 200
    if request.method == "POST":
        risk = request.form.get("risk_class", "")
        if not FlaskForm().validate_on_submit():
            abort(400)
        try:
            default_rates.set_expected(current_actor(), risk, request.form, now=now(), ip_address=request.remote_addr)
        except ValidationFailed as exc:
            db.session.rollback()
            errors[risk], status = exc.errors, 422
        else:
            db.session.commit()
            flash(_("The expected default rate of class %(risk)s is saved.", risk=risk), "success")
            return redirect(url_for("disclosures.expected_default_rates"))
    return render_template("disclosures/expected_default_rates.html", rates=default_rates.default_rates(now()),
                           errors=errors, typed=request.form, form=FlaskForm()), status


def _index(errors: dict[str, list[str]] | None = None, status: int = 200):
    today = now().date()
    years = list(range(today.year, reports.FIRST_YEAR - 1, -1))
    return render_template(
        "disclosures/index.html", campaigns=services.campaigns_with_kiis(), years=years, errors=errors or {},
        export_from=request.args.get("from") or date(today.year, 1, 1).isoformat(),
        export_to=request.args.get("to") or today.isoformat(), max_days=exports.MAX_RANGE_DAYS,
    ), status


@bp.get("/disclosures/")
@requires(Permission.READ_DISCLOSURES)
def index():
    return _index()


@bp.get("/disclosures/campaigns/<int:campaign_id>")
@requires(Permission.READ_DISCLOSURES)
def campaign_kiis(campaign_id: int):
    campaign, versions = responses.kiis_listing(current_actor(), campaign_id)
    return render_template("disclosures/campaign.html", campaign=campaign, versions=versions)


@bp.get("/disclosures/campaigns/<int:campaign_id>/kiis/<int:version>.<fmt>")
@requires(Permission.READ_DISCLOSURES)
def kiis_document(campaign_id: int, version: int, fmt: str):
    return responses.kiis_response(current_actor(), campaign_id, version, fmt)


@bp.get("/disclosures/reports/<year>")
@requires(Permission.READ_DISCLOSURES)
def report(year: str):
    fmt = responses.output_format(("html", "csv"))
    data = responses.report(current_actor(), year)
    if fmt == "csv":
        return responses.report_csv_response(data)
    return render_template("disclosures/report.html", report=data, risk_classes=reports.RISK_CLASSES)


@bp.get("/disclosures/exports/pledges.csv")
@requires(Permission.READ_DISCLOSURES)
def pledges_export():
    try:
        return responses.pledges_export_response(current_actor())
    except ValidationFailed as exc:
        return _index(exc.errors, 422)


@bp.get("/disclosures/reports/<year>/projects")
@requires(Permission.READ_DISCLOSURES)
def projects(year: str):
    fmt = responses.output_format(("html", "csv", "xlsx"))
    found = responses.projects(current_actor(), year, "json" if fmt == "html" else fmt)
    if fmt != "html":
        return found
    return render_template("disclosures/projects.html", **found)


@bp.get("/disclosures/register-of-contracts.csv")
@requires(Permission.READ_DISCLOSURES)
def register_of_contracts():
    try:
        return responses.register_of_contracts_response(current_actor())
    except ValidationFailed as exc:
        return _index({f"contracts_{name}": messages for name, messages in exc.errors.items()}, 422)


@bp.get("/disclosures/complaints.csv")
@requires(Permission.READ_DISCLOSURES)
def complaints_register():
    return responses.complaints_csv_response(current_actor())


@bp.get("/disclosures/audit-log")
@requires(Permission.READ_DISCLOSURES)
def audit_log():
    fmt = responses.output_format(("html", "csv"))
    rng = exports.parse_range(request.args, required=False, max_days=None)
    if fmt == "csv":
        return responses.audit_log_csv_response(current_actor(), rng)
    page, per_page = page_args(request.args, default_per_page=50)
    responses.record(current_actor(), subject_type="audit_log")
    pagination = paginate(services.audit_log_query(rng), page, per_page)
    return render_template("disclosures/audit_log.html", pagination=pagination, rng=rng)
