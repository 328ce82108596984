"""Account rules: sign-up, credentials, the login session. Services flush; callers commit.

API tokens are in ``tokens``, password changes and resets in ``passwords``."""

from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import User, UserRole, new_session_token
from app.accounts.schemas import RegistrationSchema, normalise_email
from app.core.audit import audit
from app.core.errors import ValidationFailed, load
from app.core.permissions import Role
from app.extensions import db

#: Checked against when the e-mail is unknown, so a wrong address costs as much time
#: as a wrong password and does not reveal which addresses have accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def validate_registration(data: dict) -> dict:
    """Load sign-up input with the shared schema; raise ValidationFailed with field errors."""
    return load(RegistrationSchema(), data, "The registration is invalid.")


def register(data: dict, *, now: datetime, ip_address: str | None = None, locale: str = "en") -> User:
    """Create a self-service account (investor or owner) from raw input; its e-mails are in ``locale``."""
    clean = validate_registration(data)
    user = create_user(
        email=clean["email"],
        password=clean["password"],
        name=clean["name"],
        country=clean["country"],
        roles=[Role(clean["role"])],
        now=now,
        ip_address=ip_address,
    )
    user.locale = locale
    return user


def set_locale(user: User, locale: str) -> None:
    """The language of the user's e-mails from now on (the language switch calls this). Flushes."""
    user.locale = locale
    db.session.flush()


def create_user(
    *,
    email: str,
    password: str,
    name: str,
    country: str,
    roles: list[Role],
    now: datetime,
    actor: User | None = None,
    ip_address: str | None = None,
) -> User:
    """Create a user with any roles (the CLI and operators use this directly)."""
    try:
        email = normalise_email(email)
    except ValidationError as exc:
        raise ValidationFailed("The e-mail address is invalid.", {"email": exc.messages}) from exc
    if find_by_email(email) is not None:
        raise ValidationFailed(
            "That e-mail address is already registered.",
            {"email": ["An account with this e-mail address already exists. Log in instead."]},
        )
    user = User(
        email=email,
        password_hash=generate_password_hash(password),
        name=name,
        country=country,
        created_at=now,
        session_token=new_session_token(),
        roles=[UserRole(role=role.value) for role in roles],
    )
    db.session.add(user)
    db.session.flush()
    audit("user.created", actor=actor or user, subject=user, ip_address=ip_address,
          details={"roles": sorted(r.value for r in roles)}, at=now)
    return user


def grant_role(user: User, role: Role) -> None:
    if role.value not in user.role_names:
        user.roles.append(UserRole(role=role.value))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (timing does not leak which part failed)."""
    user = find_by_email(email or "")
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's loader: ``"<id>:<session token>"`` must match the stored token."""
    uid, _, token = user_id.partition(":")
    if not uid.isdigit():
        return None
    user = db.session.get(User, int(uid))
    if user is None or user.session_token != token or not user.active:
        return None
    return user
