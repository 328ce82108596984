"""Disclosures to regulators: KIIS documents checked against their frozen hashes, the
audit log, and the audit trail of every download.

Functions take the acting user and ``now``, flush but never commit; the HTTP layer
(``app.disclosures.responses``) commits.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from app.campaigns import services as campaigns
from app.campaigns.models import Campaign, KiisVersion
from app.core.audit import AuditEntry, audit
from app.core.errors import DomainError, NotFound
from app.disclosures.exports import DateRange
from app.extensions import db

KIIS_FORMATS = {"pdf": "application/pdf", "json": "application/json"}


class DocumentIntegrityError(DomainError):
    """A stored document no longer matches the hash recorded when it was frozen: never serve it."""

    status = 500
    title = "Document integrity check failed"


@dataclass(frozen=True)
class KiisDocument:
    campaign_id: int
    version: int
    fmt: str
    body: bytes
    mimetype: str
    sha256: str
    #: Set for a translation, which is named after its language.
    language: str | None = None

    @property
    def filename(self) -> str:
        suffix = f"-{self.language}" if self.language else ""
        return f"kiis-{self.campaign_id}-v{self.version}{suffix}.{self.fmt}"


def get_campaign(campaign_id: int) -> Campaign:
    """Any campaign, drafts included: regulators and the operator see every record."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def campaigns_with_kiis() -> list[tuple[Campaign, int]]:
    """Every campaign that has frozen a KIIS, with its number of versions, newest first."""
    rows = db.session.execute(
        select(Campaign, func.count(KiisVersion.id)).join(KiisVersion, KiisVersion.campaign_id == Campaign.id)
        .group_by(Campaign.id).order_by(Campaign.id.desc()))
    return [(campaign, count) for campaign, count in rows]


def kiis_versions(campaign: Campaign) -> list[KiisVersion]:
    return campaigns.kiis_versions(campaign)


def _frozen_pdf_digest(campaign_id: int, version: int, language: str | None) -> str | None:
    """The PDF hash written to the (hash-chained) audit log when the version was frozen, if any:
    the original's, or with ``language`` its translation's."""
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "campaign.kiis_frozen", AuditEntry.subject_id == str(campaign_id)))
    for entry in entries:
        details = entry.details or {}
        if details.get("version") == version:
            return details.get("pdf_sha256") if language is None else details.get("translations", {}).get(language)
    return None


def kiis_document(campaign_id: int, version: int, fmt: str, language: str | None = None) -> KiisDocument:
    """A KIIS version's PDF or JSON, after checking its bytes against the recorded SHA-256.

    The PDF is also checked against the hash in the audit log's freeze entry, so
    rewriting both the bytes and the hash column of the row is caught as well. ``language``
    asks for the PDF in another of the deployment's languages, frozen with the version.
    :raises DocumentIntegrityError: when the bytes do not match; the caller records it.
    """
    if fmt not in KIIS_FORMATS:
        raise NotFound(_("KIIS documents are PDF or JSON."))
    sheet = campaigns.kiis_version(get_campaign(campaign_id), version)
    if language == sheet.content.get("language", "en"):
        language = None
    if language is not None:
        translation = campaigns.kiis_translation(sheet, language) if fmt == "pdf" else None
        if translation is None:
            raise NotFound(_("This version is available in %(languages)s (the JSON in %(language)s only).",
                             languages=", ".join(campaigns.kiis_languages(sheet)),
                             language=sheet.content.get("language", "en")))
        body, recorded = translation.pdf_bytes, translation.pdf_sha256
    elif fmt == "pdf":
        body, recorded = sheet.pdf_bytes, sheet.pdf_sha256
    else:
        body, recorded = sheet.json_bytes, sheet.json_sha256
    actual = hashlib.sha256(body or b"").hexdigest()
    expected = [recorded]
    if fmt == "pdf":
        frozen = _frozen_pdf_digest(campaign_id, version, language)
        if frozen is not None:
            expected.append(frozen)
    if not all(hmac.compare_digest(actual, e or "") for e in expected):
        raise DocumentIntegrityError(
            _("KIIS version %(version)s of campaign %(campaign)s (%(fmt)s) does not match the SHA-256 recorded when "
              "it was frozen. It has not been served; the incident has been logged.",
              version=version, campaign=campaign_id, fmt=fmt.upper()),
            {"sha256": [_("expected %(expected)s, stored bytes hash to %(actual)s", expected=recorded, actual=actual)]},
        )
    return KiisDocument(campaign_id, version, fmt, body, KIIS_FORMATS[fmt], recorded, language)


def record_integrity_failure(actor: Any, *, campaign_id: int, version: int, fmt: str, ip_address: str | None,
                             now: datetime) -> None:
    audit("disclosure.integrity_failed", actor=actor, subject_type="campaigns", subject_id=campaign_id,
          ip_address=ip_address, at=now, details={"kiis_version": version, "format": fmt})


def record_download(actor: Any, *, route: str, params: dict[str, Any], ip_address: str | None, now: datetime,
                    subject_type: str | None = None, subject_id: Any = None) -> None:
    """Audit a disclosure download: who (actor), what (route and parameters), when, from where."""
    audit("disclosure.downloaded", actor=actor, subject_type=subject_type, subject_id=subject_id,
          ip_address=ip_address, at=now, details={"route": route, "params": params})


def audit_log_query(rng: DateRange) -> Select[Any]:
    """Audit entries in the range, newest first (chain order reversed)."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc().nulls_first(), AuditEntry.id.desc())
    if rng.start is not None:
        query = query.where(AuditEntry.created_at >= rng.start)
    if rng.end is not None:
        query = query.where(AuditEntry.created_at < rng.end)
    return query


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "ip_address": entry.ip_address,
        "details": entry.details or {},
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }
