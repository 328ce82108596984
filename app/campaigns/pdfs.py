"""What an uploaded campaign document must be: a PDF that parses, unencrypted, without
scripts, with at least one page. Checked with pypdf, not by the first and last bytes (an
HTML file with a PDF header and trailer passed that)."""

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import DictionaryObject, IndirectObject

#: Keys whose presence means the document can run code, act on events or carry files.
_ACTIVE = ("/JavaScript", "/JS", "/AA", "/Launch", "/EmbeddedFiles", "/RichMedia", "/XFA")
#: Action types (an action dictionary's ``/S``) that run code, start programs or send data,
#: wherever they appear: an open action, a link, the ``/Next`` of a harmless action.
_ACTIONS = ("/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/RichMediaExecute")
#: Deeper than this is not a document anyone writes; it is refused rather than half-searched.
MAX_DEPTH = 64


def _active(node) -> str | None:
    """The first active key or action anywhere under ``node`` (each object once); ``/TooDeep``
    when the structure nests beyond ``MAX_DEPTH``."""
    seen: set[int] = set()
    stack = [(node, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, IndirectObject):
            if value.idnum in seen:
                continue
            seen.add(value.idnum)
            value = value.get_object()
        if level > MAX_DEPTH:
            return "/TooDeep"
        if isinstance(value, DictionaryObject):
            if value.get("/S") in _ACTIONS:
                return str(value.get("/S"))
            for key, child in value.items():
                if key in _ACTIVE:
                    return key
                if key != "/Parent":
                    stack.append((child, level + 1))
        elif isinstance(value, list):
            stack.extend((child, level + 1) for child in value)
    return None


def pdf_problem(data: bytes) -> str | None:
    """Why ``data`` is not an acceptable document, in the uploader's words; None if it is."""
    if not data.startswith(b"%PDF-"):
        return "This file is not a PDF document."
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return "The PDF is encrypted or password-protected; upload it without protection."
        if len(reader.pages) == 0:
            return "The PDF has no pages."
        if _active(reader.trailer["/Root"]) is not None:
            return "The PDF contains scripts or actions; export it again as a plain PDF."
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        return "This file is not a readable PDF document."
    return None
