"""Register, log in, log out."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services
from app.accounts.forms import LoginForm, LogoutForm, RegistrationForm
from app.accounts.limits import mark_failed_login, per_account, per_address
from app.core.audit import audit
from app.core.clock import now
from app.core.errors import ValidationFailed
from app.core.forms import apply_errors
from app.extensions import db

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Only follow relative redirects, never to another host."""
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.index")


@bp.route("/register", methods=["GET", "POST"])
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
            login_user(user)
            flash(_("Welcome to GreenRound, %(name)s.", name=user.name), "success")
            return redirect(url_for("main.index"))
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
        login_user(user, remember=form.remember.data)
        audit("user.login", actor=user, subject=user, ip_address=request.remote_addr)
        db.session.commit()
        flash(_("You are signed in."), "success")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        flash(_("Your session form expired; please try again."), "error")
        return redirect(url_for("main.index"))
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.index"))
