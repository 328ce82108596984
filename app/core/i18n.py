"""Messages that services raise, translated when there is a visitor to translate for."""

from typing import Any

from flask import has_request_context
from flask_babel import gettext


def _(text: str, **values: Any) -> str:
    """gettext in a request (the visitor's language); plain English in jobs and the CLI."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text
