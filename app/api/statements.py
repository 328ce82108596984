"""Bank statements (operator): import a camt.053 (or, in Russia, a 1C exchange file) and read
its lines, the unmatched ones above all."""

from flask import current_app, g, request

from app.api import bp
from app.api.openapi import PAGE, document
from app.core.boundaries import accepts_uploads_of
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.i18n import _
from app.core.pagination import envelope, page_args, paginate
from app.core.permissions import Permission, requires
from app.extensions import db
from app.statements import services
from app.statements.models import LineStatus
from app.statements.schemas import StatementLineSchema, StatementSchema

document("/bank-statements", "post", "Operator: import a camt.053 statement (multipart field `file`); pays the "
         "bank-transfer pledges and marks the withdrawals it names; 422 for anything but a camt.053, 413 above "
         "50 MB", status=201, response=StatementSchema, upload="file", errors=(409,))
document("/bank-statements/{statement_id}/entries", "get", "Operator: a statement's lines in file order, "
         "`?status=unmatched` for those waiting for a hand match, paginated", response=StatementLineSchema,
         paged=True, query=PAGE | {"status": {"type": "string", "enum": [s.value for s in LineStatus]}})

_line = StatementLineSchema().dump


@bp.post("/bank-statements")
@accepts_uploads_of(services.MAX_BYTES)
@requires(Permission.RECONCILE_BANK)
def import_bank_statement():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(_("Send the statement as the multipart field `file`."),
                               {"file": [_("No file was sent.")]})
    statement = services.import_statement(upload.stream, upload.filename, actor=g.api_user, now=now(),
                                          jurisdiction=current_app.config["PLATFORM_JURISDICTION"])
    db.session.commit()
    return StatementSchema().dump(statement), 201


@bp.get("/bank-statements/<int:statement_id>/entries")
@requires(Permission.RECONCILE_BANK)
def bank_statement_entries(statement_id: int):
    page, per_page = page_args(request.args)
    services.get_statement(statement_id)
    query = services.lines_query(statement_id, request.args.get("status"))
    return envelope(paginate(query, page, per_page), _line)
