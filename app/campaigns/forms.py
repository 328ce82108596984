"""HTML forms for campaigns. They collect input in people's units (euros, per cent) and
convert it to the API's shape; the rules themselves live in ``campaigns.schemas``."""

from datetime import UTC
from decimal import Decimal

import pycountry
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Optional

from app.campaigns.models import Category
from app.core.labels import label
from app.core.money import to_minor

BALTIC_FIRST = ["EE", "LV", "LT", "FI", "SE", "DK", "DE", "PL", "NO", "RU"]


def country_choices() -> list[SelectChoice]:
    rest = sorted((c for c in pycountry.countries if c.alpha_2 not in BALTIC_FIRST), key=lambda c: c.name)
    first = [pycountry.countries.get(alpha_2=code) for code in BALTIC_FIRST]
    return [SelectChoice(c.alpha_2, c.name) for c in first + rest]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired()])
    summary = TextAreaField(_l("Summary (one or two sentences)"), validators=[InputRequired()])
    description = TextAreaField(_l("The story: what, where, how the savings repay the loan"),
                                validators=[InputRequired()])
    category = SelectField(_l("Category"), choices=[SelectChoice(c.value, label(c.value)) for c in Category])
    sdgs = MultiCheckboxField(_l("UN Sustainable Development Goals"),
                              choices=[SelectChoice(str(n), f"SDG {n}") for n in range(1, 18)])
    country = SelectField(_l("Country"))
    location = StringField(_l("Town or district"), validators=[Optional()])
    currency = SelectField(_l("Currency"), choices=[SelectChoice("EUR", "EUR"), SelectChoice("RUB", "RUB")])
    instrument_type = SelectField(_l("Instrument"), choices=[SelectChoice("loan", _l("Loan")),
                                                             SelectChoice("donation", _l("Donation"))])
    interest_rate = DecimalField(_l("Interest rate, % a year (loans)"), places=2, validators=[Optional()])
    term_months = DecimalField(_l("Term in months (loans)"), places=0, validators=[Optional()])
    repayment = SelectField(_l("Repayment (loans)"), choices=[
        SelectChoice("", _l("— none (donation) —")),
        SelectChoice("annuity", _l("Annuity: equal monthly instalments")),
        SelectChoice("bullet", _l("Bullet: interest monthly, principal at the end")),
    ])
    target_amount = DecimalField(_l("Target amount"), validators=[Optional()])
    max_amount = DecimalField(_l("Maximum amount"), validators=[Optional()])
    min_pledge = DecimalField(_l("Minimum pledge"), validators=[Optional()])
    opens_at = DateTimeLocalField(_l("Opens (UTC, optional: on approval if empty)"), format="%Y-%m-%dT%H:%M",
                                  validators=[Optional()])
    closes_at = DateTimeLocalField(_l("Closes (UTC)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    co2_tonnes_per_year = DecimalField(_l("Projected CO₂ avoided, tonnes a year"), validators=[Optional()])
    energy_mwh_per_year = DecimalField(_l("Projected energy saved or produced, MWh a year"), validators=[Optional()])
    owner_legal_form = SelectField(_l("Legal form of the raiser"), choices=[
        SelectChoice("", _l("— not given —")),
        SelectChoice("company", _l("Company")),
        SelectChoice("sole_proprietor", _l("Sole proprietor")),
    ], default="")
    owner_legal_name = StringField(_l("Registered name"), validators=[Optional()])
    owner_registration_country = SelectField(_l("Country of registration"), default="")
    owner_registration_number = StringField(
        _l("Registration number (e.g. registrikood, Y-tunnus, ИНН)"), validators=[Optional()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.owner_registration_country.choices = [SelectChoice("", _l("— not given —")), *country_choices()]

    def to_input(self) -> tuple[dict, dict[str, list[str]]]:
        """The API-shaped input, and conversion errors the schema cannot see (e.g. 0.001 EUR)."""
        errors: dict[str, list[str]] = {}
        currency = self.currency.data

        def minor(field: DecimalField) -> int | None:
            if field.data is None:
                return None
            try:
                return to_minor(field.data, currency)
            except ValueError as exc:
                errors[field.name] = [str(exc)]
                return None

        def aware(value):
            return value.replace(tzinfo=UTC).isoformat() if value else None

        loan = self.instrument_type.data == "loan"
        rate = self.interest_rate.data
        if rate is not None and rate != rate.quantize(Decimal("0.01")):
            errors["interest_rate"] = [str(_l("Use at most two decimals, e.g. 6.25."))]
            rate = None
        data = {
            "title": (self.title.data or "").strip(),
            "summary": (self.summary.data or "").strip(),
            "description": (self.description.data or "").strip(),
            "category": self.category.data,
            "sdgs": [int(s) for s in self.sdgs.data or []],
            "country": self.country.data,
            "location": (self.location.data or "").strip(),
            "currency": currency,
            "instrument": {
                "type": self.instrument_type.data,
                "interest_rate_bps": int(rate * 100) if rate is not None else None,
                "term_months": int(self.term_months.data) if self.term_months.data is not None else None,
                "repayment": self.repayment.data or None,
            },
            "target_amount": minor(self.target_amount),
            "max_amount": minor(self.max_amount),
            "min_pledge": minor(self.min_pledge),
            "opens_at": aware(self.opens_at.data),
            "closes_at": aware(self.closes_at.data),
            "impact": {
                "co2_tonnes_per_year": float(self.co2_tonnes_per_year.data or 0),
                "energy_mwh_per_year": float(self.energy_mwh_per_year.data or 0),
            },
        }
        entity = {
            "legal_form": self.owner_legal_form.data or None,
            "legal_name": (self.owner_legal_name.data or "").strip() or None,
            "registration_country": self.owner_registration_country.data or None,
            "registration_number": (self.owner_registration_number.data or "").strip() or None,
        }
        if any(entity.values()):  # part of it typed: the schema names what is missing
            data["owner_entity"] = {k: v for k, v in entity.items() if v is not None}
        if not loan:
            # A donation form may carry leftovers from a loan draft; the schema refuses
            # them only when the owner really typed them.
            data["instrument"] = {k: v for k, v in data["instrument"].items() if v is not None}
        data = {k: v for k, v in data.items() if v is not None}
        return data, errors

    def fill_from(self, campaign) -> None:
        """Fill the fields from a stored draft (minor units back to major)."""
        from app.core.money import minor_digits

        digits = minor_digits(campaign.currency)
        self.title.data = campaign.title
        self.summary.data = campaign.summary
        self.description.data = campaign.description
        self.category.data = campaign.category
        self.sdgs.data = [str(s) for s in campaign.sdgs]
        self.country.data = campaign.country
        self.location.data = campaign.location
        self.currency.data = campaign.currency
        self.instrument_type.data = campaign.instrument_type
        self.interest_rate.data = (Decimal(campaign.interest_rate_bps) / 100
                                   if campaign.interest_rate_bps is not None else None)
        self.term_months.data = campaign.term_months
        self.repayment.data = campaign.repayment or ""
        self.target_amount.data = Decimal(campaign.target_amount).scaleb(-digits)
        self.max_amount.data = Decimal(campaign.max_amount).scaleb(-digits)
        self.min_pledge.data = Decimal(campaign.min_pledge).scaleb(-digits)
        self.opens_at.data = campaign.opens_at.replace(tzinfo=None) if campaign.opens_at else None
        self.closes_at.data = campaign.closes_at.replace(tzinfo=None)
        self.co2_tonnes_per_year.data = Decimal(str(campaign.co2_tonnes_per_year))
        self.energy_mwh_per_year.data = Decimal(str(campaign.energy_mwh_per_year))
        self.owner_legal_form.data = campaign.owner_legal_form or ""
        self.owner_legal_name.data = campaign.owner_legal_name
        self.owner_registration_country.data = campaign.owner_registration_country or ""
        self.owner_registration_number.data = campaign.owner_registration_number


#: Where the schema's (API-shaped) error keys appear on this form.
FORM_FIELDS = {
    "instrument.type": "instrument_type",
    "instrument.interest_rate_bps": "interest_rate",
    "instrument.term_months": "term_months",
    "instrument.repayment": "repayment",
    "impact.co2_tonnes_per_year": "co2_tonnes_per_year",
    "impact.energy_mwh_per_year": "energy_mwh_per_year",
    "owner_entity": "owner_legal_form",
    "owner_entity.legal_form": "owner_legal_form",
    "owner_entity.legal_name": "owner_legal_name",
    "owner_entity.registration_country": "owner_registration_country",
    "owner_entity.registration_number": "owner_registration_number",
}


class ApproveForm(FlaskForm):
    #: No class is pre-selected: an untouched Approve must not rate a campaign A.
    risk_class = SelectField(_l("Risk class"), choices=[SelectChoice("", _l("Choose the risk class"))]
                             + [SelectChoice(c, c) for c in "ABCDE"],
                             validators=[InputRequired(_l("Choose the risk class (A to E) before approving."))])
    opens_at = DateTimeLocalField(_l("Opens (UTC; now if empty)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason the owner will see"), validators=[InputRequired()])


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason for cancelling"), validators=[InputRequired()])


class UpdateForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired()])
    body = TextAreaField(_l("What happened"), validators=[InputRequired()])


class DocumentForm(FlaskForm):
    title = StringField(_l("Document title, e.g. Energy audit 2026"), validators=[InputRequired()])
    file = FileField(_l("PDF file, at most 10 MB"))


class ActionForm(FlaskForm):
    """CSRF only: for single-button actions such as submitting a draft."""
