"""The login rate limit, shared by the HTML login and ``POST /api/v1/tokens``.

Only failed attempts count: five failures a minute for one address or one account,
and the sixth attempt is answered 429 before the password is even checked.
"""

from flask import current_app, g, request

from app.extensions import limiter


def _limit() -> str:
    return f"{current_app.config['LOGIN_ATTEMPTS_PER_MINUTE']} per minute"


def _attempted_account() -> str:
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return f"account:{str(email or '').strip().lower()}"


def _failed(response) -> bool:
    return bool(g.get("login_failed"))


def mark_failed_login() -> None:
    """Tell the limiter this request was a failed attempt, so it is counted."""
    g.login_failed = True


per_address = limiter.shared_limit(_limit, scope="login-address", deduct_when=_failed, methods=["POST"])
per_account = limiter.shared_limit(
    _limit, scope="login-account", key_func=_attempted_account, deduct_when=_failed, methods=["POST"]
)
