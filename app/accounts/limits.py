"""The account rate limits, each shared by the HTML page and its API route (API.md, Conventions).

Logins: only failed attempts count: five failures a minute for one address, or for one
account from one address (not for the account alone: anyone could then lock its owner out),
and the sixth attempt is answered 429 before the password is even checked. Registrations,
token issuance and password-reset requests count every POST from an address, so a script
can neither mass-create accounts nor flood someone's inbox with reset links.
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
    return f"account:{str(email or '').strip().lower()}:{request.remote_addr}"


def _failed(response) -> bool:
    return bool(g.get("login_failed"))


def mark_failed_login() -> None:
    """Tell the limiter this request was a failed attempt, so it is counted."""
    g.login_failed = True


per_address = limiter.shared_limit(_limit, scope="login-address", deduct_when=_failed, methods=["POST"])
per_account = limiter.shared_limit(
    _limit, scope="login-account", key_func=_attempted_account, deduct_when=_failed, methods=["POST"]
)

registrations = limiter.shared_limit(lambda: current_app.config["REGISTRATIONS_PER_ADDRESS"], scope="registrations",
                                     methods=["POST"])
token_issuance = limiter.shared_limit(lambda: current_app.config["TOKENS_PER_ADDRESS"], scope="token-issuance",
                                      methods=["POST"])
reset_requests = limiter.shared_limit(lambda: current_app.config["PASSWORD_RESETS_PER_ADDRESS"],
                                      scope="password-resets", methods=["POST"])


def _acting_user() -> str:
    from app.core.permissions import current_actor

    actor = current_actor()
    return f"user:{actor.id}" if actor is not None else f"address:{request.remote_addr}"


#: Pledge attempts per user, page and API together (each may charge a card: a script must
#: not run through stolen cards on one account). Placed under ``requires``, so the user is known.
pledge_attempts = limiter.shared_limit(lambda: current_app.config["PLEDGE_ATTEMPTS_PER_USER"], scope="pledges",
                                       key_func=_acting_user, methods=["POST"])
