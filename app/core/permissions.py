"""Roles and permissions, checked in one place.

Roles are data on the user; what each role may do is this one table. Views and API
routes declare the permission they need with ``@requires(...)``; services that need
a finer rule (an owner's own draft) check ownership themselves.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort, g, redirect, request, url_for
from flask_login import current_user


class Role(StrEnum):
    INVESTOR = "investor"
    OWNER = "owner"
    FUND_MANAGER = "fund_manager"
    OPERATOR = "operator"
    REGULATOR = "regulator"


#: Roles anyone may pick when signing up; the others are granted by an operator.
SELF_SERVICE_ROLES = (Role.INVESTOR, Role.OWNER)


class Permission(StrEnum):
    CREATE_CAMPAIGN = "create_campaign"
    REVIEW_CAMPAIGNS = "review_campaigns"
    INVEST = "invest"
    VERIFY_INVESTORS = "verify_investors"
    READ_DISCLOSURES = "read_disclosures"
    RUN_JOBS = "run_jobs"
    VIEW_PORTFOLIO = "view_portfolio"
    MANAGE_INVESTOR_PROFILE = "manage_investor_profile"
    MANAGE_FUND = "manage_fund"
    PAY_WITHDRAWALS = "pay_withdrawals"
    RECONCILE_BANK = "reconcile_bank"
    FILE_COMPLAINT = "file_complaint"
    HANDLE_COMPLAINTS = "handle_complaints"
    SET_EXPECTED_DEFAULTS = "set_expected_defaults"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.CREATE_CAMPAIGN: frozenset({Role.OWNER}),
    Permission.REVIEW_CAMPAIGNS: frozenset({Role.OPERATOR}),
    Permission.INVEST: frozenset({Role.INVESTOR, Role.FUND_MANAGER}),
    Permission.VERIFY_INVESTORS: frozenset({Role.OPERATOR}),
    Permission.READ_DISCLOSURES: frozenset({Role.REGULATOR, Role.OPERATOR}),
    Permission.RUN_JOBS: frozenset({Role.OPERATOR}),
    Permission.VIEW_PORTFOLIO: frozenset({Role.INVESTOR, Role.FUND_MANAGER}),
    Permission.MANAGE_INVESTOR_PROFILE: frozenset({Role.INVESTOR}),
    Permission.MANAGE_FUND: frozenset({Role.FUND_MANAGER}),
    Permission.PAY_WITHDRAWALS: frozenset({Role.OPERATOR}),
    Permission.RECONCILE_BANK: frozenset({Role.OPERATOR}),
    Permission.FILE_COMPLAINT: frozenset(Role),
    Permission.HANDLE_COMPLAINTS: frozenset({Role.OPERATOR}),
    Permission.SET_EXPECTED_DEFAULTS: frozenset({Role.OPERATOR}),
}


def can(user: Any, permission: Permission) -> bool:
    """True when an authenticated user holds a role that grants ``permission``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(GRANTS[permission] & set(user.role_names))


def current_actor() -> Any:
    """The user making this request: the bearer-token user on the API, else the session user.

    The API never falls back to the session cookie, so a browser session cannot be
    ridden into the token-authenticated API.
    """
    if request.blueprint and request.blueprint.startswith("api"):
        return g.get("api_user")
    return current_user if current_user.is_authenticated else None


P = ParamSpec("P")
R = TypeVar("R")


def requires(permission: Permission | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a signed-in user, and with ``permission`` a role that grants it.

    Anonymous HTML visitors are sent to the login page; the API answers 401. A user
    without the permission gets 403 on both.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            actor = current_actor()
            if actor is None:
                if request.blueprint and request.blueprint.startswith("api"):
                    abort(401)
                return redirect(url_for("accounts.login", next=request.full_path))  # type: ignore[return-value]
            if permission is not None and not can(actor, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
