"""JSON API v1. Routes only: they parse, call a service and dump with a domain schema."""

from flask import Blueprint, current_app, g, request

from app.accounts.tokens import user_from_token
from app.core.clock import now
from app.core.errors import DomainError
from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


class BadBody(DomainError):
    status = 400
    title = "Bad Request"


@bp.before_request
def authenticate_bearer() -> None:
    """Load the user from ``Authorization: Bearer``; the session cookie is never consulted."""
    g.api_user = g.api_token_id = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        found = user_from_token(token.strip(), now=now(), secret_key=current_app.config["SECRET_KEY"])
        if found is not None:
            g.api_user, g.api_token_id = found


def json_body() -> dict:
    """The request body as a JSON object, or a 400 problem saying what is wrong with it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadBody("The request body must be a JSON object sent with Content-Type: application/json.")
    return body


# Route modules register on bp when imported; add a domain's module here.
from app.api import (  # noqa: E402,F401
    accounts,
    campaigns,
    complaints,
    disclosures,
    investors,
    openapi,
    pledges,
    portfolio,
    repayments,
    statements,
    wallets,
)
