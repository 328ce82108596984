"""Investor rules and state changes: profiles, identity checks, classification, the
knowledge test, the loss-bearing simulation, funds, readiness and personal data.

Services take ``now`` and ``actor`` as arguments, flush but never commit (the view, API
route or CLI command commits), and audit every state change. Audit details name the
fields that changed, never their values, so the audit log holds no declared finances.
"""

import math
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, delete, func, or_, select
from werkzeug.security import check_password_hash

from app.accounts.models import User, new_session_token
from app.core.audit import AuditEntry, audit
from app.core.errors import NotAllowed, NotFound, StateConflict, ValidationFailed, load
from app.core.i18n import _
from app.core.permissions import Permission, Role, can
from app.extensions import db
from app.investors import documents, limits
from app.investors.lifecycle import CLASSIFICATION_REQUEST, RequestEvent
from app.investors.limits import (
    Classification,
    InvestorFacts,
    InvestorKind,
    JurisdictionProfile,
    Step,
)
from app.investors.models import (
    ClassificationRequest,
    Fund,
    FundManager,
    IdentityStatus,
    InvestorProfile,
    KnowledgeQuestion,
    KnowledgeTestAttempt,
    RequestStatus,
)
from app.investors.schemas import (
    AnswersSchema,
    ClassificationRequestInputSchema,
    ClassifySchema,
    DecisionSchema,
    InvestorProfileInputSchema,
    VerifySchema,
)

#: Share of the questions to answer correctly, in basis points (8 of 10).
PASS_MARK_BPS = 8000
#: After a failed attempt the test may be retaken only after this pause: long enough to
#: re-read the material instead of guessing through the options, short enough not to block.
RETAKE_COOLDOWN = timedelta(hours=24)
#: A valid pass may be renewed only in its last 90 days (earlier it is already valid).
RENEWAL_WINDOW = timedelta(days=90)
#: Fields blanked on erasure; the rest of the profile is kept as the compliance record.
PERSONAL_PROFILE_FIELDS = ("legal_name", "address", "annual_income", "liquid_assets", "annual_commitments",
                           "net_worth", "identity_reason")
#: Not in werkzeug's method$salt$hash form, so it matches no password at all.
UNUSABLE_PASSWORD = "!erased"  # noqa: S105  # nosec B105  # a marker that matches no password
#: What erasure keeps, and why (said to the person and written to the audit log).
KEPT_ON_ERASURE = ("pledges and ledger entries (ECSP Art. 26: five years)",
                   "your classification, its evidence and your knowledge-test answers (ECSP Art. 21 and 26: "
                   "five years)",
                   "the audit log (ECSP Art. 26: five years)")


def holdings_blocking_erasure(user: User) -> list[str]:
    """What keeps an account open: money still in the wallet, pledges still live, loans the
    person holds still repaying. Records of open money cannot be erased (ECSP Art. 26)."""
    from app.campaigns.models import Campaign
    from app.loans.models import Loan, LoanStatus
    from app.payments.models import Pledge, PledgeStatus
    from app.wallets import services as wallets

    reasons = []
    if any(b["available"] or b["reserved"] for b in wallets.balances(user)):
        reasons.append(_("Money is still in your wallet: withdraw it first."))
    live = db.session.scalar(select(func.count()).select_from(Pledge).where(
        Pledge.investor_id == user.id, Pledge.fund_id.is_(None),
        Pledge.status.in_([PledgeStatus.PENDING_PAYMENT.value, PledgeStatus.PAID.value])))
    if live:
        reasons.append(_("%(n)s of your pledges are still in a funding round.", n=live))
    repaying = db.session.scalar(select(func.count()).select_from(Pledge)
                                 .join(Loan, Loan.campaign_id == Pledge.campaign_id)
                                 .where(Pledge.investor_id == user.id, Pledge.fund_id.is_(None),
                                        Pledge.status == PledgeStatus.SETTLED.value,
                                        Loan.status.in_([LoanStatus.ACTIVE.value, LoanStatus.OVERDUE.value])))
    if repaying:
        reasons.append(_("%(n)s of the loans you hold are still repaying.", n=repaying))
    owned = db.session.scalar(select(func.count()).select_from(Campaign).join(Loan, Loan.campaign_id == Campaign.id)
                              .where(Campaign.owner_id == user.id,
                                     Loan.status.in_([LoanStatus.ACTIVE.value, LoanStatus.OVERDUE.value])))
    if owned:
        reasons.append(_("%(n)s of your campaigns' loans are still being repaid.", n=owned))
    return reasons


def count(statement: Select) -> int:
    """How many rows a queue statement selects."""
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def current_jurisdiction() -> JurisdictionProfile:
    """The deployment's profile, from ``PLATFORM_JURISDICTION``."""
    return limits.jurisdiction(current_app.config["PLATFORM_JURISDICTION"])


# --- profiles ----------------------------------------------------------------------------


def get_profile(user: User) -> InvestorProfile | None:
    return db.session.scalar(select(InvestorProfile).where(InvestorProfile.user_id == user.id))


def _require_investor(user: User) -> None:
    if not user.has_role(Role.INVESTOR):
        raise NotAllowed("Only investors have an investor profile.")


def save_profile(user: User, data: Any, *, now: datetime, jurisdiction: JurisdictionProfile | None = None,
                 ip_address: str | None = None) -> InvestorProfile:
    """Create or replace the signed-in investor's declarations.

    A change of legal name, address or country after a decision on the identity sends
    it back to the operator's queue: the check was of the old details.
    """
    _require_investor(user)
    j = jurisdiction or current_jurisdiction()
    clean = load(InvestorProfileInputSchema(jurisdiction_code=j.code), data, "The investor profile is invalid.")
    computed = None
    if clean["liquid_assets"] is not None:
        computed = limits.net_worth(clean["annual_income"], clean["liquid_assets"], clean["annual_commitments"])
        if clean["net_worth"] is not None and clean["net_worth"] != computed:
            raise ValidationFailed("The investor profile is invalid.", {"net_worth": [
                f"Net worth is income + liquid assets − commitments = {computed} minor units; "
                f"{clean['net_worth']} does not match. Leave it out to have it computed."]})
    values = {
        "legal_name": clean["legal_name"].strip(),
        "address": (clean["address"] or "").strip() or None,
        "country": clean["country"],
        "currency": clean["currency"],
        "annual_income": clean["annual_income"],
        "liquid_assets": clean["liquid_assets"],
        "annual_commitments": clean["annual_commitments"],
        "net_worth": computed if computed is not None else clean["net_worth"],
        "other_platforms_amount": clean["other_platforms_this_year"],
        "other_platforms_year": limits.calendar_year(now, j),
    }
    profile = get_profile(user)
    created = profile is None
    if created:
        profile = InvestorProfile(user_id=user.id, created_at=now, classification=j.default_classification.value,
                                  identity_status=IdentityStatus.PENDING.value, other_platforms_amount=0)
        db.session.add(profile)
    changed = sorted(k for k, v in values.items() if getattr(profile, k) != v)
    identity_changed = not created and {"legal_name", "address", "country"} & set(changed)
    for key, value in values.items():
        setattr(profile, key, value)
    profile.updated_at = now
    db.session.flush()
    audit("investor.profile_created" if created else "investor.profile_updated", actor=user, subject=profile,
          ip_address=ip_address, details={"fields": changed}, at=now)
    if identity_changed and profile.identity_status != IdentityStatus.PENDING.value:
        profile.identity_status = IdentityStatus.PENDING.value
        profile.identity_decided_at = None
        profile.identity_decided_by_id = None
        audit("investor.identity_reset", actor=user, subject=profile, at=now,
              details={"reason": "identity details changed", "fields": sorted(identity_changed)})
    return profile


def profile_for_viewer(viewer: User, user_id: int) -> InvestorProfile:
    """The profile of ``user_id`` if the viewer may see it: their own, or any for an operator.

    Anyone else gets NotFound (404), the same as for a profile that does not exist, so
    the answer does not reveal who has one.
    """
    if viewer.id != user_id and not can(viewer, Permission.VERIFY_INVESTORS):
        raise NotFound("No such investor.")
    profile = db.session.scalar(select(InvestorProfile).where(InvestorProfile.user_id == user_id))
    if profile is None:
        raise NotFound("No such investor.")
    return profile


def other_platforms_this_year(profile: InvestorProfile, now: datetime, j: JurisdictionProfile) -> int:
    """The declaration for other platforms, or 0 once its calendar year has ended."""
    if profile.other_platforms_year == limits.calendar_year(now, j):
        return profile.other_platforms_amount
    return 0


def profile_dict(profile: InvestorProfile, now: datetime, j: JurisdictionProfile | None = None) -> dict:
    """The profile as the API shows it (with the current year's declaration and capacity)."""
    j = j or current_jurisdiction()
    return {
        "user_id": profile.user_id,
        "legal_name": profile.legal_name,
        "address": profile.address,
        "country": profile.country,
        "currency": profile.currency,
        "annual_income": profile.annual_income,
        "liquid_assets": profile.liquid_assets,
        "annual_commitments": profile.annual_commitments,
        "net_worth": profile.net_worth,
        "other_platforms_this_year": other_platforms_this_year(profile, now, j),
        "other_platforms_year": profile.other_platforms_year,
        "identity_status": profile.identity_status,
        "identity_reason": profile.identity_reason,
        "identity_decided_at": profile.identity_decided_at,
        "classification": profile.classification,
        "loss_capacity": limits.loss_capacity(profile.net_worth, j),
        "acknowledged_at": profile.acknowledged_at,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


def classification_of(user: User) -> str | None:
    """The user's investor classification; a fund manager acts for a professional investor."""
    profile = get_profile(user)
    if profile is not None:
        return profile.classification
    if fund_for(user) is not None:
        return "professional"
    return None


# --- identity verification (operator) -------------------------------------------------------


def verification_queue(status: str | None = IdentityStatus.PENDING.value) -> Select:
    """Profiles by identity status, oldest first (the operator works the queue in order)."""
    statement = select(InvestorProfile).order_by(InvestorProfile.updated_at, InvestorProfile.id)
    if status:
        statement = statement.where(InvestorProfile.identity_status == status)
    return statement


def _operator_target(user_id: int, actor: User, what: str) -> InvestorProfile:
    if not can(actor, Permission.VERIFY_INVESTORS):
        raise NotAllowed(f"Only the platform operator may {what}.")
    if actor.id == user_id:
        raise NotAllowed(f"You cannot {what} for yourself; another operator must.")
    profile = db.session.scalar(select(InvestorProfile).where(InvestorProfile.user_id == user_id))
    if profile is None:
        raise NotFound("No such investor, or the investor has not filled in a profile yet.")
    return profile


def decide_identity(user_id: int, data: Any, *, actor: User, now: datetime,
                    ip_address: str | None = None) -> InvestorProfile:
    """The operator marks an identity verified or rejected (with a reason the investor sees)."""
    profile = _operator_target(user_id, actor, "verify an identity")
    clean = load(VerifySchema(), data if data is not None else {}, "The identity decision is invalid.")
    profile.identity_status = clean["status"]
    profile.identity_reason = (clean["reason"] or "").strip() or None
    profile.identity_decided_at = now
    profile.identity_decided_by_id = actor.id
    profile.updated_at = now
    # The decision records the documents it rests on (none at all is on record too).
    audit(f"investor.identity_{clean['status']}", actor=actor, subject=profile, ip_address=ip_address,
          details={"user_id": user_id, "documents": documents.on_file(user_id)}, at=now)
    db.session.flush()
    return profile


# --- classification ------------------------------------------------------------------------


def pending_request(user_id: int) -> ClassificationRequest | None:
    return db.session.scalar(
        select(ClassificationRequest)
        .where(ClassificationRequest.user_id == user_id, ClassificationRequest.status == RequestStatus.PENDING.value)
        .order_by(ClassificationRequest.id.desc())
    )


def request_classification(user: User, data: Any, *, now: datetime, jurisdiction: JurisdictionProfile | None = None,
                           ip_address: str | None = None) -> ClassificationRequest:
    """The investor asks to be treated as professional, declaring the criteria they meet."""
    _require_investor(user)
    j = jurisdiction or current_jurisdiction()
    clean = load(ClassificationRequestInputSchema(), data, "The classification request is invalid.")
    errors: dict[str, list[str]] = {}
    wanted = Classification(clean["classification"])
    if wanted not in j.professional:
        allowed = ", ".join(sorted(j.professional))
        errors["classification"] = [f"Under the {j.code} rules you can ask to be classified as: {allowed}."]
    unknown = sorted(set(clean["criteria"]) - set(j.criteria))
    criteria = sorted(set(clean["criteria"]) & set(j.criteria))
    if unknown:
        errors["criteria"] = [f"Unknown criteria: {', '.join(unknown)}. Choose from: {', '.join(j.criteria)}."]
    elif len(criteria) < j.min_criteria:
        errors["criteria"] = [f"Declare at least {j.min_criteria} of the criteria ({j.legal_basis})."]
    if errors:
        raise ValidationFailed("The classification request is invalid.", errors)
    profile = get_profile(user)
    if profile is None:
        raise StateConflict("Fill in your investor profile before asking for a classification.",
                            {"classification": ["Fill in your investor profile first."]})
    if profile.classification == wanted.value and effective_classification(profile, now) == wanted:
        raise StateConflict(f"You are already classified as {wanted.value}.")
    if pending_request(user.id) is not None:
        raise StateConflict("You already have a classification request waiting for the operator.")
    request = ClassificationRequest(user_id=user.id, requested=wanted.value, criteria=criteria,
                                    evidence=(clean["evidence"] or "").strip() or None,
                                    status=RequestStatus.PENDING.value, created_at=now)
    db.session.add(request)
    db.session.flush()
    audit("investor.classification_requested", actor=user, subject=request, ip_address=ip_address,
          details={"requested": wanted.value, "criteria": criteria}, at=now)
    return request


def classification_queue(status: str | None = RequestStatus.PENDING.value) -> Select:
    statement = select(ClassificationRequest).order_by(ClassificationRequest.created_at, ClassificationRequest.id)
    if status:
        statement = statement.where(ClassificationRequest.status == status)
    return statement


def _set_classification(profile: InvestorProfile, value: str, *, actor: User, now: datetime, reason: str | None,
                        ip_address: str | None) -> None:
    old = profile.classification
    profile.classification = value
    profile.classified_at = now
    profile.updated_at = now
    audit("investor.classified", actor=actor, subject=profile, ip_address=ip_address,
          details={"from": old, "to": value, "reason": reason}, at=now)


def decide_classification_request(request_id: int, data: Any, *, actor: User, now: datetime,
                                  ip_address: str | None = None) -> ClassificationRequest:
    """The operator approves (the classification changes) or refuses (with a reason)."""
    request = db.session.get(ClassificationRequest, request_id)
    if request is None:
        raise NotFound("No such classification request.")
    profile = _operator_target(request.user_id, actor, "decide a classification request")
    clean = load(DecisionSchema(), data, "The decision is invalid.")
    if request.status != RequestStatus.PENDING.value:
        raise StateConflict(f"This request was already {request.status}.")
    reason = (clean["reason"] or "").strip() or None
    decision = RequestEvent.APPROVE if clean["decision"] == "approve" else RequestEvent.REFUSE
    CLASSIFICATION_REQUEST.move(request, decision)
    request.reason = reason
    request.decided_at = now
    request.decided_by_id = actor.id
    audit(f"investor.classification_request_{request.status}", actor=actor, subject=request,
          ip_address=ip_address, details={"requested": request.requested}, at=now)
    if request.status == RequestStatus.APPROVED.value:
        _set_classification(profile, request.requested, actor=actor, now=now, reason=reason, ip_address=ip_address)
    db.session.flush()
    return request


def classify(user_id: int, data: Any, *, actor: User, now: datetime, jurisdiction: JurisdictionProfile | None = None,
             ip_address: str | None = None) -> InvestorProfile:
    """The operator sets a classification directly; a pending request is settled by it."""
    j = jurisdiction or current_jurisdiction()
    profile = _operator_target(user_id, actor, "classify an investor")
    clean = load(ClassifySchema(), data, "The classification is invalid.")
    value = Classification(clean["classification"])
    if value not in j.classifications:
        allowed = ", ".join(sorted(j.classifications))
        raise ValidationFailed("The classification is invalid.", {"classification": [
            f"This platform runs the {j.code} rules; use one of: {allowed}."]})
    reason = (clean["reason"] or "").strip() or None
    pending = pending_request(user_id)
    if pending is not None:
        CLASSIFICATION_REQUEST.move(pending, RequestEvent.APPROVE if pending.requested == value.value
                                    else RequestEvent.REFUSE)
        pending.reason = reason
        pending.decided_at = now
        pending.decided_by_id = actor.id
        audit(f"investor.classification_request_{pending.status}", actor=actor, subject=pending,
              ip_address=ip_address, details={"requested": pending.requested}, at=now)
    _set_classification(profile, value.value, actor=actor, now=now, reason=reason, ip_address=ip_address)
    db.session.flush()
    return profile


# --- knowledge test -------------------------------------------------------------------------


def question_bank(*, active_only: bool = True) -> list[KnowledgeQuestion]:
    statement = select(KnowledgeQuestion).order_by(KnowledgeQuestion.position, KnowledgeQuestion.id)
    if active_only:
        statement = statement.where(KnowledgeQuestion.active.is_(True))
    return list(db.session.scalars(statement))


def pass_mark(question_count: int) -> int:
    """Correct answers needed: 80 % of the questions, rounded up (8 of 10)."""
    return max(1, math.ceil(question_count * PASS_MARK_BPS / 10_000))


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February → 28 February
        return moment.replace(year=moment.year + years, day=28)


def latest_attempt(user: User) -> KnowledgeTestAttempt | None:
    return db.session.scalar(select(KnowledgeTestAttempt).where(KnowledgeTestAttempt.user_id == user.id)
                             .order_by(KnowledgeTestAttempt.taken_at.desc(), KnowledgeTestAttempt.id.desc()))


def valid_pass(user: User, now: datetime) -> KnowledgeTestAttempt | None:
    """The latest passed attempt still valid at ``now``."""
    return db.session.scalar(
        select(KnowledgeTestAttempt)
        .where(KnowledgeTestAttempt.user_id == user.id, KnowledgeTestAttempt.passed.is_(True),
               KnowledgeTestAttempt.valid_until > now)
        .order_by(KnowledgeTestAttempt.valid_until.desc())
    )


def retake_after(user: User, now: datetime) -> datetime | None:
    """When the test may next be taken, if not now (after a fail, or while a pass is fresh)."""
    current = valid_pass(user, now)
    if current is not None and current.valid_until - RENEWAL_WINDOW > now:
        return current.valid_until - RENEWAL_WINDOW
    last = latest_attempt(user)
    if last is not None and not last.passed and last.taken_at + RETAKE_COOLDOWN > now:
        return last.taken_at + RETAKE_COOLDOWN
    return None


def knowledge_test_required(user: User, j: JurisdictionProfile | None = None) -> bool:
    facts = facts_for(user)
    return facts is not None and Step.KNOWLEDGE_TEST in limits.required_steps(facts, j or current_jurisdiction())


def knowledge_test_state(user: User, now: datetime, *, locale: str = "en") -> dict:
    """The questions (without answers) and where the investor stands."""
    _require_investor(user)
    questions = question_bank()
    current = valid_pass(user, now)
    last = latest_attempt(user)
    return {
        "questions": [
            {"id": q.id, "topic": q.topic, "text": _localised(q, locale),
             "options": [{"id": o.id, "text": _localised(o, locale)} for o in q.options]}
            for q in questions
        ],
        "pass_mark": pass_mark(len(questions)),
        "passed": current is not None,
        "valid_until": current.valid_until if current else None,
        "last_score": last.score if last else None,
        "retake_after": retake_after(user, now),
        "required": knowledge_test_required(user),
    }


def _localised(item: Any, locale: str) -> str:
    return (item.text_ru if locale.startswith("ru") and item.text_ru else item.text)


def submit_knowledge_test(user: User, data: Any, *, now: datetime, jurisdiction: JurisdictionProfile | None = None,
                          ip_address: str | None = None) -> tuple[KnowledgeTestAttempt, list[str]]:
    """Score one sitting; return the attempt and the ids of the questions answered wrongly.

    Every active question needs one of its own options.

    Refused with 409 inside the cool-down after a fail (24 h) or while a pass is valid
    for more than 90 more days; 422 names unknown questions, unknown options and gaps.
    """
    _require_investor(user)
    j = jurisdiction or current_jurisdiction()
    wait = retake_after(user, now)
    if wait is not None:
        raise StateConflict(
            f"You can take the test again from {wait.isoformat(timespec='minutes')}.",
            {"answers": [f"You can take the test again from {wait.isoformat(timespec='minutes')}."]},
        )
    clean = load(AnswersSchema(), data, "The answers are invalid.")
    questions = {q.id: q for q in question_bank()}
    answers = clean["answers"]
    errors: dict[str, list[str]] = {}
    for qid, option in answers.items():
        question = questions.get(qid)
        if question is None:
            errors[f"answers.{qid}"] = ["There is no such question."]
        elif not isinstance(option, str) or option not in {o.id for o in question.options}:
            errors[f"answers.{qid}"] = ["That is not one of this question's options."]
    for qid in questions:
        if qid not in answers:
            errors[f"answers.{qid}"] = ["Answer this question."]
    if errors:
        raise ValidationFailed("The answers are invalid.", errors)
    wrong = sorted(qid for qid, q in questions.items() if answers[qid] != q.correct_option_id)
    score = len(questions) - len(wrong)
    mark = pass_mark(len(questions))
    passed = score >= mark
    attempt = KnowledgeTestAttempt(
        user_id=user.id, taken_at=now, score=score, pass_mark=mark, question_count=len(questions), passed=passed,
        valid_until=_add_years(now, j.test_valid_years) if passed else None, answers=dict(answers),
    )
    db.session.add(attempt)
    db.session.flush()
    audit("investor.knowledge_test_passed" if passed else "investor.knowledge_test_failed", actor=user,
          subject=attempt, ip_address=ip_address, details={"score": score, "pass_mark": mark}, at=now)
    return attempt, wrong


def attempt_result(attempt: KnowledgeTestAttempt, wrong: list[str], user: User, now: datetime) -> dict:
    return {
        "passed": attempt.passed,
        "score": attempt.score,
        "pass_mark": attempt.pass_mark,
        "question_count": attempt.question_count,
        "valid_until": attempt.valid_until,
        "retake_after": retake_after(user, now),
        "wrong_question_ids": wrong,
    }


# --- loss-bearing simulation ----------------------------------------------------------------


def loss_simulation(user: User, now: datetime, j: JurisdictionProfile | None = None) -> dict:
    """Net worth, 10 % of it as the ability to bear loss, the thresholds, and the acknowledgement."""
    _require_investor(user)
    j = j or current_jurisdiction()
    profile = get_profile(user)
    if profile is None:
        raise StateConflict("Fill in your investor profile first: the simulation uses your net worth.")
    capacity = limits.loss_capacity(profile.net_worth, j)
    facts = facts_for(user)
    return {
        "currency": profile.currency,
        "annual_income": profile.annual_income,
        "liquid_assets": profile.liquid_assets,
        "annual_commitments": profile.annual_commitments,
        "net_worth": profile.net_worth,
        "loss_capacity": capacity,
        "loss_capacity_bps": j.loss_capacity_bps,
        "warning_threshold": limits.warning_threshold(profile.net_worth, j),
        "annual_limit": j.annual_cap,
        "annual_headroom": limits.annual_headroom(facts, now, 0, j) if facts else None,
        "acknowledged": _acknowledged(profile, j),
        "acknowledged_at": profile.acknowledged_at,
        "risk_warning": limits.RISK_WARNING,
    }


def _acknowledged(profile: InvestorProfile, j: JurisdictionProfile) -> bool:
    if profile.acknowledged_at is None:
        return False
    if Step.LOSS_SIMULATION in j.retail_steps:
        return profile.acknowledged_loss_capacity == limits.loss_capacity(profile.net_worth, j)
    return True


def acknowledge_simulation(user: User, data: Any, *, now: datetime, jurisdiction: JurisdictionProfile | None = None,
                           ip_address: str | None = None) -> InvestorProfile:
    """Record that the investor saw the simulation (EU) or the risk statement (RU)."""
    from app.investors.schemas import AcknowledgeSchema

    j = jurisdiction or current_jurisdiction()
    _require_investor(user)
    load(AcknowledgeSchema(), data, "Tick the box to confirm you have read the simulation.")
    profile = get_profile(user)
    if profile is None or profile.net_worth is None:
        raise StateConflict("Fill in your investor profile first: the simulation uses your net worth.")
    profile.acknowledged_at = now
    profile.acknowledged_loss_capacity = limits.loss_capacity(profile.net_worth, j)
    profile.updated_at = now
    audit("investor.loss_simulation_acknowledged", actor=user, subject=profile, ip_address=ip_address,
          details={"loss_capacity": profile.acknowledged_loss_capacity, "currency": profile.currency}, at=now)
    db.session.flush()
    return profile


# --- facts, readiness and the limits the pledge service asks for ---------------------------


def facts_for(user: User) -> InvestorFacts | None:
    """What the limits engine knows about this user; None if they cannot invest at all."""
    fund = fund_for(user)
    if fund is not None:
        return InvestorContext(profile=None, fund=fund, has_valid_pass=False).facts
    return InvestorContext(profile=get_profile(user), fund=None, has_valid_pass=False).facts


@dataclass
class Readiness:
    """Whether a first pledge may be made, and the checklist that says why not."""

    ready: bool
    jurisdiction: str
    classification: str | None
    steps: list[dict] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return [s["key"] for s in self.steps if not s["done"]]


STEP_LABELS = {
    "profile": "Fill in your investor profile.",
    "identity": "Upload an identity document and have it verified by the operator.",
    "knowledge_test": "Pass the entry knowledge test (valid for two years).",
    "loss_simulation": "Read and acknowledge the simulation of your ability to bear loss.",
    "risk_acknowledgement": "Read and acknowledge the risk statement.",
    "fund": "Be attached to a fund by the operator.",
}


def review_due_at(profile: Any) -> datetime | None:
    """When the profile's professional classification lapses without a review; None if it never does."""
    value = Classification(profile.classification)
    j = next((j for j in limits.JURISDICTIONS.values() if value in j.professional), None)
    if j is None or j.professional_review_years is None or profile.classified_at is None:
        return None
    return _add_years(profile.classified_at, j.professional_review_years)


def effective_classification(profile: Any, at: datetime | None) -> Classification:
    """The classification the limits apply at ``at``: a sophisticated status two years after
    the operator's decision, not reviewed since, counts as the retail default again."""
    value = Classification(profile.classification)
    due = review_due_at(profile) if at is not None else None
    if due is not None and at >= due:
        j = next(j for j in limits.JURISDICTIONS.values() if value in j.professional)
        return j.default_classification
    return value


@dataclass(frozen=True)
class InvestorContext:
    """What the readiness and limits rules read about one user, loaded by one query.

    The pledge hot path asks for the fund, the profile and a valid knowledge-test pass;
    one outer-joined SELECT instead of six lookups keeps a pledge cheap (issue 5). The
    profile and fund are read-only snapshots with the models' attribute names (plain
    rows: building ORM objects cost the hot path more than the query).
    """

    profile: Any  # InvestorProfile or its row snapshot, or None
    fund: Any  # Fund or a row with its id and currency, or None
    has_valid_pass: bool
    #: The moment the facts are for; a professional classification past its review is not
    #: applied then (None: as recorded, for views that only show the profile).
    at: datetime | None = None

    @property
    def facts(self) -> InvestorFacts | None:
        """What the limits engine knows; None if the user cannot invest at all."""
        if self.fund is not None:
            return InvestorFacts(kind=InvestorKind.FUND, classification=None, currency=self.fund.currency)
        if self.profile is None:
            return None
        return InvestorFacts(
            kind=InvestorKind.NATURAL,
            classification=effective_classification(self.profile, self.at),
            currency=self.profile.currency,
            net_worth=self.profile.net_worth,
            other_platforms_amount=self.profile.other_platforms_amount,
            other_platforms_year=self.profile.other_platforms_year,
        )


_profiles = InvestorProfile.__table__
_funds = Fund.__table__
#: Built once with bound parameters: reusing the statement object spares the pledge hot
#: path SQLAlchemy's per-call statement and cache-key work.
_CONTEXT = (select(_profiles, _funds.c.id.label("fund_id"), _funds.c.currency.label("fund_currency"),
                   select(KnowledgeTestAttempt.id)
                   .where(KnowledgeTestAttempt.user_id == User.id, KnowledgeTestAttempt.passed.is_(True),
                          KnowledgeTestAttempt.valid_until > bindparam("now"))
                   .exists().label("has_valid_pass"))
            .select_from(User.__table__)
            .outerjoin(_profiles, _profiles.c.user_id == User.id)
            .outerjoin(FundManager, FundManager.user_id == User.id)
            .outerjoin(_funds, _funds.c.id == FundManager.fund_id)
            .where(User.id == bindparam("uid"))
            .limit(1))
ProfileRow = namedtuple("ProfileRow", [column.key for column in _profiles.c])
FundRow = namedtuple("FundRow", ["id", "currency"])


def investor_context(user: User, now: datetime) -> InvestorContext:
    """The user's profile, fund and knowledge-test standing at ``now``, in one query."""
    row = db.session.execute(_CONTEXT, {"uid": user.id, "now": now}).first()
    if row is None:  # no such user (deleted since the token was issued): nothing to invest with
        return InvestorContext(profile=None, fund=None, has_valid_pass=False)
    width = len(ProfileRow._fields)
    profile = ProfileRow(*row[:width]) if row.id is not None else None
    fund = FundRow(row.fund_id, row.fund_currency) if row.fund_id is not None else None
    return InvestorContext(profile=profile, fund=fund, has_valid_pass=bool(row.has_valid_pass), at=now)


def hold_profile(profile: InvestorProfile) -> None:
    """Lock the investor's profile row until the transaction ends (``FOR UPDATE``).

    A cap on what one investor may pledge per year is only safe if that investor's
    pledges are checked one after the other: with the row held, a second pledge (into
    any campaign) waits, then sees the first one in its year's total.
    """
    db.session.execute(select(InvestorProfile.id).where(InvestorProfile.id == profile.id).with_for_update())


def readiness(user: User, now: datetime, j: JurisdictionProfile | None = None, *,
              context: InvestorContext | None = None) -> Readiness:
    """What is missing before this user's first pledge (the pledge service refuses until ready)."""
    j = j or current_jurisdiction()
    context = context or investor_context(user, now)
    if context.fund is not None:
        return Readiness(ready=True, jurisdiction=j.code, classification="professional", steps=[])
    if not user.has_role(Role.INVESTOR):
        steps = [{"key": "fund", "done": False, "detail": STEP_LABELS["fund"]}] if user.has_role(
            Role.FUND_MANAGER) else []
        return Readiness(ready=False, jurisdiction=j.code, classification=None, steps=steps)
    profile = context.profile
    facts = context.facts
    wanted = limits.required_steps(facts, j) if facts else j.retail_steps
    done = {
        Step.PROFILE: profile is not None and profile.net_worth is not None and bool(profile.legal_name),
        Step.IDENTITY: profile is not None and profile.identity_status == IdentityStatus.VERIFIED.value,
        Step.KNOWLEDGE_TEST: context.has_valid_pass,
        Step.LOSS_SIMULATION: profile is not None and _acknowledged(profile, j),
        Step.RISK_ACKNOWLEDGEMENT: profile is not None and profile.acknowledged_at is not None,
    }
    steps = [{"key": s.value, "done": done[s], "detail": STEP_LABELS[s.value]} for s in wanted]
    if profile is not None and profile.identity_status == IdentityStatus.REJECTED.value:
        steps[1]["detail"] = f"Your identity check was rejected: {profile.identity_reason or ''}".strip()
    classification = facts.classification.value if facts and facts.classification else None
    if profile is not None and classification != profile.classification:
        due = review_due_at(profile)
        steps.append({"key": "classification_review", "done": False,
                      "detail": f"Your {profile.classification} classification lapsed on {due.date().isoformat()} "
                                "(reviewed every 2 years): retail limits apply until the operator reviews it. "
                                "Ask for a review with a new classification request."})
        return Readiness(ready=all(s["done"] for s in steps[:-1]), jurisdiction=j.code,
                         classification=classification, steps=steps)
    return Readiness(ready=all(s["done"] for s in steps), jurisdiction=j.code,
                     classification=profile.classification if profile else None, steps=steps)


# --- funds -------------------------------------------------------------------------------------


def fund_for(user: User) -> Fund | None:
    """The fund this user manages, if any (a manager acts for exactly one fund)."""
    return db.session.scalar(select(Fund).join(FundManager).where(FundManager.user_id == user.id))


def find_fund(name: str) -> Fund | None:
    return db.session.scalar(select(Fund).where(Fund.name == name.strip()))


def attach_fund_manager(user: User, fund_name: str, *, country: str, currency: str, now: datetime,
                        actor: User | None = None) -> Fund:
    """Make ``user`` a manager of the fund called ``fund_name``, creating the fund if new."""
    name = (fund_name or "").strip()
    if not 2 <= len(name) <= 200:
        raise ValidationFailed("The fund name is invalid.",
                               {"fund": ["Give the fund's legal name (2–200 characters)."]})
    if not user.has_role(Role.FUND_MANAGER):
        raise ValidationFailed("Only fund managers act for a fund.", {"role": ["Grant the fund_manager role."]})
    current = fund_for(user)
    fund = find_fund(name)
    if current is not None:
        if fund is not None and current.id == fund.id:
            return fund
        raise StateConflict(f"This user already manages {current.name}.")
    if fund is None:
        fund = Fund(name=name, country=country, currency=currency, created_at=now)
        db.session.add(fund)
        db.session.flush()
        audit("fund.created", actor=actor, subject=fund, details={"name": name}, at=now)
    fund.managers.append(FundManager(user_id=user.id, added_at=now))
    db.session.flush()
    audit("fund.manager_attached", actor=actor, subject=fund, details={"user_id": user.id}, at=now)
    return fund


# --- personal data -----------------------------------------------------------------------------


def export_personal_data(user: User, *, now: datetime, ip_address: str | None = None) -> dict:
    """Everything held about ``user`` as plain data (the export is itself audited)."""
    from app.investors.schemas import ClassificationRequestSchema, FundSchema, InvestorProfileSchema

    profile = get_profile(user)
    fund = fund_for(user)
    requests = db.session.scalars(select(ClassificationRequest).where(ClassificationRequest.user_id == user.id)
                                  .order_by(ClassificationRequest.id))
    attempts = db.session.scalars(select(KnowledgeTestAttempt).where(KnowledgeTestAttempt.user_id == user.id)
                                  .order_by(KnowledgeTestAttempt.taken_at))
    subjects = [("user", str(user.id))] + ([("investor_profile", str(profile.id))] if profile else [])
    entries = db.session.scalars(
        select(AuditEntry).where(or_(AuditEntry.actor_id == user.id, *[
            (AuditEntry.subject_type == t) & (AuditEntry.subject_id == i) for t, i in subjects]))
        .order_by(AuditEntry.created_at, AuditEntry.id)
    )
    audit("personal_data.exported", actor=user, subject=user, ip_address=ip_address, at=now)
    db.session.flush()
    return {
        "exported_at": now.isoformat(),
        "user": {"id": user.id, "email": user.email, "name": user.name, "country": user.country,
                 "roles": sorted(user.role_names), "active": user.active, "created_at": user.created_at.isoformat()},
        "investor_profile": InvestorProfileSchema().dump(profile_dict(profile, now)) if profile else None,
        "classification_requests": ClassificationRequestSchema(many=True).dump(list(requests)),
        "knowledge_test_attempts": [
            {"taken_at": a.taken_at.isoformat(), "score": a.score, "pass_mark": a.pass_mark,
             "question_count": a.question_count, "passed": a.passed,
             "valid_until": a.valid_until.isoformat() if a.valid_until else None, "answers": a.answers}
            for a in attempts
        ],
        "fund": FundSchema().dump(fund) if fund else None,
        "audit_log": [
            {"created_at": e.created_at.isoformat(), "action": e.action, "subject_type": e.subject_type,
             "subject_id": e.subject_id, "ip_address": e.ip_address, "details": e.details}
            for e in entries
        ],
    }


def erase_user(user: User, data: Any, *, now: datetime, actor: User | None = None,
               ip_address: str | None = None) -> User:
    """Anonymise a person on request, keeping what the law requires.

    Name and e-mail become placeholders, the password becomes unusable, the session
    token rotates (every cookie and API token dies) and the account is deactivated;
    the profile's personal fields and declared finances are blanked. Pledges, ledger
    entries, the classification with its evidence, the knowledge-test answers and the audit
    log stay five years (ECSP Art. 26), linked to the anonymous user id. Refused (409) while
    money is open: a wallet balance, a live pledge, a loan still repaying.
    """
    from app.investors.schemas import ErasureSchema

    clean = load(ErasureSchema(), data, "Confirm the erasure.")
    if not user.active:
        raise StateConflict("This account is already erased or closed.")
    if not check_password_hash(user.password_hash, clean["password"]):
        raise ValidationFailed(_("Confirm the erasure."), {"password": [_("That is not your password.")]})
    blocking = holdings_blocking_erasure(user)
    if blocking:
        raise StateConflict(_("Your account cannot be erased while money is open: %(reasons)s",
                              reasons=" ".join(blocking)), {"account": blocking})
    user.name = f"Erased user {user.id}"
    user.email = f"erased-{user.id}@erased.invalid"
    user.password_hash = UNUSABLE_PASSWORD
    user.session_token = new_session_token()
    user.active = False
    profile = get_profile(user)
    if profile is not None:
        for name in PERSONAL_PROFILE_FIELDS:
            setattr(profile, name, None)
        profile.other_platforms_amount = 0
        profile.acknowledged_loss_capacity = None
        profile.updated_at = now
    db.session.execute(delete(FundManager).where(FundManager.user_id == user.id))
    audit("user.erased", actor=actor or user, subject=user, ip_address=ip_address,
          details={"kept": list(KEPT_ON_ERASURE)}, at=now)
    db.session.flush()
    return user
