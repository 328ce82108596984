"""The operator's bank-statement pages: upload with the import result, the lines that matched
nothing, and matching one by hand to a pledge (or recording it returned to the sender)."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import InputRequired

from app.core.boundaries import accepts_uploads_of
from app.core.clock import now
from app.core.errors import DomainError
from app.core.forms import apply_errors
from app.core.pagination import paginate
from app.core.permissions import Permission, current_actor, requires
from app.extensions import db
from app.statements import services

bp = Blueprint("statements", __name__)

PER_PAGE = 50


class UploadForm(FlaskForm):
    file = FileField(_l("Statement file (camt.053 XML, or in Russia a 1CClientBankExchange text file)"),
                     render_kw={"accept": ".xml,.txt,application/xml,text/xml,text/plain"})


class MatchForm(FlaskForm):
    pledge = StringField(_l("Pledge id or payment reference"), validators=[InputRequired(_l("Enter a pledge."))])


class ActionForm(FlaskForm):
    """CSRF only."""


def _page_number() -> int:
    page = request.args.get("page", "1")
    return max(int(page), 1) if page.isdigit() and len(page) < 7 else 1


def _index(form: UploadForm, status: int = 200):
    statements = paginate(services.statements_query(), _page_number(), 20)
    return render_template("statements/index.html", form=form, statements=statements), status


@bp.get("/operator/bank-statements")
@requires(Permission.RECONCILE_BANK)
def index():
    return _index(UploadForm())


@bp.post("/operator/bank-statements")
@accepts_uploads_of(services.MAX_BYTES)
@requires(Permission.RECONCILE_BANK)
def upload():
    form = UploadForm()
    upload = request.files.get("file")
    if not form.validate_on_submit():
        return _index(form, 422)
    if upload is None or not upload.filename:
        form.file.errors = [_("Choose the statement file.")]
        return _index(form, 422)
    try:
        statement = services.import_statement(upload.stream, upload.filename, actor=current_actor(), now=now(),
                                              jurisdiction=current_app.config["PLATFORM_JURISDICTION"])
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _index(form, exc.status)
    db.session.commit()
    flash(_("%(file)s imported: %(entries)s entries, %(matched)s matched, %(unmatched)s unmatched, "
            "%(duplicates)s already imported before.", file=statement.filename, entries=statement.entries,
            matched=statement.matched, unmatched=statement.unmatched, duplicates=statement.duplicates), "success")
    return redirect(url_for("statements.detail", statement_id=statement.id))


@bp.get("/operator/bank-statements/<int:statement_id>")
@requires(Permission.RECONCILE_BANK)
def detail(statement_id: int):
    statement = services.get_statement(statement_id)
    status = request.args.get("status", "unmatched")
    status = status if status in ("unmatched", "matched", "returned_to_sender", "all") else "unmatched"
    lines = paginate(services.lines_query(statement.id, None if status == "all" else status), _page_number(),
                     PER_PAGE)
    return render_template("statements/detail.html", statement=statement, lines=lines, shown=status,
                           match_form=MatchForm(formdata=None), action_form=ActionForm())


@bp.post("/operator/statement-lines/<int:line_id>/match")
@requires(Permission.RECONCILE_BANK)
def match(line_id: int):
    form = MatchForm()
    statement_id = services.line_statement_id(line_id)
    if not form.validate_on_submit():
        flash(_("Enter the pledge's id or payment reference."), "error")
    else:
        try:
            line = services.match_line(line_id, form.pledge.data, current_actor(), now())
        except DomainError as exc:
            db.session.rollback()
            flash(" ".join([exc.detail, *[m for ms in exc.errors.values() for m in ms]]), "error")
        else:
            db.session.commit()
            flash(_("Line matched: pledge %(pledge)s is paid.", pledge=line.pledge_id), "success")
    return redirect(url_for("statements.detail", statement_id=statement_id))


@bp.post("/operator/statement-lines/<int:line_id>/returned")
@requires(Permission.RECONCILE_BANK)
def returned(line_id: int):
    statement_id = services.line_statement_id(line_id)
    if ActionForm().validate_on_submit():
        try:
            services.mark_returned(line_id, current_actor(), now())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.detail, "error")
        else:
            db.session.commit()
            flash(_("Line recorded as returned to the sender."), "success")
    return redirect(url_for("statements.detail", statement_id=statement_id))
