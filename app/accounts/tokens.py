"""API bearer tokens: issued one by one, each a row that can be revoked on its own.

The bearer string is signed (itsdangerous) and names its ``api_tokens`` row by ``key``: a
forged string fails the signature before any query, and a revoked, expired or unknown row
makes a genuine one worthless at once. Services flush; callers commit.
"""

import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from app.accounts.models import ApiToken, User
from app.core.audit import audit
from app.core.boundaries import MAX_ID
from app.core.errors import NotFound
from app.core.i18n import _
from app.extensions import db


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="api-token")


def issue_token(user: User, *, now: datetime, ttl: timedelta, secret_key: str, ip_address: str | None = None,
                user_agent: str | None = None) -> tuple[str, datetime]:
    """A new bearer token for ``user`` and its expiry (its row is added and flushed)."""
    row = ApiToken(user_id=user.id, key=secrets.token_urlsafe(24), created_at=now, expires_at=now + ttl,
                   ip_address=ip_address, user_agent=(user_agent or "")[:200] or None)
    db.session.add(row)
    db.session.flush()
    token = _serializer(secret_key).dumps({"uid": user.id, "tid": row.key, "exp": int(row.expires_at.timestamp())})
    return token, row.expires_at


#: Built once (every API request runs it): the user, their roles and the token's id in one
#: query, only for a live token of an active user.
_TOKEN_USER = (select(User, ApiToken.id).options(joinedload(User.roles))
               .join(ApiToken, ApiToken.user_id == User.id)
               .where(User.id == bindparam("uid"), ApiToken.key == bindparam("tid"), ApiToken.revoked_at.is_(None),
                      ApiToken.expires_at > bindparam("now"), User.active.is_(True)))


def user_from_token(token: str, *, now: datetime, secret_key: str) -> tuple[User, int] | None:
    """The user a bearer token belongs to and the token's row id, or None if forged,
    expired, revoked or of a closed account."""
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    uid, tid, expires = payload.get("uid"), payload.get("tid"), payload.get("exp")
    if not (isinstance(uid, int) and isinstance(tid, str) and isinstance(expires, int)) or expires <= now.timestamp():
        return None
    row = db.session.execute(_TOKEN_USER, {"uid": uid, "tid": tid, "now": now}).unique().one_or_none()
    return None if row is None else (row[0], row[1])


def live_tokens(user: User, *, now: datetime) -> list[ApiToken]:
    """The user's tokens that still work, newest first (the tokens page)."""
    return list(db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke(user: User, token_id: int, *, now: datetime, ip_address: str | None = None) -> ApiToken:
    """Revoke one of the user's own tokens (another user's, or an unknown one, is a 404). Audited."""
    row = db.session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such token."))
    if row.revoked_at is None:
        row.revoked_at = now
        audit("user.token_revoked", actor=user, subject=user, ip_address=ip_address, at=now,
              details={"token_id": row.id})
    db.session.flush()
    return row


def revoke_all(user: User, *, now: datetime, keep: int | None = None) -> int:
    """Revoke every live token of the user but ``keep`` (a password change keeps the token
    it was made with); how many were revoked."""
    statement = (update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                 .values(revoked_at=now).execution_options(synchronize_session=False))
    if keep is not None:
        statement = statement.where(ApiToken.id != keep)
    return db.session.execute(statement).rowcount or 0
