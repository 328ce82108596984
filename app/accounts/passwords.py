"""Changing a password, and resetting a forgotten one by e-mail. Services flush; callers commit.

Either way the old credentials stop working everywhere: the session token rotates (every
login cookie and remember-me cookie dies) and the API tokens are revoked, except the one a
change was made with. A reset link is single-use, lives an hour, and asking for one says
the same whether or not the address has an account.
"""

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import tokens
from app.accounts.models import PasswordReset, User, new_session_token
from app.accounts.schemas import PasswordChangeSchema, PasswordResetConfirmSchema, PasswordResetRequestSchema
from app.accounts.services import find_by_email
from app.core.audit import audit
from app.core.errors import ValidationFailed, load
from app.core.i18n import _
from app.extensions import db
from app.notifications.services import enqueue

RESET_VALID_FOR = timedelta(hours=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def set_password(user: User, new_password: str, *, now: datetime, keep_token: int | None = None) -> None:
    """The new password; every session and every API token but ``keep_token`` ends. Flushes."""
    user.password_hash = generate_password_hash(new_password)
    user.session_token = new_session_token()
    tokens.revoke_all(user, now=now, keep=keep_token)
    db.session.flush()


def change_password(user: User, data: object, *, now: datetime, keep_token: int | None = None,
                    ip_address: str | None = None) -> None:
    """``{current_password, new_password}``: a wrong current password is a 422 on
    ``current_password`` and changes nothing. Audited."""
    clean = load(PasswordChangeSchema(), data, _("The password was not changed."))
    if not check_password_hash(user.password_hash, clean["current_password"]):
        raise ValidationFailed(_("The password was not changed."),
                               {"current_password": [_("That is not your current password.")]})
    if clean["new_password"] == clean["current_password"]:
        raise ValidationFailed(_("The password was not changed."),
                               {"new_password": [_("Choose a password other than the current one.")]})
    set_password(user, clean["new_password"], now=now, keep_token=keep_token)
    audit("user.password_changed", actor=user, subject=user, ip_address=ip_address, at=now)


def request_reset(data: object, *, now: datetime, link: Callable[[str], str], ip_address: str | None = None) -> None:
    """E-mail a reset link to the address if it has an active account; do nothing visible
    otherwise (the caller answers the same). Only a malformed body is an error."""
    clean = load(PasswordResetRequestSchema(), data, _("The reset request is invalid."))
    user = find_by_email(clean["email"])
    if user is None or not user.active:
        audit("user.password_reset_requested", ip_address=ip_address, at=now,
              details={"email": clean["email"].strip().lower()[:254], "known": False})
        return
    secret = secrets.token_urlsafe(32)
    reset = PasswordReset(user_id=user.id, token_hash=_hash(secret), created_at=now,
                          expires_at=now + RESET_VALID_FOR, ip_address=ip_address)
    db.session.add(reset)
    db.session.flush()
    audit("user.password_reset_requested", actor=user, subject=user, ip_address=ip_address, at=now,
          details={"reset_id": reset.id, "known": True})
    enqueue(user, kind="password_reset", dedupe_key=f"password-reset-{reset.id}", now=now,
            subject=_l("Reset your GreenRound password"),
            body=_l("Someone (we hope you) asked to reset the password of your GreenRound account.\n\n"
                    "To choose a new password, open this link within an hour:\n%(link)s\n\n"
                    "The link works once. If you did not ask for it, ignore this e-mail: your password "
                    "stays as it is.", link=link(secret)))


def _open_reset(secret: str, now: datetime) -> PasswordReset | None:
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(secret))
                              .with_for_update())
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        return None
    return reset


def reset_is_open(secret: str, *, now: datetime) -> bool:
    """Whether a reset link still works (the page asks before showing the form)."""
    return len(secret) <= 200 and _open_reset(secret, now) is not None


def confirm_reset(data: object, *, now: datetime, ip_address: str | None = None) -> User:
    """``{token, new_password}``: set the password and use up the link (and every other open
    link of the account). A used, expired or unknown token is a 422 on ``token``. Audited."""
    clean = load(PasswordResetConfirmSchema(), data, _("The password was not reset."))
    reset = _open_reset(clean["token"], now)
    user = db.session.get(User, reset.user_id) if reset is not None else None
    if user is None or not user.active:
        raise ValidationFailed(_("The password was not reset."), {"token": [
            _("This reset link is used up or expired. Ask for a new one.")]})
    db.session.execute(update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
    set_password(user, clean["new_password"], now=now)
    audit("user.password_reset", actor=user, subject=user, ip_address=ip_address, at=now,
          details={"reset_id": reset.id})
    return user
