"""Investors: profiles, the knowledge test, the simulation, readiness, classification,
funds and personal data; and the operator's identity and classification queues."""

import json

from flask import Response, g, request, url_for
from flask_babel import get_locale

from app.api import bp, json_body
from app.api.openapi import JPEG, PAGE, PDF, PNG, document
from app.core.boundaries import accepts_uploads_of
from app.core.clock import now
from app.core.errors import NotFound, ValidationFailed
from app.core.i18n import _
from app.core.pagination import envelope, page_args, paginate
from app.core.permissions import Permission, requires
from app.extensions import db
from app.investors import documents, services
from app.investors.models import ClassificationRequest, DocumentKind, IdentityStatus, RequestStatus
from app.investors.schemas import (
    AcknowledgeSchema,
    AnswersSchema,
    ClassificationRequestInputSchema,
    ClassificationRequestSchema,
    ClassifySchema,
    DecisionSchema,
    ErasureResultSchema,
    ErasureSchema,
    ExportSchema,
    FundSchema,
    IdentityDocumentSchema,
    InvestorProfileInputSchema,
    InvestorProfileSchema,
    KnowledgeTestResultSchema,
    KnowledgeTestSchema,
    LossSimulationSchema,
    QuestionBankSchema,
    ReadinessSchema,
    VerifySchema,
)

document("/me/investor-profile", "get", "The signed-in investor's profile", response=InvestorProfileSchema)
document("/me/investor-profile", "put", "Create or replace the investor profile (amounts in minor units)",
         request=InvestorProfileInputSchema, response=InvestorProfileSchema)
document("/me/knowledge-test", "get", "The entry knowledge test and whether it is passed and valid",
         response=KnowledgeTestSchema)
document("/me/knowledge-test", "post", "Answer the knowledge test (409 inside the 24 h cool-down after a fail)",
         request=AnswersSchema, response=KnowledgeTestResultSchema, errors=(409,))
document("/me/loss-simulation", "get", "The simulation of the ability to bear loss (10 % of net worth)",
         response=LossSimulationSchema)
document("/me/loss-simulation", "post", "Acknowledge the loss simulation (EU) or risk statement (RU)",
         request=AcknowledgeSchema, response=LossSimulationSchema)
document("/me/readiness", "get", "What is missing before a first pledge", response=ReadinessSchema)
document("/me/classification-requests", "get", "The investor's own classification requests",
         response=ClassificationRequestSchema, paged=True, query=PAGE)
document("/me/classification-requests", "post", "Ask to be treated as sophisticated (EU) or qualified (RU)",
         request=ClassificationRequestInputSchema, status=201, response=ClassificationRequestSchema,
         errors=(409,))
document("/me/fund", "get", "The fund the signed-in fund manager acts for", response=FundSchema)
document("/me/export", "get", "Everything held about the signed-in person (JSON download)", response=ExportSchema)
document("/me/erasure", "post", "Erase (anonymise) the signed-in person, keeping legally required records",
         request=ErasureSchema, response=ErasureResultSchema, errors=(409,))
document("/me/identity-documents", "get", "The investor's identity documents on file (not the files: only operators "
         "open those)", response=IdentityDocumentSchema, many=True)
document("/me/identity-documents", "post", "Investor: upload an identity document (multipart `file`: PDF, JPEG or PNG "
         "by content, at most 10 MB; `kind`); 422 naming `file` for anything else", status=201,
         response=IdentityDocumentSchema, upload="file",
         upload_fields={"kind": {"type": "string", "enum": [k.value for k in DocumentKind]}})
document("/investors/{user_id}/identity-documents", "get", "Operator: an investor's identity documents",
         response=IdentityDocumentSchema, many=True)
document("/investors/{user_id}/identity-documents/{document_id}", "get",
         "Operator: one identity document's bytes, as checked at upload; every opening is audited",
         media=(PDF, JPEG, PNG))
document("/investors", "get", "Operator: investor profiles, filter identity_status (the verification queue)",
         response=InvestorProfileSchema, paged=True,
         query=PAGE | {"identity_status": {"type": "string", "enum": [s.value for s in IdentityStatus]}})
document("/investors/{user_id}", "get", "An investor profile: the investor's own, or any for the operator",
         response=InvestorProfileSchema)
document("/investors/{user_id}/verify", "post", "Operator: mark an identity verified (or rejected with a reason)",
         request=VerifySchema, body_optional=True, response=InvestorProfileSchema,
         errors=(409,))
document("/investors/{user_id}/classify", "post", "Operator: set an investor's classification",
         request=ClassifySchema, response=InvestorProfileSchema, errors=(409,))
document("/classification-requests", "get", "Operator: classification requests, filter status (default pending)",
         response=ClassificationRequestSchema, paged=True, query=PAGE | {"status": {
             "type": "string", "enum": ["all", *(s.value for s in RequestStatus)], "default": "pending"}})
document("/classification-requests/{request_id}/decision", "post",
         "Operator: approve or refuse a classification request", request=DecisionSchema,
         response=ClassificationRequestSchema, errors=(409,))
document("/knowledge-test", "get", "Operator: the question bank with each correct_option_id",
         response=QuestionBankSchema)


def _locale() -> str:
    return str(get_locale() or "en")


def _optional_body() -> dict:
    """A JSON object body, or {} when the request has no body at all."""
    return json_body() if request.get_data() else {}


def _profile_out(profile) -> dict:
    return InvestorProfileSchema().dump(services.profile_dict(profile, now()))


@bp.get("/me/investor-profile")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def my_profile():
    return _profile_out(services.profile_for_viewer(g.api_user, g.api_user.id))


@bp.put("/me/investor-profile")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def put_profile():
    profile = services.save_profile(g.api_user, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return _profile_out(profile)


@bp.get("/me/knowledge-test")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def my_knowledge_test():
    return KnowledgeTestSchema().dump(services.knowledge_test_state(g.api_user, now(), locale=_locale()))


@bp.post("/me/knowledge-test")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def answer_knowledge_test():
    at = now()
    attempt, wrong = services.submit_knowledge_test(g.api_user, json_body(), now=at, ip_address=request.remote_addr)
    db.session.commit()
    return KnowledgeTestResultSchema().dump(services.attempt_result(attempt, wrong, g.api_user, at))


@bp.get("/me/loss-simulation")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def my_loss_simulation():
    return LossSimulationSchema().dump(services.loss_simulation(g.api_user, now()))


@bp.post("/me/loss-simulation")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def acknowledge_loss_simulation():
    at = now()
    services.acknowledge_simulation(g.api_user, json_body(), now=at, ip_address=request.remote_addr)
    db.session.commit()
    return LossSimulationSchema().dump(services.loss_simulation(g.api_user, at))


@bp.get("/me/readiness")
@requires()
def my_readiness():
    ready = services.readiness(g.api_user, now())
    return ReadinessSchema().dump({"ready": ready.ready, "missing": ready.missing, "steps": ready.steps,
                                   "classification": ready.classification, "jurisdiction": ready.jurisdiction})


@bp.get("/me/classification-requests")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def my_classification_requests():
    statement = services.classification_queue(status=None).where(
        ClassificationRequest.user_id == g.api_user.id)
    page, per_page = page_args(request.args)
    return envelope(paginate(statement, page, per_page), ClassificationRequestSchema().dump)


@bp.post("/me/classification-requests")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def create_classification_request():
    created = services.request_classification(g.api_user, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return ClassificationRequestSchema().dump(created), 201


@bp.get("/me/fund")
@requires(Permission.MANAGE_FUND)
def my_fund():
    fund = services.fund_for(g.api_user)
    if fund is None:
        raise NotFound("You are not attached to a fund yet; the operator attaches fund managers to their fund.")
    return FundSchema().dump(fund)


@bp.get("/me/export")
@requires()
def my_export():
    data = services.export_personal_data(g.api_user, now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="greenround-user-{g.api_user.id}.json"'})


@bp.post("/me/erasure")
@requires()
def erase_me():
    user = services.erase_user(g.api_user, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return ErasureResultSchema().dump({"erased": True, "user_id": user.id, "kept": list(services.KEPT_ON_ERASURE)})


@bp.get("/investors")
@requires(Permission.VERIFY_INVESTORS)
def list_investors():
    status = request.args.get("identity_status") or None
    if status is not None and status not in {s.value for s in IdentityStatus}:
        raise ValidationFailed("The filter is invalid.", {"identity_status": [
            "Use one of: " + ", ".join(s.value for s in IdentityStatus) + "."]})
    page, per_page = page_args(request.args)
    return envelope(paginate(services.verification_queue(status), page, per_page), _profile_out)


@bp.get("/investors/<int:user_id>")
@requires()
def get_investor(user_id: int):
    return _profile_out(services.profile_for_viewer(g.api_user, user_id))


@bp.post("/investors/<int:user_id>/verify")
@requires(Permission.VERIFY_INVESTORS)
def verify_investor(user_id: int):
    profile = services.decide_identity(user_id, _optional_body(), actor=g.api_user, now=now(),
                                       ip_address=request.remote_addr)
    db.session.commit()
    return _profile_out(profile)


@bp.post("/investors/<int:user_id>/classify")
@requires(Permission.VERIFY_INVESTORS)
def classify_investor(user_id: int):
    profile = services.classify(user_id, json_body(), actor=g.api_user, now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return _profile_out(profile)


@bp.get("/classification-requests")
@requires(Permission.VERIFY_INVESTORS)
def list_classification_requests():
    status = request.args.get("status", RequestStatus.PENDING.value)
    if status not in {s.value for s in RequestStatus} | {"all"}:
        raise ValidationFailed("The filter is invalid.", {"status": [
            "Use one of: all, " + ", ".join(s.value for s in RequestStatus) + "."]})
    page, per_page = page_args(request.args)
    statement = services.classification_queue(None if status == "all" else status)
    return envelope(paginate(statement, page, per_page), ClassificationRequestSchema().dump)


@bp.post("/classification-requests/<int:request_id>/decision")
@requires(Permission.VERIFY_INVESTORS)
def decide_classification_request(request_id: int):
    decided = services.decide_classification_request(request_id, json_body(), actor=g.api_user, now=now(),
                                                     ip_address=request.remote_addr)
    db.session.commit()
    return ClassificationRequestSchema().dump(decided)


@bp.get("/knowledge-test")
@requires(Permission.VERIFY_INVESTORS)
def question_bank():
    questions = services.question_bank(active_only=False)
    active = [q for q in questions if q.active]
    return QuestionBankSchema().dump({"questions": questions, "pass_mark": services.pass_mark(len(active))})


@bp.get("/me/identity-documents")
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def my_identity_documents():
    return IdentityDocumentSchema(many=True).dump(documents.of(g.api_user.id))


@bp.post("/me/identity-documents")
@accepts_uploads_of(documents.MAX_BYTES + 64 * 1024)
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def upload_identity_document():
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed(_("Send the document as the multipart field `file`."),
                               {"file": [_("No file was sent.")]})
    document = documents.upload(g.api_user, kind=request.form.get("kind"), filename=upload.filename or "document",
                                data=upload.read(documents.MAX_BYTES + 1), storage=documents.storage(), now=now(),
                                ip_address=request.remote_addr)
    db.session.commit()
    return IdentityDocumentSchema().dump(document), 201, {
        "Location": url_for("api.investor_identity_document", user_id=g.api_user.id, document_id=document.id)}


@bp.get("/investors/<int:user_id>/identity-documents")
@requires(Permission.VERIFY_INVESTORS)
def investor_identity_documents(user_id: int):
    documents.require_reviewer(g.api_user, user_id)
    services.profile_for_viewer(g.api_user, user_id)  # 404 for no such investor
    return IdentityDocumentSchema(many=True).dump(documents.of(user_id))


@bp.get("/investors/<int:user_id>/identity-documents/<int:document_id>")
@requires(Permission.VERIFY_INVESTORS)
def investor_identity_document(user_id: int, document_id: int):
    document, data = documents.open_for(g.api_user, user_id, document_id, storage=documents.storage(), now=now(),
                                        ip_address=request.remote_addr)
    db.session.commit()
    return documents.response(document, data)
