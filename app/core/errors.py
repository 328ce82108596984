"""Domain errors that services raise and both the HTML views and the API translate.

The API renders them as RFC 9457 ``application/problem+json``; the HTML views put
field errors back on the form.
"""


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 422
    title = "Invalid input"


class NotAllowed(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class StateConflict(DomainError):
    status = 409
    title = "Conflict"
