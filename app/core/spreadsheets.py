"""Cells of the CSV and XLSX files people open in a spreadsheet."""

from typing import Any

#: A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """Typed text as a spreadsheet shows it, never as a formula (``=HYPERLINK(…)`` in a title)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
