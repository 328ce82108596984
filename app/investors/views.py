"""The investor area: the dashboard ("ready to invest" checklist), profile, knowledge test,
loss simulation, classification, fund page and personal data; the operator's queues.

Views are thin: they turn form input into the service's input, call the service, and put
its field errors back on the form (``core.forms.apply_errors``).
"""

import json
from decimal import InvalidOperation

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from wtforms import SelectChoice

from app.core.boundaries import accepts_uploads_of
from app.core.clock import now
from app.core.errors import DomainError, ValidationFailed
from app.core.forms import apply_errors
from app.core.money import Money, to_minor
from app.core.pagination import page_args, paginate
from app.core.permissions import Permission, can, requires
from app.extensions import db
from app.investors import documents, services
from app.investors.forms import (
    AMOUNT_FIELDS,
    CRITERIA_LABELS,
    AcknowledgeForm,
    ClassificationDecisionForm,
    ClassificationRequestForm,
    ErasureForm,
    IdentityDecisionForm,
    IdentityDocumentForm,
    KnowledgeTestForm,
    ProfileForm,
)
from app.investors.models import ClassificationRequest, IdentityStatus, RequestStatus

bp = Blueprint("investors", __name__)


def _locale() -> str:
    return str(get_locale() or "en")


def _failed(form, exc: DomainError):
    db.session.rollback()
    apply_errors(form, exc)
    return exc.status


def _incomplete(form, back: str):
    """A decision form sent without its choice: say what is missing and go back (a bad CSRF
    token stays a 400)."""
    if "csrf_token" in form.errors:
        abort(400)
    flash(" ".join(str(m) for msgs in form.errors.values() for m in msgs), "error")
    return redirect(back)


@bp.get("/")
def index():
    j = services.current_jurisdiction()
    context: dict = {"jurisdiction": j.code, "ready": None, "profile": None, "fund": None, "queues": None}
    if current_user.is_authenticated:
        at = now()
        if can(current_user, Permission.INVEST):
            context["ready"] = services.readiness(current_user, at, j)
            context["profile"] = services.get_profile(current_user)
            context["fund"] = services.fund_for(current_user)
        if can(current_user, Permission.VERIFY_INVESTORS):
            context["queues"] = {
                "identity": services.count(services.verification_queue()),
                "classification": services.count(services.classification_queue()),
            }
    return render_template("investors/index.html", **context)


# --- the investor's own pages ----------------------------------------------------------------


def _profile_form_data(form: ProfileForm) -> tuple[dict, dict[str, list[str]]]:
    """The form as the service's input: amounts typed in major units become minor units."""
    data: dict = {
        "legal_name": form.legal_name.data or "",
        "address": form.address.data or None,
        "country": form.country.data,
        "currency": form.currency.data,
    }
    errors: dict[str, list[str]] = {}
    for name in AMOUNT_FIELDS:
        raw = (getattr(form, name).data or "").strip().replace(" ", "").replace(",", ".")
        if not raw:
            if name == "other_platforms_this_year":
                data[name] = 0
            elif name != "annual_income":
                data[name] = None
            continue
        try:
            data[name] = to_minor(raw, form.currency.data or "EUR")
        except (InvalidOperation, ValueError):
            errors[name] = [_("Enter an amount such as 1234.56.")]
    return data, errors


@bp.route("/profile", methods=["GET", "POST"])
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def profile():
    j = services.current_jurisdiction()
    existing = services.get_profile(current_user)
    form = ProfileForm()
    form.currency.choices = [SelectChoice(j.currency, j.currency)]
    status = 200
    if request.method == "GET" and existing is not None:
        form.legal_name.data = existing.legal_name
        form.address.data = existing.address
        form.country.data = existing.country
        form.currency.data = existing.currency
        for name, value in (("annual_income", existing.annual_income), ("liquid_assets", existing.liquid_assets),
                            ("annual_commitments", existing.annual_commitments),
                            ("other_platforms_this_year", services.other_platforms_this_year(existing, now(), j))):
            getattr(form, name).data = "" if value is None else str(_major_units(value, existing.currency))
    elif request.method == "GET":
        form.country.data = current_user.country
    if form.validate_on_submit():
        data, errors = _profile_form_data(form)
        try:
            if errors:
                raise ValidationFailed(_("The investor profile is invalid."), errors)
            services.save_profile(current_user, data, now=now(), jurisdiction=j, ip_address=request.remote_addr)
        except DomainError as exc:
            status = _failed(form, exc)
        else:
            db.session.commit()
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("investors.index"))
    elif form.errors:
        status = 422
    return render_template("investors/profile.html", form=form, profile=existing, jurisdiction=j), status


def _major_units(amount: int, currency: str) -> str:
    """Minor units as the plain decimal a person types back into the form."""
    try:
        return str(Money(amount, currency).to_decimal())
    except ValueError:
        return str(amount)


@bp.route("/knowledge-test", methods=["GET", "POST"])
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def knowledge_test():
    form = KnowledgeTestForm()
    result = None
    errors: dict[str, list[str]] = {}
    status = 200
    chosen: dict[str, str] = {}
    if form.validate_on_submit():
        chosen = {key.removeprefix("q-"): value for key, value in request.form.items() if key.startswith("q-")}
        at = now()
        try:
            attempt, wrong = services.submit_knowledge_test(current_user, {"answers": chosen}, now=at,
                                                            ip_address=request.remote_addr)
        except DomainError as exc:
            db.session.rollback()
            errors = {key.removeprefix("answers."): msgs for key, msgs in exc.errors.items()}
            form.form_errors.append(exc.detail)
            known = {q.id for q in services.question_bank()}
            form.form_errors.extend(f"{qid}: {' '.join(msgs)}" for qid, msgs in errors.items()
                                    if qid not in known and qid != "answers")
            status = exc.status
        else:
            db.session.commit()
            result = services.attempt_result(attempt, wrong, current_user, at)
            if attempt.passed:
                flash(_("You passed the knowledge test."), "success")
                return redirect(url_for("investors.index"))
    elif request.method == "POST":
        status = 422
    state = services.knowledge_test_state(current_user, now(), locale=_locale())
    return render_template("investors/knowledge_test.html", form=form, state=state, result=result,
                           errors=errors, chosen=chosen), status


@bp.route("/simulation", methods=["GET", "POST"])
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def simulation():
    j = services.current_jurisdiction()
    if services.get_profile(current_user) is None:
        flash(_("Fill in your investor profile first: the simulation uses your net worth."), "info")
        return redirect(url_for("investors.profile"))
    form = AcknowledgeForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.acknowledge_simulation(current_user, {"acknowledge": bool(form.acknowledge.data)}, now=now(),
                                            jurisdiction=j, ip_address=request.remote_addr)
        except DomainError as exc:
            status = _failed(form, exc)
        else:
            db.session.commit()
            flash(_("Thank you: your acknowledgement is recorded."), "success")
            return redirect(url_for("investors.index"))
    elif request.method == "POST":
        status = 422
    sim = services.loss_simulation(current_user, now(), j)
    return render_template("investors/simulation.html", form=form, sim=sim, jurisdiction=j.code), status


@bp.route("/classification", methods=["GET", "POST"])
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def classification():
    j = services.current_jurisdiction()
    form = ClassificationRequestForm()
    form.criteria.choices = [SelectChoice(key, CRITERIA_LABELS.get(key, key)) for key in j.criteria]
    wanted = sorted(j.professional)[0]
    status = 200
    if form.validate_on_submit():
        data = {"classification": wanted, "criteria": form.criteria.data or [], "evidence": form.evidence.data}
        try:
            services.request_classification(current_user, data, now=now(), jurisdiction=j,
                                            ip_address=request.remote_addr)
        except DomainError as exc:
            status = _failed(form, exc)
        else:
            db.session.commit()
            flash(_("Your request is with the operator."), "success")
            return redirect(url_for("investors.classification"))
    elif request.method == "POST":
        status = 422
    requests = db.session.scalars(services.classification_queue(None)
                                  .where(ClassificationRequest.user_id == current_user.id)).all()
    return render_template("investors/classification.html", form=form, requests=requests, wanted=wanted,
                           profile=services.get_profile(current_user), jurisdiction=j), status


@bp.get("/fund")
@requires(Permission.MANAGE_FUND)
def fund():
    return render_template("investors/fund.html", fund=services.fund_for(current_user))


@bp.get("/me/export")
@requires()
def export():
    data = services.export_personal_data(current_user, now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="greenround-user-{current_user.id}.json"'})


@bp.route("/me/erase", methods=["GET", "POST"])
@requires()
def erase():
    form = ErasureForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.erase_user(current_user._get_current_object(),
                                {"confirm": bool(form.confirm.data), "password": form.password.data},
                                now=now(), ip_address=request.remote_addr)
        except DomainError as exc:
            status = _failed(form, exc)
        else:
            db.session.commit()
            logout_user()
            flash(_("Your personal data is erased and your account is closed."), "info")
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 422
    return render_template("investors/erase.html", form=form, kept=services.KEPT_ON_ERASURE), status


# --- the operator's queues ---------------------------------------------------------------------


def _page() -> tuple[int, int]:
    try:
        return page_args(request.args)
    except DomainError:
        return 1, 20


@bp.route("/identity-documents", methods=["GET", "POST"])
@accepts_uploads_of(documents.MAX_BYTES + 64 * 1024)
@requires(Permission.MANAGE_INVESTOR_PROFILE)
def identity_documents():
    """The investor's own documents: upload, and see what is on file (not the files: only
    operators open those)."""
    form = IdentityDocumentForm()
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            documents.upload(current_user, kind=form.kind.data,
                             filename=getattr(upload, "filename", "") or "document",
                             data=upload.read() if upload else b"", storage=documents.storage(), now=now(),
                             ip_address=request.remote_addr)
        except DomainError as exc:
            status = _failed(form, exc)
        else:
            db.session.commit()
            flash(_("Document uploaded. The operator checks it with your profile."), "success")
            return redirect(url_for("investors.identity_documents"))
    elif form.errors:
        status = 422
    return render_template("investors/identity_documents.html", form=form,
                           documents=documents.of(current_user.id), profile=services.get_profile(current_user),
                           max_documents=documents.MAX_PER_INVESTOR), status


@bp.get("/<int:user_id>/identity-documents/<int:document_id>")
@requires(Permission.VERIFY_INVESTORS)
def identity_document(user_id: int, document_id: int):
    document, data = documents.open_for(current_user, user_id, document_id, storage=documents.storage(),
                                        now=now(), ip_address=request.remote_addr)
    db.session.commit()  # the viewing is on record before the bytes leave
    return documents.response(document, data)


@bp.get("/verification")
@requires(Permission.VERIFY_INVESTORS)
def verification_queue():
    status = request.args.get("status", IdentityStatus.PENDING.value)
    if status not in {s.value for s in IdentityStatus}:
        status = IdentityStatus.PENDING.value
    page, per_page = _page()
    pagination = paginate(services.verification_queue(status), page, per_page)
    return render_template("investors/verification_queue.html", pagination=pagination, status=status,
                           form=IdentityDecisionForm(), statuses=[s.value for s in IdentityStatus])


@bp.get("/<int:user_id>")
@requires()
def detail(user_id: int):
    investor = services.profile_for_viewer(current_user, user_id)
    operator = can(current_user, Permission.VERIFY_INVESTORS) and current_user.id != user_id
    return render_template("investors/detail.html", investor=investor, operator=operator,
                           identity_form=IdentityDecisionForm(),
                           documents=documents.of(user_id) if operator else [],
                           readiness=services.readiness(investor.user, now()))


@bp.post("/<int:user_id>/identity")
@requires(Permission.VERIFY_INVESTORS)
def decide_identity(user_id: int):
    form = IdentityDecisionForm()
    if not form.validate_on_submit():
        return _incomplete(form, request.referrer or url_for("investors.verification_queue"))
    try:
        services.decide_identity(user_id, {"status": form.status.data, "reason": form.reason.data or None},
                                 actor=current_user, now=now(), ip_address=request.remote_addr)
    except DomainError as exc:
        db.session.rollback()
        if exc.status in (403, 404):
            raise
        flash(" ".join(m for msgs in exc.errors.values() for m in msgs) or exc.detail, "error")
        return redirect(request.referrer or url_for("investors.verification_queue"))
    db.session.commit()
    flash(_("The identity decision is recorded."), "success")
    return redirect(url_for("investors.verification_queue"))


@bp.get("/classification-requests")
@requires(Permission.VERIFY_INVESTORS)
def classification_queue():
    page, per_page = _page()
    pagination = paginate(services.classification_queue(RequestStatus.PENDING.value), page, per_page)
    return render_template("investors/classification_queue.html", pagination=pagination,
                           form=ClassificationDecisionForm(), labels=CRITERIA_LABELS)


@bp.post("/classification-requests/<int:request_id>")
@requires(Permission.VERIFY_INVESTORS)
def decide_classification(request_id: int):
    form = ClassificationDecisionForm()
    if not form.validate_on_submit():
        return _incomplete(form, url_for("investors.classification_queue"))
    try:
        services.decide_classification_request(
            request_id, {"decision": form.decision.data, "reason": form.reason.data or None},
            actor=current_user, now=now(), ip_address=request.remote_addr)
    except DomainError as exc:
        db.session.rollback()
        if exc.status in (403, 404):
            raise
        flash(" ".join(m for msgs in exc.errors.values() for m in msgs) or exc.detail, "error")
        return redirect(url_for("investors.classification_queue"))
    db.session.commit()
    flash(_("The classification decision is recorded."), "success")
    return redirect(url_for("investors.classification_queue"))

