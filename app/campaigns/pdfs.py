"""What an uploaded campaign document must be: a PDF that parses, unencrypted, without
scripts, with at least one page. Checked with pypdf, not by the first and last bytes (an
HTML file with a PDF header and trailer passed that)."""

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import DictionaryObject, IndirectObject

#: Names whose presence means the document can run code or act when opened.
_ACTIVE = ("/JavaScript", "/JS", "/AA", "/Launch", "/EmbeddedFiles", "/RichMedia", "/XFA")


def _resolve(value):
    return value.get_object() if isinstance(value, IndirectObject) else value


def _active_names(node, seen: set[int]) -> str | None:
    """The first active name anywhere under ``node`` (dictionaries and arrays, each object once)."""
    stack = [(node, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, IndirectObject):
            if value.idnum in seen:
                continue
            seen.add(value.idnum)
            value = value.get_object()
        if level > 64:
            continue
        if isinstance(value, DictionaryObject):
            for key, child in value.items():
                if key in _ACTIVE:
                    return key
                if key == "/OpenAction":
                    # A destination (open at page 1, zoom) is harmless; any other action is not.
                    action = _resolve(child)
                    if isinstance(action, DictionaryObject) and action.get("/S") != "/GoTo":
                        return key
                    continue
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
        if _active_names(reader.trailer["/Root"], set()) is not None:
            return "The PDF contains scripts or actions; export it again as a plain PDF."
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        return "This file is not a readable PDF document."
    return None
