"""The HTTP side shared by the disclosures pages and the API: audit, commit, respond.

Every disclosure that leaves the platform is first written to the audit log (who,
which route with which parameters, when, from which address) and committed, so a
download is on record even when the client stops reading half-way.
"""

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, request
from flask_babel import gettext as _

from app.core.clock import now
from app.core.errors import ValidationFailed
from app.disclosures import exports, reports, services
from app.extensions import db


def client_ip() -> str | None:
    return request.remote_addr


def record(actor: Any, *, subject_type: str | None = None, subject_id: Any = None, **params: Any) -> None:
    """Audit this request as a disclosure download and commit."""
    services.record_download(actor, route=request.path, params={**request.args.to_dict(), **params},
                             ip_address=client_ip(), now=now(), subject_type=subject_type, subject_id=subject_id)
    db.session.commit()


def output_format(allowed: tuple[str, ...]) -> str:
    fmt = request.args.get("format", allowed[0])
    if fmt not in allowed:
        raise ValidationFailed(_("Unknown format."),
                               {"format": [_("Must be one of: %(formats)s.", formats=", ".join(allowed))]})
    return fmt


def _download(body: Any, mimetype: str, filename: str, **headers: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def kiis_response(actor: Any, campaign_id: int, version: int, fmt: str) -> Response:
    """The KIIS document (``?lang=`` for a translation), only if its bytes still hash to the
    recorded SHA-256."""
    language = request.args.get("lang") or None
    try:
        document = services.kiis_document(campaign_id, version, fmt, language)
    except services.DocumentIntegrityError as exc:
        db.session.rollback()
        current_app.logger.error("Refused to serve a tampered KIIS: %s", exc.detail)
        services.record_integrity_failure(actor, campaign_id=campaign_id, version=version, fmt=fmt,
                                          ip_address=client_ip(), now=now())
        db.session.commit()
        raise
    record(actor, subject_type="campaigns", subject_id=campaign_id, sha256=document.sha256)
    return _download(document.body, document.mimetype, document.filename, X_Content_SHA256=document.sha256,
                     ETag=f'"{document.sha256}"')


def kiis_listing(actor: Any, campaign_id: int) -> tuple[Any, list[Any]]:
    campaign = services.get_campaign(campaign_id)
    versions = services.kiis_versions(campaign)
    record(actor, subject_type="campaigns", subject_id=campaign_id)
    return campaign, versions


def report(actor: Any, raw_year: str) -> dict[str, Any]:
    year = reports.parse_year(raw_year, now=now())
    data = reports.periodic_report(year, now=now())
    record(actor, subject_type="report", subject_id=year)
    return data


def projects(actor: Any, raw_year: str, fmt: str) -> Response | dict[str, Any]:
    """The Art. 16 list of ``year`` as JSON, CSV or XLSX, audited."""
    from app.disclosures import projects as art16

    year = reports.parse_year(raw_year, now=now())
    rows = art16.funded_projects(year)
    record(actor, subject_type="report", subject_id=f"{year}/projects")
    if fmt == "csv":
        return _download(art16.projects_csv(rows), "text/csv", f"greenround-projects-{year}.csv")
    if fmt == "xlsx":
        return _download(art16.projects_xlsx(rows, year),
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         f"greenround-projects-{year}.xlsx")
    return {"year": year, "items": rows, "total": len(rows)}


def default_rates(actor: Any | None) -> list[dict[str, Any]]:
    """Art. 20 default rates as of now; audited when a signed-in discloser asks (the public page
    shows the same figures to anyone)."""
    from app.disclosures import default_rates as art20

    rates = art20.default_rates(now())
    if actor is not None:
        record(actor, subject_type="report", subject_id="default-rates")
    return rates


def report_csv_response(data: dict[str, Any]) -> Response:
    return _download(reports.report_csv(data), "text/csv", f"greenround-report-{data['year']}.csv")


def pledges_export_response(actor: Any) -> Response:
    """The pledge ledger for ``?from=&to=`` (both required), streamed."""
    rng = exports.parse_range(request.args, required=True)
    record(actor, subject_type="export", subject_id="pledges")
    body: Iterator[bytes] = exports.pledges_csv(db.engine, rng)
    return _download(body, "text/csv", f"pledges-{rng.first}-{rng.last}.csv", X_Accel_Buffering="no")


def audit_log_csv_response(actor: Any, rng: exports.DateRange) -> Response:
    record(actor, subject_type="export", subject_id="audit_log")
    suffix = f"-{rng.first or 'start'}-{rng.last or 'now'}"
    return _download(exports.audit_csv(db.engine, rng), "text/csv", f"audit-log{suffix}.csv", X_Accel_Buffering="no")


def complaints_csv_response(actor: Any) -> Response:
    """The complaints register (ECSP Art. 7), audited like every download: built whole (a
    register of complaints is small; the pledge ledger is the one that streams)."""
    from app.complaints import services as complaints

    record(actor, subject_type="export", subject_id="complaints")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(complaints.REGISTER_COLUMNS)
    writer.writerows(complaints.register_rows(now()))
    return _download(buffer.getvalue(), "text/csv", "complaints-register.csv")


def register_of_contracts_response(actor: Any) -> Response:
    """The register of contracts (259-FZ Art. 11) for ``?from=&to=`` (optional), streamed."""
    from app.disclosures import contracts

    rng = exports.parse_range(request.args, required=False, max_days=None)
    record(actor, subject_type="export", subject_id="register_of_contracts")
    suffix = f"-{rng.first or 'start'}-{rng.last or 'now'}"
    return _download(contracts.register_csv(db.engine, rng), "text/csv", f"register-of-contracts{suffix}.csv",
                     X_Accel_Buffering="no")
