"""Names people read for the keys of an allocation (categories, countries, goals)."""

import pycountry
from flask_babel import lazy_gettext as _l

from app.core.labels import LABELS, label

#: Category names are the campaigns' labels (one translation for the whole site).
CATEGORY_LABELS = {key: LABELS[key] for key in (
    "energy_efficiency", "renewable_energy", "clean_transport", "clean_shipping", "water", "circular_economy",
    "industrial_symbiosis", "sustainable_agriculture", "biotech")}

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
