"""The rules for campaign input — the API loads with these schemas, and the HTML
forms are converted to the same shape and loaded with them too."""

import re
from datetime import timedelta

import pycountry
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from app.campaigns import entities
from app.campaigns.models import Category, InstrumentType, Repayment
from app.core.pagination import MAX_PAGE

CAMPAIGN_CURRENCIES = ("EUR", "RUB")
MAX_INTEREST_BPS = 3000
MAX_TERM_MONTHS = 240
MIN_ROUND = timedelta(days=1)
MAX_ROUND = timedelta(days=90)
#: Upper bound for any single amount (10^13 minor units, EUR 100 billion): absurd beyond.
MAX_AMOUNT = 10**13


def real_country(value: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value) or not pycountry.countries.get(alpha_2=value):
        raise ValidationError("Not a real ISO 3166 country code (two letters, e.g. EE).")


class InstrumentSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in InstrumentType]))
    interest_rate_bps = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(0, MAX_INTEREST_BPS, error="Interest must be between 0 and 30 % (0–3000 bps)."),
    )
    term_months = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(1, MAX_TERM_MONTHS, error="The term must be 1 to 240 months."),
    )
    repayment = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf([r.value for r in Repayment])
    )

    @validates_schema
    def _loan_or_donation(self, data: dict, **kwargs) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("type") == InstrumentType.DONATION:
            for name in ("interest_rate_bps", "term_months", "repayment"):
                if data.get(name) is not None:
                    errors[name] = ["Donation campaigns have no interest, term or repayment."]
        elif data.get("type") == InstrumentType.LOAN:
            for name in ("interest_rate_bps", "term_months", "repayment"):
                if data.get(name) is None:
                    errors[name] = ["Required for a loan."]
        if errors:
            raise ValidationError(errors)


class ImpactSchema(Schema):
    co2_tonnes_per_year = fields.Float(
        load_default=0.0, validate=validate.Range(0, 10_000_000, error="Between 0 and 10,000,000 tonnes a year.")
    )
    energy_mwh_per_year = fields.Float(
        load_default=0.0, validate=validate.Range(0, 100_000_000, error="Between 0 and 100,000,000 MWh a year.")
    )


class OwnerEntitySchema(Schema):
    """The legal entity or sole proprietor raising the money (the offer cap counts per entity)."""

    legal_form = fields.String(required=True, validate=validate.OneOf(
        entities.LEGAL_FORMS, error="A company or a sole proprietor."))
    legal_name = fields.String(required=True, validate=validate.Length(2, 200))
    registration_country = fields.String(required=True, validate=real_country)
    registration_number = fields.String(required=True, validate=validate.Length(1, 60))

    @post_load
    def _compact(self, data: dict, **kwargs) -> dict:
        try:
            data["registration_number"] = entities.normalise(
                data["registration_country"], data["registration_number"], data["legal_form"])
        except ValueError as exc:
            raise ValidationError({"registration_number": [str(exc)]}) from exc
        data["legal_name"] = " ".join(data["legal_name"].split())
        return data


def _amount(**kwargs) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_AMOUNT, error="Must be a positive whole number of minor units (cents)."),
        **kwargs,
    )


class CampaignInputSchema(Schema):
    """A complete draft (POST); ``partial=True`` loads a PATCH, then the merged draft is re-checked."""

    title = fields.String(required=True, validate=validate.Length(3, 140))
    summary = fields.String(required=True, validate=validate.Length(10, 500))
    description = fields.String(required=True, validate=validate.Length(10, 20_000))
    category = fields.String(required=True, validate=validate.OneOf([c.value for c in Category]))
    sdgs = fields.List(
        fields.Integer(strict=True, validate=validate.Range(1, 17, error="SDGs are numbered 1 to 17.")),
        required=True,
        validate=validate.Length(min=1, max=17, error="Choose between 1 and 17 goals."),
    )
    country = fields.String(required=True, validate=real_country)
    location = fields.String(load_default="", validate=validate.Length(max=140))
    currency = fields.String(
        required=True,
        validate=validate.OneOf(CAMPAIGN_CURRENCIES, error="Campaigns raise EUR or RUB."),
    )
    instrument = fields.Nested(InstrumentSchema, required=True)
    target_amount = _amount(required=True)
    max_amount = _amount(required=True)
    min_pledge = _amount(required=True)
    opens_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    closes_at = fields.AwareDateTime(required=True)
    impact = fields.Nested(ImpactSchema, load_default=lambda: {"co2_tonnes_per_year": 0.0, "energy_mwh_per_year": 0.0})
    owner_entity = fields.Nested(OwnerEntitySchema, load_default=None, allow_none=True)

    @validates("sdgs")
    def _unique_sdgs(self, value: list[int], **kwargs) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Each goal once.")

    @validates_schema
    def _consistent(self, data: dict, partial: bool | None = None, **kwargs) -> None:
        check_consistency(data)


def check_consistency(data: dict) -> None:
    """Cross-field rules, applied to a full draft (also after merging a PATCH)."""
    errors: dict[str, list[str]] = {}
    target, maximum, minimum = data.get("target_amount"), data.get("max_amount"), data.get("min_pledge")
    if target is not None and maximum is not None and target > maximum:
        errors["max_amount"] = ["The maximum must be at least the target."]
    if target is not None and minimum is not None and minimum > target:
        errors["min_pledge"] = ["The minimum pledge cannot exceed the target."]
    opens, closes = data.get("opens_at"), data.get("closes_at")
    if opens is not None and closes is not None:
        if closes <= opens:
            errors["closes_at"] = ["The round must close after it opens."]
        elif not MIN_ROUND <= closes - opens <= MAX_ROUND:
            errors["closes_at"] = ["A round lasts 1 to 90 days."]
    if errors:
        raise ValidationError(errors)


class CampaignSchema(Schema):
    """A campaign as the API returns it."""

    id = fields.Integer()
    title = fields.String()
    summary = fields.String()
    description = fields.String()
    category = fields.String()
    sdgs = fields.List(fields.Integer())
    country = fields.String()
    location = fields.String()
    currency = fields.String()
    instrument = fields.Method("_instrument")
    target_amount = fields.Integer()
    max_amount = fields.Integer()
    min_pledge = fields.Integer()
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime()
    status = fields.String()
    raised_amount = fields.Integer()
    backers_count = fields.Integer()
    risk_class = fields.String(allow_none=True)
    impact = fields.Method("_impact")
    owner_id = fields.Integer()
    rejection_reason = fields.String(allow_none=True)
    kiis_version = fields.Method("_kiis_version", allow_none=True)
    owner_entity = fields.Method("_owner_entity", allow_none=True)

    def _owner_entity(self, c) -> dict | None:
        if c.owner_registration_number is None:
            return None
        return {"legal_form": c.owner_legal_form, "legal_name": c.owner_legal_name,
                "registration_country": c.owner_registration_country,
                "registration_number": c.owner_registration_number}

    def _instrument(self, c) -> dict:
        return {
            "type": c.instrument_type,
            "interest_rate_bps": c.interest_rate_bps,
            "term_months": c.term_months,
            "repayment": c.repayment,
        }

    def _impact(self, c) -> dict:
        return {"co2_tonnes_per_year": c.co2_tonnes_per_year, "energy_mwh_per_year": c.energy_mwh_per_year}

    def _kiis_version(self, c) -> int | None:
        return c.current_kiis_version


class ApproveSchema(Schema):
    risk_class = fields.String(required=True, validate=validate.OneOf(["A", "B", "C", "D", "E"]))
    opens_at = fields.AwareDateTime(load_default=None, allow_none=True)


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(5, 2000))


class UpdateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(3, 140))
    body = fields.String(required=True, validate=validate.Length(10, 10_000))


class CampaignFilterSchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["approved", "live", "successful", "failed", "cancelled", "repaying", "completed", "defaulted"]))
    category = fields.String(load_default=None, validate=validate.OneOf([c.value for c in Category]))
    sdg = fields.Integer(load_default=None, validate=validate.Range(1, 17))
    country = fields.String(load_default=None, validate=validate.Length(equal=2))
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    sort = fields.String(load_default="closing", validate=validate.OneOf(["closing", "newest", "funded"]))
    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class AmendSchema(Schema):
    """What the operator may change on an approved or live offer; each change freezes a new KIIS."""

    closes_at = fields.AwareDateTime(load_default=None)
    max_amount = _amount(load_default=None)
    summary = fields.String(load_default=None, validate=validate.Length(10, 500))
    description = fields.String(load_default=None, validate=validate.Length(10, 20_000))
    reason = fields.String(required=True, validate=validate.Length(5, 500))
