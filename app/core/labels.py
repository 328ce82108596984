"""Human labels for stored enum values, translated at render time."""

from flask_babel import lazy_gettext as _l

LABELS = {
    "company": _l("Company"),
    "sole_proprietor": _l("Sole proprietor"),
    "draft": _l("Draft"),
    "submitted": _l("In review"),
    "approved": _l("Opening soon"),
    "live": _l("Live"),
    "successful": _l("Funded"),
    "failed": _l("Not funded"),
    "cancelled": _l("Cancelled"),
    "repaying": _l("Repaying"),
    "completed": _l("Completed"),
    "defaulted": _l("Defaulted"),
    "loan": _l("Loan"),
    "donation": _l("Donation"),
    "annuity": _l("annuity (equal monthly instalments)"),
    "bullet": _l("bullet (principal repaid at the end)"),
    "scheduled": _l("Scheduled"),
    "due": _l("Due"),
    "overdue": _l("Overdue"),
    "paid": _l("Paid"),
    "pending_payment": _l("Awaiting payment"),
    "revoked": _l("Revoked"),
    "refunded": _l("Refunded"),
    "settled": _l("Settled"),
    "expired": _l("Expired"),
    "energy_efficiency": _l("Energy efficiency"),
    "renewable_energy": _l("Renewable energy"),
    "clean_transport": _l("Clean transport"),
    "clean_shipping": _l("Clean shipping"),
    "water": _l("Water"),
    "circular_economy": _l("Circular economy"),
    "industrial_symbiosis": _l("Industrial symbiosis"),
    "sustainable_agriculture": _l("Sustainable agriculture"),
    "biotech": _l("Biotech"),
}


def label(value: str | None) -> str:
    """The translated label of an enum value, or the value itself if it has none."""
    if value is None:
        return ""
    return str(LABELS.get(value, value))
