"""Complaints (ECSP Art. 7): filing, reading, the operator's decision."""

from flask import g, request, url_for

from app.api import bp, json_body
from app.api.openapi import PAGE, document
from app.complaints import services
from app.complaints.schemas import ComplaintInputSchema, ComplaintSchema, ResponseInputSchema
from app.core.clock import now
from app.core.pagination import envelope, page_args, paginate
from app.core.permissions import Permission, requires
from app.extensions import db

document("/complaints", "post", "File a complaint (optionally about a campaign or one's own pledge); "
         "acknowledged by e-mail with a reference and a response deadline", request=ComplaintInputSchema,
         status=201, response=ComplaintSchema)
document("/complaints", "get", "Complaints: the complainant's own; operators and regulators all, waiting ones "
         "first (earliest deadline first); ?status=received|resolved, paginated", response=ComplaintSchema,
         paged=True, query=PAGE | {"status": {"type": "string", "enum": ["received", "resolved"]}})
document("/complaints/{complaint_id}", "get", "One complaint (its complainant, operators, regulators)",
         response=ComplaintSchema)
document("/complaints/{complaint_id}/respond", "post", "Operator: decide a complaint (once; 409 after); the "
         "complainant is e-mailed", request=ResponseInputSchema, response=ComplaintSchema,
         errors=(409,))

_dump = ComplaintSchema().dump


@bp.post("/complaints")
@requires(Permission.FILE_COMPLAINT)
def file_complaint():
    complaint = services.file_complaint(g.api_user, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return _dump(complaint), 201, {"Location": url_for("api.get_complaint", complaint_id=complaint.id)}


@bp.get("/complaints")
@requires(Permission.FILE_COMPLAINT)
def list_complaints():
    page, per_page = page_args(request.args)
    statement = services.complaints_query(g.api_user, status=request.args.get("status") or None)
    return envelope(paginate(statement, page, per_page), _dump)


@bp.get("/complaints/<int:complaint_id>")
@requires(Permission.FILE_COMPLAINT)
def get_complaint(complaint_id: int):
    return _dump(services.get_complaint(g.api_user, complaint_id))


@bp.post("/complaints/<int:complaint_id>/respond")
@requires(Permission.HANDLE_COMPLAINTS)
def respond_to_complaint(complaint_id: int):
    complaint = services.respond(g.api_user, complaint_id, json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return _dump(complaint)
