"""Names people read for the keys of an allocation (categories, countries, goals)."""

import pycountry
from flask_babel import lazy_gettext as _l

from app.core.labels import label

CATEGORY_LABELS = {
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

DIMENSION_LABELS = {
    "by_category": _l("By category"),
    "by_country": _l("By country"),
    "by_risk_class": _l("By risk class"),
    "by_sdg": _l("By UN Sustainable Development Goal"),
}


def category_label(key: str) -> str:
    return str(CATEGORY_LABELS.get(key) or label(key))


def country_label(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if code and len(code) == 2 else None
    return country.name if country else code


def key_label(dimension: str, key: str) -> str:
    """The readable name of one allocation line."""
    if dimension == "by_category":
        return category_label(key)
    if dimension == "by_country":
        return country_label(key)
    if dimension == "by_sdg":
        return f"SDG {key}"
    if dimension == "by_risk_class":
        return str(_l("Risk class %(risk)s", risk=key)) if key != "-" else str(_l("Not classified"))
    return key
