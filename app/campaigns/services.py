"""Campaign rules: drafting, review, the lifecycle, KIIS versions, documents, browsing.

The one place that changes a campaign. Functions take the acting user and ``now``,
flush but never commit; views, API routes and jobs commit.
"""

import hashlib
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Select, case, false, func, or_, select
from sqlalchemy.orm import lazyload

from app.campaigns import cap, notices, rates
from app.campaigns.kiis import MAX_PAGES, build_content, sha256, to_json_bytes
from app.campaigns.kiis_pdf import TooLong, render_pdf
from app.campaigns.lifecycle import Event, next_status
from app.campaigns.models import (
    PUBLIC_STATUSES,
    Campaign,
    CampaignDocument,
    CampaignSdg,
    CampaignStatus,
    CampaignUpdate,
    KiisTranslation,
    KiisVersion,
)
from app.campaigns.pdfs import pdf_problem
from app.campaigns.schemas import (
    AmendSchema,
    ApproveSchema,
    CampaignFilterSchema,
    CampaignInputSchema,
    RejectSchema,
    UpdateSchema,
    check_consistency,
)
from app.core.audit import audit
from app.core.errors import NotAllowed, NotFound, StateConflict, ValidationFailed, field_errors
from app.core.errors import load as load_input
from app.core.i18n import _
from app.core.permissions import Permission, Role, can
from app.extensions import db

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
#: Documents per campaign: enough for a business plan, the accounts and the permits.
MAX_DOCUMENTS = 20

def load(schema: Any, data: Any, detail: str = "The campaign is invalid.") -> dict:
    """Load campaign input with a schema (a 422 ValidationFailed naming the fields)."""
    return load_input(schema, data, detail)


def _apply(campaign: Campaign, clean: dict) -> None:
    instrument = clean.pop("instrument")
    impact = clean.pop("impact")
    sdgs = clean.pop("sdgs")
    entity = clean.pop("owner_entity", None) or {}
    campaign.owner_legal_form = entity.get("legal_form")
    campaign.owner_legal_name = entity.get("legal_name")
    campaign.owner_registration_country = entity.get("registration_country")
    campaign.owner_registration_number = entity.get("registration_number")
    for key, value in clean.items():
        setattr(campaign, key, value)
    campaign.instrument_type = instrument["type"]
    campaign.interest_rate_bps = instrument.get("interest_rate_bps")
    campaign.term_months = instrument.get("term_months")
    campaign.repayment = instrument.get("repayment")
    campaign.co2_tonnes_per_year = impact["co2_tonnes_per_year"]
    campaign.energy_mwh_per_year = impact["energy_mwh_per_year"]
    campaign.sdg_links = [CampaignSdg(sdg=s) for s in sorted(sdgs)]


def as_input(campaign: Campaign) -> dict:
    """The campaign in the API's input shape (used to merge a PATCH and to fill forms)."""
    return {
        "title": campaign.title,
        "summary": campaign.summary,
        "description": campaign.description,
        "category": campaign.category,
        "sdgs": campaign.sdgs,
        "country": campaign.country,
        "location": campaign.location,
        "currency": campaign.currency,
        "instrument": {
            "type": campaign.instrument_type,
            "interest_rate_bps": campaign.interest_rate_bps,
            "term_months": campaign.term_months,
            "repayment": campaign.repayment,
        },
        "target_amount": campaign.target_amount,
        "max_amount": campaign.max_amount,
        "min_pledge": campaign.min_pledge,
        "opens_at": campaign.opens_at.isoformat() if campaign.opens_at else None,
        "closes_at": campaign.closes_at.isoformat(),
        "impact": {
            "co2_tonnes_per_year": campaign.co2_tonnes_per_year,
            "energy_mwh_per_year": campaign.energy_mwh_per_year,
        },
        "owner_entity": None if campaign.owner_registration_number is None else {
            "legal_form": campaign.owner_legal_form,
            "legal_name": campaign.owner_legal_name,
            "registration_country": campaign.owner_registration_country,
            "registration_number": campaign.owner_registration_number,
        },
    }


def _require_owner(campaign: Campaign, actor: Any) -> None:
    if actor is None or campaign.owner_id != actor.id:
        raise NotFound("No such campaign.")


def create_draft(owner: Any, data: Any, *, now: datetime) -> Campaign:
    """A new draft from raw input (API JSON or a converted form)."""
    if not can(owner, Permission.CREATE_CAMPAIGN):
        raise NotAllowed("Only project owners can create campaigns.")
    clean = load(CampaignInputSchema(), data)
    campaign = Campaign(owner_id=owner.id, status=CampaignStatus.DRAFT, raised_amount=0, backers_count=0,
                        created_at=now, updated_at=now)
    _apply(campaign, clean)
    db.session.add(campaign)
    db.session.flush()
    audit("campaign.created", actor=owner, subject=campaign, at=now)
    return campaign


def update_draft(campaign: Campaign, actor: Any, changes: Any, *, now: datetime) -> Campaign:
    """Apply a (partial) change to a draft; the merged draft must pass every rule again."""
    _require_owner(campaign, actor)
    if campaign.status != CampaignStatus.DRAFT:
        raise StateConflict(
            f"Only drafts can be edited; this campaign is {campaign.status}.",
            {"status": ["Terms of a submitted or live campaign cannot be changed here."]},
        )
    if not isinstance(changes, dict):
        raise ValidationFailed("The change is invalid.", {"_schema": ["Expected an object."]})
    merged = as_input(campaign)
    for key, value in changes.items():
        if key in ("instrument", "impact", "owner_entity") and isinstance(value, dict) and merged.get(key):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    clean = load(CampaignInputSchema(), merged)
    _apply(campaign, clean)
    campaign.updated_at = now
    db.session.flush()
    audit("campaign.edited", actor=actor, subject=campaign, details={"fields": sorted(changes)}, at=now)
    return campaign


def _transition(campaign: Campaign, event: Event, actor: Any, now: datetime, **details: Any) -> None:
    before = campaign.status
    campaign.status = next_status(campaign.status, event)
    campaign.updated_at = now
    audit(f"campaign.{event.value}", actor=actor, subject=campaign,
          details={"from": before, "to": campaign.status, **details}, at=now)


def submit(campaign: Campaign, actor: Any, *, now: datetime) -> Campaign:
    """Send a draft to the operator, refusing it if it would break the offer cap.

    The cap is counted at today's rate when one is recorded; approval counts it again at
    its own day's rate, which is the one that binds.
    """
    _require_owner(campaign, actor)
    next_status(campaign.status, Event.SUBMIT)  # refuse illegal moves before anything else
    check = load(CampaignInputSchema(), as_input(campaign))
    if check["closes_at"] <= now:
        raise ValidationFailed("The round would already be closed.", {"closes_at": ["Must be in the future."]})
    _require_entity(campaign)
    counted = cap.usage(campaign, on=now.date(), required=False)
    if counted is not None and counted.over:
        raise ValidationFailed("This campaign would take the raiser over the offer cap.",
                               {"max_amount": [counted.explain()]})
    check_kiis_fits(campaign, now=now)
    campaign.rejection_reason = None
    campaign.submitted_at = now
    _transition(campaign, Event.SUBMIT, actor, now)
    return campaign


def _require_entity(campaign: Campaign) -> None:
    """259-FZ Art. 2: in Russia only a Russian company or sole proprietor may raise, so the
    raiser's ИНН is part of every submission there."""
    if cap.jurisdiction() != "RU":
        return
    if campaign.owner_registration_number is None or campaign.owner_registration_country != "RU":
        raise ValidationFailed(
            "The raiser's legal entity is missing.",
            {"owner_entity": ["In Russia the raiser must be a Russian company or sole proprietor: give the "
                              "legal form, name and ИНН (registration country RU)."]})


def _require_independent(campaign: Campaign, actor: Any) -> None:
    """ECSP Art. 8: an operator does not review, approve, reject or amend a campaign they own,
    nor one of the legal entity behind any campaign they own."""
    if campaign.owner_id == actor.id:
        raise NotAllowed(_("You cannot review a campaign you own: another operator must."))
    if campaign.owner_registration_number is not None and db.session.scalar(
            select(Campaign.id).where(
                Campaign.owner_id == actor.id,
                Campaign.owner_registration_country == campaign.owner_registration_country,
                Campaign.owner_registration_number == campaign.owner_registration_number).limit(1)) is not None:
        raise NotAllowed(_("You cannot review a campaign of your own legal entity: another operator must."))


def approve(campaign: Campaign, actor: Any, data: Any, *, now: datetime, fee_bps: int) -> Campaign:
    """Accept a submission with a risk class; freezes KIIS version 1 and opens the round
    now or at ``opens_at``."""
    if not can(actor, Permission.REVIEW_CAMPAIGNS):
        raise NotAllowed("Only the platform operator reviews campaigns.")
    _require_independent(campaign, actor)
    clean = load(ApproveSchema(), data, "The approval is invalid.")
    next_status(campaign.status, Event.APPROVE)
    opens_at = clean["opens_at"] or campaign.opens_at or now
    if opens_at < now - timedelta(minutes=5):
        opens_at = now
    try:
        check_consistency({"opens_at": opens_at, "closes_at": campaign.closes_at})
    except ValidationError as exc:
        raise ValidationFailed("The round dates do not work with this opening time.",
                               {"opens_at": field_errors(exc.messages).get("closes_at", ["Invalid."])}) from exc
    _require_entity(campaign)
    counted = cap.usage(campaign, on=now.date(), required=True)
    if counted.over:
        raise ValidationFailed("This campaign would take the raiser over the offer cap.",
                               {"max_amount": [counted.explain()]})
    rate = cap.approval_rate(campaign, now.date())
    campaign.cap_rate_id = rate.id if rate is not None else None
    campaign.risk_class = clean["risk_class"]
    campaign.opens_at = opens_at
    campaign.approved_at = now
    _transition(campaign, Event.APPROVE, actor, now, risk_class=campaign.risk_class,
                **({"cap_rate": rates.describe(rate)} if rate is not None else {}))
    freeze_kiis(campaign, now=now, fee_bps=fee_bps)
    if opens_at <= now:
        _transition(campaign, Event.OPEN, actor, now)
    return campaign


def reject(campaign: Campaign, actor: Any, data: Any, *, now: datetime) -> Campaign:
    """Send a submission back to draft with the operator's reason, which the owner sees."""
    if not can(actor, Permission.REVIEW_CAMPAIGNS):
        raise NotAllowed("Only the platform operator reviews campaigns.")
    _require_independent(campaign, actor)
    clean = load(RejectSchema(), data, "The rejection is invalid.")
    _transition(campaign, Event.REJECT, actor, now, reason=clean["reason"])
    campaign.rejection_reason = clean["reason"]
    return campaign


def cancel(campaign: Campaign, actor: Any, *, now: datetime, reason: str = "") -> Campaign:
    """Cancel an approved or live round; the refund sweep then refunds every paid pledge."""
    if not can(actor, Permission.REVIEW_CAMPAIGNS):
        raise NotAllowed("Only the platform operator cancels campaigns.")
    _transition(campaign, Event.CANCEL, actor, now, reason=reason)
    return campaign


def open_round(campaign: Campaign, *, now: datetime) -> Campaign:
    """Open an approved round whose opening time has come (the open-rounds sweep calls this)."""
    _transition(campaign, Event.OPEN, None, now)
    return campaign


def _other_offers(campaign: Campaign) -> list[dict]:
    """The owner's other offers that reached investors, newest ten, for the KIIS's owner part."""
    others = db.session.scalars(select(Campaign).where(
        Campaign.owner_id == campaign.owner_id, Campaign.id != campaign.id,
        Campaign.status.in_([s.value for s in PUBLIC_STATUSES])).order_by(Campaign.id.desc()).limit(10))
    return [{"title": o.title, "status": o.status, "raised": o.raised_amount, "currency": o.currency} for o in others]


def _kiis_content(campaign: Campaign, *, version: int, now: datetime, fee_bps: int) -> dict:
    from app.accounts.models import User

    return build_content(campaign, db.session.get(User, campaign.owner_id), version=version, now=now,
                         fee_bps=fee_bps, other_offers=_other_offers(campaign))


def _too_long(exc: TooLong, language: str) -> ValidationFailed:
    return ValidationFailed(
        _("The campaign's information sheet would not fit its page limit."),
        {"description": [_("The Key Investment Information Sheet would take %(pages)s A4 pages (in %(language)s); "
                           "at most %(limit)s are allowed. Shorten the description.",
                           pages=exc.pages, language=language, limit=MAX_PAGES)]})


def _rendered(content: dict) -> dict[str, bytes]:
    """The document in each of the deployment's languages. :raises ValidationFailed: too long."""
    rendered = {}
    for language in content["languages"]:
        try:
            rendered[language] = render_pdf(content, language)
        except TooLong as exc:
            raise _too_long(exc, language) from exc
    return rendered


def check_kiis_fits(campaign: Campaign, *, now: datetime) -> None:
    """Refuse a draft (or amendment) whose information sheet cannot fit ``MAX_PAGES`` A4 sides
    in every language, before an operator is asked to approve what could not be frozen."""
    _rendered(_kiis_content(campaign, version=0, now=now, fee_bps=0))


def freeze_kiis(campaign: Campaign, *, now: datetime, fee_bps: int) -> KiisVersion:
    """Freeze the next KIIS version: JSON and a PDF per language, each with its SHA-256.

    ``fee_bps`` is the platform's fee at approval; later versions keep the fee version 1
    disclosed, and settlement charges the fee of the latest version, so the fee investors
    were shown is the fee charged.
    """
    previous = db.session.scalar(select(KiisVersion).where(KiisVersion.campaign_id == campaign.id)
                                 .order_by(KiisVersion.version.desc()).limit(1))
    version = previous.version + 1 if previous is not None else 1
    if previous is not None:
        fee_bps = previous.content["fees"]["project_owner_fee_bps"]
    content = _kiis_content(campaign, version=version, now=now, fee_bps=fee_bps)
    json_bytes = to_json_bytes(content)
    rendered = _rendered(content)
    pdf_bytes = rendered.pop(content["language"])
    kiis = KiisVersion(campaign_id=campaign.id, version=version, content=content, json_bytes=json_bytes,
                       json_sha256=sha256(json_bytes), pdf_bytes=pdf_bytes, pdf_sha256=sha256(pdf_bytes),
                       created_at=now)
    db.session.add(kiis)
    db.session.flush()
    translations = {language: sha256(data) for language, data in rendered.items()}
    db.session.add_all(KiisTranslation(kiis_version_id=kiis.id, language=language, pdf_bytes=data,
                                       pdf_sha256=translations[language]) for language, data in rendered.items())
    campaign.current_kiis_version = version
    db.session.flush()
    audit("campaign.kiis_frozen", subject=campaign, at=now, details={
        "version": version, "pdf_sha256": kiis.pdf_sha256, "language": content["language"],
        "translations": translations})
    return kiis


def kiis_translation(kiis: KiisVersion, language: str) -> KiisTranslation | None:
    return db.session.scalar(select(KiisTranslation).where(KiisTranslation.kiis_version_id == kiis.id,
                                                           KiisTranslation.language == language))


def kiis_translation_hashes(kiis: KiisVersion) -> dict[str, str]:
    """Language → SHA-256 of each translation (without reading their bytes)."""
    rows = db.session.execute(select(KiisTranslation.language, KiisTranslation.pdf_sha256).where(
        KiisTranslation.kiis_version_id == kiis.id).order_by(KiisTranslation.language))
    return {language: digest for language, digest in rows}


def kiis_languages(kiis: KiisVersion) -> list[str]:
    """The languages a version can be read in, the one it was frozen in first."""
    return [kiis.content.get("language", "en"), *kiis_translation_hashes(kiis)]


def disclosed_fee_bps(campaign: Campaign) -> int | None:
    """The project owner's fee in the latest KIIS: the fee settlement charges (None: no KIIS)."""
    content = db.session.scalar(select(KiisVersion.content).where(KiisVersion.campaign_id == campaign.id)
                                .order_by(KiisVersion.version.desc()).limit(1))
    return None if content is None else int(content["fees"]["project_owner_fee_bps"])


def kiis_versions(campaign: Campaign) -> list[KiisVersion]:
    return list(db.session.scalars(
        select(KiisVersion).where(KiisVersion.campaign_id == campaign.id).order_by(KiisVersion.version)))


def kiis_version(campaign: Campaign, version: int) -> KiisVersion:
    kiis = db.session.scalar(
        select(KiisVersion).where(KiisVersion.campaign_id == campaign.id, KiisVersion.version == version))
    if kiis is None:
        raise NotFound("No such KIIS version.")
    return kiis


def post_update(campaign: Campaign, actor: Any, data: Any, *, now: datetime) -> CampaignUpdate:
    _require_owner(campaign, actor)
    clean = load(UpdateSchema(), data, "The update is invalid.")
    update = CampaignUpdate(campaign_id=campaign.id, title=clean["title"], body=clean["body"], created_at=now)
    db.session.add(update)
    db.session.flush()
    audit("campaign.update_posted", actor=actor, subject=campaign, details={"update_id": update.id}, at=now)
    return update


def updates(campaign: Campaign) -> list[CampaignUpdate]:
    return list(db.session.scalars(
        select(CampaignUpdate).where(CampaignUpdate.campaign_id == campaign.id)
        .order_by(CampaignUpdate.created_at.desc(), CampaignUpdate.id.desc())))


def add_document(campaign: Campaign, actor: Any, *, title: str, filename: str, data: bytes, storage: Path,
                 now: datetime) -> CampaignDocument:
    """Store an uploaded PDF under a random name after checking that it really is one."""
    _require_owner(campaign, actor)
    errors: dict[str, list[str]] = {}
    if not title or not 3 <= len(title.strip()) <= 140:
        errors["title"] = ["Give the document a title of 3 to 140 characters."]
    if not data:
        errors["file"] = ["Choose a PDF file to upload."]
    elif len(data) > MAX_DOCUMENT_BYTES:
        errors["file"] = ["The file is larger than 10 MB."]
    elif (problem := pdf_problem(data)) is not None:
        errors["file"] = [problem]
    if len(documents(campaign)) >= MAX_DOCUMENTS:
        errors["file"] = [f"A campaign holds at most {MAX_DOCUMENTS} documents."]
    if errors:
        raise ValidationFailed("The document was not accepted.", errors)
    storage.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.pdf"
    (storage / name).write_bytes(data)
    document = CampaignDocument(campaign_id=campaign.id, title=title.strip(), original_filename=filename[:255],
                                storage_name=name, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                uploaded_at=now)
    db.session.add(document)
    db.session.flush()
    audit("campaign.document_added", actor=actor, subject=campaign, details={"document_id": document.id}, at=now)
    return document


def documents(campaign: Campaign) -> list[CampaignDocument]:
    return list(db.session.scalars(
        select(CampaignDocument).where(CampaignDocument.campaign_id == campaign.id).order_by(CampaignDocument.id)))


def can_view(campaign: Campaign, actor: Any) -> bool:
    """Public states for everyone; drafts and submissions for their owner and the operator."""
    if campaign.status in PUBLIC_STATUSES:
        return True
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return campaign.owner_id == actor.id or Role.OPERATOR.value in actor.role_names


def get_visible(campaign_id: int, actor: Any) -> Campaign:
    """The campaign if ``actor`` may see it, else NotFound (never a hint that it exists)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not can_view(campaign, actor):
        raise NotFound("No such campaign.")
    return campaign


_STATUS_ORDER = case(
    (Campaign.status == CampaignStatus.LIVE, 0),
    (Campaign.status == CampaignStatus.APPROVED, 1),
    else_=2,
)


def public_query() -> Select[Any]:
    """Campaigns anyone may see, live first, closing soonest first."""
    return (
        select(Campaign)
        .where(Campaign.status.in_([s.value for s in PUBLIC_STATUSES]))
        .order_by(_STATUS_ORDER, Campaign.closes_at, Campaign.id)
    )


def featured(limit: int = 12) -> list[Campaign]:
    return list(db.session.scalars(public_query().limit(limit)))


def parse_filters(args: Any) -> dict:
    """Browse filters from query arguments (blank values mean "any")."""
    cleaned = {k: v for k, v in dict(args).items() if v not in ("", None)}
    return load(CampaignFilterSchema(), cleaned, "The filters are invalid.")


def browse_query(filters: dict) -> Select[Any]:
    """Public campaigns matching the filters, in the chosen order.

    Built so that PostgreSQL reads only the page shown: with a status filter the
    status-order term is constant and left out, so ``ix_campaigns_status_closes_at`` /
    ``ix_campaigns_status_category_closes_at`` give the closing order (and the count is an
    index-only scan); the owner, which no list shows, is not joined.
    """
    status = filters.get("status")
    if status:
        query = select(Campaign).where(Campaign.status == status)
        if status not in PUBLIC_STATUSES:
            query = query.where(false())
    else:
        query = select(Campaign).where(Campaign.status.in_([s.value for s in PUBLIC_STATUSES]))
    if filters.get("category"):
        query = query.where(Campaign.category == filters["category"])
    if filters.get("country"):
        query = query.where(Campaign.country == filters["country"].upper())
    if filters.get("sdg"):
        query = query.where(Campaign.id.in_(select(CampaignSdg.campaign_id).where(CampaignSdg.sdg == filters["sdg"])))
    if filters.get("q"):
        needle = f"%{filters['q'].lower()}%"
        query = query.where(or_(func.lower(Campaign.title).like(needle), func.lower(Campaign.summary).like(needle)))
    sort = filters.get("sort", "closing")
    if sort == "newest":
        query = query.order_by(func.coalesce(Campaign.approved_at, Campaign.created_at).desc(), Campaign.id.desc())
    elif sort == "funded":
        query = query.order_by((Campaign.raised_amount * 10_000 / Campaign.target_amount).desc(), Campaign.id)
    elif status:
        query = query.order_by(Campaign.closes_at, Campaign.id)  # one status: _STATUS_ORDER is constant
    else:
        query = query.order_by(_STATUS_ORDER, Campaign.closes_at, Campaign.id)
    return query.options(lazyload(Campaign.owner))


def owned_by(owner: Any) -> list[Campaign]:
    return list(db.session.scalars(
        select(Campaign).where(Campaign.owner_id == owner.id).order_by(Campaign.updated_at.desc(), Campaign.id.desc())))


def review_queue() -> list[Campaign]:
    return list(db.session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.SUBMITTED).order_by(Campaign.submitted_at)))


def close_round(campaign: Campaign, *, now: datetime) -> Campaign:
    """Close a live round that is due: successful if it reached its target, else failed."""
    event = Event.SUCCEED if campaign.raised_amount >= campaign.target_amount else Event.FAIL
    _transition(campaign, event, None, now, raised=campaign.raised_amount, target=campaign.target_amount,
                reason="max reached" if campaign.raised_amount >= campaign.max_amount else "closing time")
    return campaign


def fail_below_target(campaign: Campaign, *, raised: int, now: datetime) -> Campaign:
    """A successful round that revocations took back below its target fails when its last
    reflection period ends (the refund sweep then returns every remaining pledge)."""
    _transition(campaign, Event.FAIL, None, now, raised=raised, target=campaign.target_amount,
                reason="revoked below target")
    return campaign


def start_repaying(campaign: Campaign, *, now: datetime) -> Campaign:
    """A funded loan campaign was paid out; its repayment schedule runs from now."""
    _transition(campaign, Event.START_REPAYING, None, now)
    return campaign


def complete(campaign: Campaign, *, now: datetime) -> Campaign:
    _transition(campaign, Event.COMPLETE, None, now)
    return campaign


def mark_defaulted(campaign: Campaign, *, now: datetime) -> Campaign:
    _transition(campaign, Event.DEFAULT, None, now)
    return campaign


def amend_terms(campaign: Campaign, actor: Any, data: Any, *, now: datetime, fee_bps: int,
                links: "notices.Links") -> KiisVersion:
    """Change the terms of an approved or live offer and freeze the next KIIS version.

    Earlier versions stay downloadable; pledges record the version they were made on, and
    every investor with a live pledge is e-mailed the new version (ECSP Art. 23: the sheet
    stays up to date and those who pledged hear of changes).
    """
    if not can(actor, Permission.REVIEW_CAMPAIGNS):
        raise NotAllowed("Only the platform operator amends an offer.")
    _require_independent(campaign, actor)
    if campaign.status not in (CampaignStatus.APPROVED, CampaignStatus.LIVE):
        raise StateConflict(f"A campaign that is {campaign.status} cannot be amended.",
                            {"status": [f"not allowed from {campaign.status}"]})
    clean = load(AmendSchema(), data, "The amendment is invalid.")
    changes = {k: v for k, v in clean.items() if k != "reason" and v is not None}
    if not changes:
        raise ValidationFailed("Nothing to amend.", {"_schema": ["Change at least one of the terms."]})
    errors: dict[str, list[str]] = {}
    if "max_amount" in changes and changes["max_amount"] < max(campaign.target_amount,
                                                               campaign.raised_amount + campaign.reserved_amount):
        errors["max_amount"] = ["The maximum cannot go below the target or what is already pledged."]
    if "closes_at" in changes:
        if changes["closes_at"] <= now:
            errors["closes_at"] = ["Must be in the future."]
        else:
            try:
                check_consistency({"opens_at": campaign.opens_at, "closes_at": changes["closes_at"]})
            except ValidationError as exc:
                errors.update(field_errors(exc.messages))
    if not errors and ("max_amount" in changes or "closes_at" in changes):
        # The offer cap holds after approval too: an amendment is counted like an approval.
        counted = cap.usage(campaign, on=now.date(), required=True, max_amount=changes.get("max_amount"),
                            closes_at=changes.get("closes_at"))
        if counted.over:
            errors["max_amount"] = [counted.explain(amendment=True)]
    if errors:
        raise ValidationFailed("The amendment is invalid.", errors)
    before = {key: getattr(campaign, key) for key in changes}
    for key, value in changes.items():
        setattr(campaign, key, value)
    try:
        check_kiis_fits(campaign, now=now)
    except ValidationFailed:
        for key, value in before.items():
            setattr(campaign, key, value)
        raise
    campaign.updated_at = now
    audit("campaign.amended", actor=actor, subject=campaign,
          details={"fields": sorted(changes), "reason": clean["reason"]}, at=now)
    kiis = freeze_kiis(campaign, now=now, fee_bps=fee_bps)
    notices.amended(campaign, kiis, fields=sorted(changes), now=now, links=links)
    return kiis
