"""Disclosures for regulators and the operator: KIIS versions, periodic reports, exports, the audit log.

Read-only; every route needs ``read_disclosures`` and every answer is itself audited.
"""

from flask import g, request, url_for
from marshmallow import Schema, fields

from app.api import bp
from app.api.openapi import CSV, DATE_RANGE, JSON, PAGE, XLSX, document, format_of
from app.campaigns import services as campaigns
from app.core.pagination import page_args, paginate
from app.core.permissions import Permission, requires
from app.disclosures import exports, responses, services


class KiisVersionSchema(Schema):
    version = fields.Integer()
    sha256 = fields.String(metadata={"description": "SHA-256 (hex) of the PDF, recorded when it was frozen"})
    pdf_sha256 = fields.String(metadata={"description": "SHA-256 (hex) of the PDF (same as sha256)"})
    json_sha256 = fields.String(metadata={"description": "SHA-256 (hex) of the JSON document"})
    created_at = fields.DateTime()
    json_url = fields.String()
    pdf_url = fields.String()
    languages = fields.List(fields.String(), metadata={
        "description": "Languages the PDF is frozen in, the original first; ?lang=<code> on pdf_url for another"})
    translations = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "SHA-256 (hex) of the PDF in each other language"})


class KiisListSchema(Schema):
    campaign_id = fields.Integer()
    items = fields.List(fields.Nested(KiisVersionSchema))


class AuditEntrySchema(Schema):
    id = fields.Integer()
    seq = fields.Integer(allow_none=True, metadata={"description": "Position in the hash chain"})
    created_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    subject_type = fields.String(allow_none=True)
    subject_id = fields.String(allow_none=True)
    ip_address = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String(allow_none=True)
    entry_hash = fields.String(allow_none=True)


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class ReportSchema(Schema):
    year = fields.Integer()
    generated_at = fields.DateTime()
    default_window_months = fields.Integer()
    periods = fields.List(fields.Dict(), metadata={
        "description": "The year, then Q1..Q4: campaigns_by_status, campaigns, rounds_funded, rounds_failed, "
                       "success_rate_bps, amount_raised, pledges, investors, amount_pledged, average_pledge "
                       "(per currency, minor units), default_rate_by_risk_class"})


document("/disclosures/campaigns/{campaign_id}/kiis", "get",
         "Every KIIS version of a campaign with its SHA-256 (regulator, operator)", response=KiisListSchema)
document("/disclosures/campaigns/{campaign_id}/kiis/{version}.pdf", "get",
         "A KIIS version as PDF, checked against its recorded SHA-256 (regulator, operator); ?lang= for "
         "another of the languages it was frozen in (404 for one it was not)",
         query={"lang": {"type": "string", "maxLength": 5, "description": "a language code from the listing"}},
         media=("application/pdf",))
document("/disclosures/campaigns/{campaign_id}/kiis/{version}.json", "get",
         "A KIIS version as JSON, checked against its recorded SHA-256 (regulator, operator)")
document("/disclosures/reports/{year}", "get",
         "The periodic report for a year and its quarters; ?format=csv (regulator, operator)", response=ReportSchema,
         query={"format": format_of("json", "csv")}, media=(JSON, CSV))
document("/disclosures/exports/pledges.csv", "get",
         "The pledge ledger from..to (ISO dates, inclusive, at most 5 years) as streamed CSV (regulator, operator)",
         query=DATE_RANGE, required_query=("from", "to"), media=(CSV,))
document("/disclosures/reports/{year}/projects", "get", "ECSP Art. 16: one row per project funded in the year "
         "(owner, instrument, amount, investors by fiscal residence and by classification); ?format=csv|xlsx",
         query={"format": format_of("json", "csv", "xlsx")}, media=(JSON, CSV, XLSX))
document("/disclosures/default-rates", "get", "ECSP Art. 20 / Del. Reg. 2022/2115: per risk class the expected and the "
         "actual default rate (average of the 1-year rates of the three 12-month windows of the preceding 36 "
         "months), with numerator and denominator")
document("/disclosures/complaints.csv", "get", "The complaints register (ECSP Art. 7), CSV, one row per complaint",
         media=(CSV,))
document("/disclosures/register-of-contracts.csv", "get",
         "The register of contracts (259-FZ Art. 11): one row per investment contract (a pledge whose money was "
         "received), in force or terminated, with the raiser's registration number, the KIIS version, the investor's "
         "joining and risk-acknowledgement dates; ?from=&to= (ISO dates, inclusive, by the day concluded), streamed",
         query=DATE_RANGE, media=(CSV,))
document("/disclosures/audit-log", "get",
         "The hash-chained audit log, newest first; ?from=&to=&page=&per_page=, ?format=csv streams it all "
         "(regulator, operator)", response=AuditPageSchema,
         query=DATE_RANGE | PAGE | {"per_page": PAGE["per_page"] | {"default": 50}, "format": format_of("json", "csv")},
         media=(JSON, CSV))


def _version(campaign_id: int, sheet) -> dict:
    def url(fmt: str) -> str:
        return url_for(f"api.disclosure_kiis_{fmt}", campaign_id=campaign_id, version=sheet.version, _external=True)

    return {"version": sheet.version, "sha256": sheet.pdf_sha256, "pdf_sha256": sheet.pdf_sha256,
            "json_sha256": sheet.json_sha256, "created_at": sheet.created_at.isoformat(),
            "json_url": url("json"), "pdf_url": url("pdf"), "languages": campaigns.kiis_languages(sheet),
            "translations": campaigns.kiis_translation_hashes(sheet)}


@bp.get("/disclosures/campaigns/<int:campaign_id>/kiis")
@requires(Permission.READ_DISCLOSURES)
def disclosure_kiis_list(campaign_id: int):
    campaign, versions = responses.kiis_listing(g.api_user, campaign_id)
    return {"campaign_id": campaign.id, "items": [_version(campaign.id, v) for v in versions]}


@bp.get("/disclosures/campaigns/<int:campaign_id>/kiis/<int:version>.pdf")
@requires(Permission.READ_DISCLOSURES)
def disclosure_kiis_pdf(campaign_id: int, version: int):
    return responses.kiis_response(g.api_user, campaign_id, version, "pdf")


@bp.get("/disclosures/campaigns/<int:campaign_id>/kiis/<int:version>.json")
@requires(Permission.READ_DISCLOSURES)
def disclosure_kiis_json(campaign_id: int, version: int):
    return responses.kiis_response(g.api_user, campaign_id, version, "json")


@bp.get("/disclosures/reports/<year>")
@requires(Permission.READ_DISCLOSURES)
def disclosure_report(year: str):
    fmt = responses.output_format(("json", "csv"))
    data = responses.report(g.api_user, year)
    return responses.report_csv_response(data) if fmt == "csv" else data


@bp.get("/disclosures/exports/pledges.csv")
@requires(Permission.READ_DISCLOSURES)
def disclosure_pledges_export():
    return responses.pledges_export_response(g.api_user)


@bp.get("/disclosures/reports/<year>/projects")
@requires(Permission.READ_DISCLOSURES)
def disclosure_projects(year: str):
    return responses.projects(g.api_user, year, responses.output_format(("json", "csv", "xlsx")))


@bp.get("/disclosures/default-rates")
@requires(Permission.READ_DISCLOSURES)
def disclosure_default_rates():
    rates = responses.default_rates(g.api_user)
    items = [{key: value for key, value in rate.items() if key != "as_of"}
             | {"windows": [w | {"start": w["start"].isoformat(), "end": w["end"].isoformat()}
                            for w in rate["windows"]]} for rate in rates]
    return {"as_of": rates[0]["as_of"].isoformat(), "window_months": 36, "items": items}


@bp.get("/disclosures/complaints.csv")
@requires(Permission.READ_DISCLOSURES)
def disclosure_complaints_register():
    return responses.complaints_csv_response(g.api_user)


@bp.get("/disclosures/register-of-contracts.csv")
@requires(Permission.READ_DISCLOSURES)
def disclosure_register_of_contracts():
    return responses.register_of_contracts_response(g.api_user)


@bp.get("/disclosures/audit-log")
@requires(Permission.READ_DISCLOSURES)
def disclosure_audit_log():
    fmt = responses.output_format(("json", "csv"))
    rng = exports.parse_range(request.args, required=False, max_days=None)
    if fmt == "csv":
        return responses.audit_log_csv_response(g.api_user, rng)
    page, per_page = page_args(request.args, default_per_page=50)
    responses.record(g.api_user, subject_type="audit_log")
    pagination = paginate(services.audit_log_query(rng), page, per_page)
    return {"items": [services.entry_dict(e) for e in pagination.items], "page": pagination.page,
            "per_page": pagination.per_page, "total": pagination.total}
