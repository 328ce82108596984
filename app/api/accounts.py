"""Accounts: sign-up, tokens, the current user."""

from flask import current_app, g, request, url_for
from flask_babel import get_locale

from app.accounts import passwords, services, tokens
from app.accounts.limits import (
    mark_failed_login,
    per_account,
    per_address,
    registrations,
    reset_requests,
    token_issuance,
)
from app.accounts.schemas import (
    CredentialsSchema,
    MeSchema,
    PasswordChangeSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    RegistrationSchema,
    TokenSchema,
    UserSchema,
)
from app.api import bp, json_body
from app.api.openapi import document
from app.core.audit import audit
from app.core.clock import now
from app.core.permissions import requires
from app.core.problems import problem
from app.extensions import db

document("/users", "post", "Register an investor or project owner", request=RegistrationSchema, status=201,
         response=UserSchema, auth=False)
document("/tokens", "post", "Exchange credentials for a bearer token", request=CredentialsSchema, status=201,
         response=TokenSchema, auth=False, errors=(401,))
document("/me", "get", "The signed-in user, roles, investor profile and classification", response=MeSchema)
document("/tokens/current", "delete", "Revoke the bearer token of this request", status=204)
document("/me/password", "post", "Change the password; every other token and session stops working",
         request=PasswordChangeSchema, status=204)
document("/password-resets", "post", "E-mail a single-use reset link (answered alike for unknown addresses)",
         request=PasswordResetRequestSchema, status=202, auth=False, media=())
document("/password-resets/confirm", "post", "Set a new password with a reset link's token",
         request=PasswordResetConfirmSchema, status=204, auth=False)


@bp.post("/users")
@registrations
def create_user():
    user = services.register(json_body(), now=now(), ip_address=request.remote_addr,
                                     locale=str(get_locale() or "en"))
    db.session.commit()
    return UserSchema().dump(user), 201, {"Location": url_for("api.me")}


@bp.post("/tokens")
@token_issuance
@per_address
@per_account
def create_token():
    body = json_body()
    user = services.authenticate(str(body.get("email") or ""), str(body.get("password") or ""))
    if user is None:
        mark_failed_login()
        audit("user.login_failed", details={"email": str(body.get("email") or "")[:254], "via": "api"},
              ip_address=request.remote_addr)
        db.session.commit()
        return problem(401, "Unauthorized", "Wrong e-mail or password.",
                       headers={"WWW-Authenticate": 'Bearer realm="GreenRound API"'})
    token, expires_at = tokens.issue_token(
        user, now=now(), ttl=current_app.config["API_TOKEN_TTL"], secret_key=current_app.config["SECRET_KEY"],
        ip_address=request.remote_addr, user_agent=request.user_agent.string)
    audit("user.token_issued", actor=user, subject=user, ip_address=request.remote_addr)
    db.session.commit()
    return TokenSchema().dump({"token": token, "expires_at": expires_at}), 201


@bp.get("/me")
@requires()
def me():
    return MeSchema().dump(g.api_user)


@bp.delete("/tokens/current")
@requires()
def revoke_current_token():
    tokens.revoke(g.api_user, g.api_token_id, now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return "", 204


@bp.post("/me/password")
@requires()
def change_password():
    passwords.change_password(g.api_user, json_body(), now=now(), keep_token=g.api_token_id,
                              ip_address=request.remote_addr)
    db.session.commit()
    return "", 204


@bp.post("/password-resets")
@reset_requests
def request_password_reset():
    passwords.request_reset(json_body(), now=now(), ip_address=request.remote_addr,
                            link=lambda secret: url_for("accounts.reset_password", token=secret, _external=True))
    db.session.commit()
    return "", 202


@bp.post("/password-resets/confirm")
def confirm_password_reset():
    passwords.confirm_reset(json_body(), now=now(), ip_address=request.remote_addr)
    db.session.commit()
    return "", 204
