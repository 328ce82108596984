"""Register, log in, log out; the account's security page (password, API tokens) and password reset."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import passwords, services, tokens
from app.accounts.forms import (
    LoginForm,
    LogoutForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordResetRequestForm,
    RegistrationForm,
    RevokeTokenForm,
)
from app.accounts.limits import mark_failed_login, per_account, per_address, registrations, reset_requests
from app.accounts.models import new_session_token
from app.core.audit import audit
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.forms import apply_errors
from app.extensions import db

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None, user=None) -> str:
    """Only follow relative redirects, never to another host; without one, the user's own start."""
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return landing(user) if user is not None else url_for("main.index")


def landing(user) -> str:
    """Where a signed-in person starts: their own work, not the public home page. An investor
    who is not ready yet starts at the first missing step (the investing page lists them)."""
    from app.core.permissions import Permission, can
    from app.investors import services as investors

    if can(user, Permission.REVIEW_CAMPAIGNS):
        return url_for("main.operator_dashboard")
    if can(user, Permission.READ_DISCLOSURES):
        return url_for("disclosures.index")
    if can(user, Permission.MANAGE_FUND):
        return url_for("investors.fund")
    if can(user, Permission.INVEST):
        ready = investors.readiness(user, now()).ready
        return url_for("portfolios.index") if ready else url_for("investors.index")
    if can(user, Permission.CREATE_CAMPAIGN):
        return url_for("campaigns.mine")
    return url_for("main.index")


def _fresh_session() -> None:
    """A new session at login (nothing of the visitor's anonymous session, its CSRF token
    included, survives into the signed-in one) but for the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/register", methods=["GET", "POST"])
@registrations
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        data = {k: form.data[k] for k in ("email", "password", "name", "role", "country")}
        try:
            user = services.register(data, now=now(), ip_address=request.remote_addr,
                                     locale=str(get_locale() or "en"))
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            _fresh_session()
            login_user(user)
            flash(_("Welcome to GreenRound, %(name)s.", name=user.name), "success")
            return redirect(landing(user))
    return render_template("accounts/register.html", form=form), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
@per_address
@per_account
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            mark_failed_login()
            audit("user.login_failed", details={"email": form.email.data.strip().lower()[:254]},
                  ip_address=request.remote_addr)
            db.session.commit()
            form.form_errors.append(_("Wrong e-mail or password."))
            return render_template("accounts/login.html", form=form), 401
        _fresh_session()
        login_user(user, remember=form.remember.data)
        audit("user.login", actor=user, subject=user, ip_address=request.remote_addr)
        db.session.commit()
        flash(_("You are signed in."), "success")
        return redirect(_safe_next(request.args.get("next"), user))
    return render_template("accounts/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        flash(_("Your session form expired; please try again."), "error")
        return redirect(url_for("main.index"))
    # A new session token: the remember-me cookie (and any copy of it) opens nothing any more.
    user = current_user._get_current_object()
    user.session_token = new_session_token()
    audit("user.logout", actor=user, subject=user, ip_address=request.remote_addr)
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.index"))


def _security_page(password_form: PasswordChangeForm, status: int = 200):
    return render_template("accounts/security.html", form=password_form, revoke_form=RevokeTokenForm(),
                           tokens=tokens.live_tokens(current_user, now=now())), status


@bp.get("/account/security")
@login_required
def security():
    return _security_page(PasswordChangeForm())


@bp.post("/account/password")
@login_required
def change_password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _security_page(form, 422)
    user = current_user._get_current_object()
    try:
        passwords.change_password(user, {"current_password": form.current_password.data,
                                         "new_password": form.new_password.data},
                                  now=now(), ip_address=request.remote_addr)
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _security_page(form, 422)
    db.session.commit()
    # This browser stays signed in under the new session token; every other one is out.
    _fresh_session()
    login_user(user)
    flash(_("Your password is changed. Every other session and API token of your account has ended."), "success")
    return redirect(url_for("accounts.security"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    if not RevokeTokenForm().validate_on_submit():
        abort(400)
    tokens.revoke(current_user, token_id, now=now(), ip_address=request.remote_addr)
    db.session.commit()
    flash(_("The token is revoked: it no longer opens the API."), "success")
    return redirect(url_for("accounts.security"))


@bp.route("/password-reset", methods=["GET", "POST"])
@reset_requests
def request_password_reset():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        try:
            passwords.request_reset({"email": form.email.data}, now=now(), ip_address=request.remote_addr,
                                    link=lambda secret: url_for("accounts.reset_password", token=secret,
                                                                _external=True))
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            return render_template("accounts/reset_sent.html", email=form.email.data), 202
    return render_template("accounts/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """The reset form. A signed-in visitor stays signed in until the reset succeeds (a GET of
    someone's image pointing here changes nothing); the reset then ends every session."""
    if not passwords.reset_is_open(token, now=now()):
        db.session.rollback()
        return render_template("accounts/reset_expired.html"), 410
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            passwords.confirm_reset({"token": token, "new_password": form.new_password.data}, now=now(),
                                    ip_address=request.remote_addr)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            logout_user()
            flash(_("Your password is reset. Log in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), 422 if form.errors else 200
