"""One error handler for the whole app: problem+json under /api, HTML pages elsewhere.

A 500 is always logged with its traceback and the session rolled back, so a failed
request never leaves half a record behind.
"""

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.core.errors import DomainError
from app.extensions import db

PROBLEM_TYPE = "about:blank"


def wants_problem_json() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str, errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None) -> Any:
    body = {"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail, "errors": errors or {}}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _html(status: int, title: str, detail: str) -> Any:
    template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
    return render_template(template, status=status, title=title, detail=detail), status


def handle_http(exc: HTTPException) -> Any:
    status = exc.code or 500
    title = exc.name
    detail = exc.description or title
    if isinstance(exc, CSRFError):
        detail = _("The form expired or was sent from another site. Reload the page and try again.")
    if status == 429:
        detail = _("Too many attempts. Wait a minute and try again.")
    if wants_problem_json():
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="GreenRound API"'
        valid_methods = getattr(exc, "valid_methods", None)
        if status == 405 and valid_methods:
            headers["Allow"] = ", ".join(valid_methods)
        return problem(status, title, detail, headers=headers)
    return _html(status, title, detail)


def handle_domain(exc: DomainError) -> Any:
    db.session.rollback()
    if wants_problem_json():
        return problem(exc.status, exc.title, exc.detail, exc.errors)
    return _html(exc.status, exc.title, exc.detail)


def handle_unexpected(exc: Exception) -> Any:
    db.session.rollback()
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    if wants_problem_json():
        return problem(500, "Internal Server Error", "Something went wrong on our side; it has been logged.")
    return _html(500, InternalServerError.name, _("Something went wrong on our side; it has been logged."))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(DomainError, handle_domain)
    app.register_error_handler(Exception, handle_unexpected)
