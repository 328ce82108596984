"""The rules for investor input, and the shapes of investor output (API and exports)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.core.money import SUPPORTED_CURRENCIES
from app.investors.limits import JURISDICTIONS, Classification, jurisdiction
from app.investors.models import MAX_DECLARED_AMOUNT, IdentityStatus, RequestStatus

COUNTRY = validate.Regexp(r"^[A-Z]{2}$", error="Use a two-letter ISO 3166 country code, e.g. EE.")


class MinorUnits(fields.Integer):
    """A whole, non-negative, plausible amount in minor units. Booleans and floats are refused."""

    default_error_messages = {
        "invalid": "Enter a whole number of minor units (cents), e.g. 123456 for 1,234.56.",
        "range": "Must be between 0 and {max} minor units.",
    }

    def __init__(self, **kwargs) -> None:
        # The bounds go in the metadata too, so openapi.json states the range this checks.
        kwargs["metadata"] = {"minimum": 0, "maximum": MAX_DECLARED_AMOUNT} | kwargs.get("metadata", {})
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is not None and not 0 <= number <= MAX_DECLARED_AMOUNT:
            raise self.make_error("range", max=f"{MAX_DECLARED_AMOUNT:,}")
        return number


class InvestorProfileInputSchema(Schema):
    """PUT /me/investor-profile and the profile form.

    Net worth is the ECSP one: net annual income + liquid assets − annual financial
    commitments. Give ``liquid_assets`` and ``annual_commitments`` and it is computed
    (a ``net_worth`` sent as well must agree); otherwise ``net_worth`` is required.
    """

    legal_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    country = fields.String(required=True, validate=COUNTRY)
    currency = fields.String(required=True, metadata={
        "enum": sorted({p.currency for p in JURISDICTIONS.values()}),
        "description": "the deployment's currency (EUR in the EU, RUB in Russia)"})
    annual_income = MinorUnits(required=True)
    liquid_assets = MinorUnits(load_default=None, allow_none=True)
    annual_commitments = MinorUnits(load_default=None, allow_none=True)
    net_worth = MinorUnits(load_default=None, allow_none=True)
    other_platforms_this_year = MinorUnits(load_default=0)

    def __init__(self, *, jurisdiction_code: str = "EU", **kwargs) -> None:
        super().__init__(**kwargs)
        self.jurisdiction = jurisdiction(jurisdiction_code)

    @validates_schema
    def _rules(self, data: dict, **kwargs) -> None:
        errors: dict[str, list[str]] = {}
        currency = data.get("currency")
        if currency is not None and currency != self.jurisdiction.currency:
            known = currency in SUPPORTED_CURRENCIES
            errors["currency"] = [
                f"Declare amounts in {self.jurisdiction.currency}: this platform's investor limits are set in "
                f"{self.jurisdiction.currency}" + ("." if known else f", and {currency!r} is not a currency we know.")
            ]
        components = [data.get("liquid_assets"), data.get("annual_commitments")]
        if None in components and any(c is not None for c in components):
            missing = "liquid_assets" if components[0] is None else "annual_commitments"
            errors[missing] = ["Give both liquid assets and annual financial commitments, or neither."]
        elif None in components and data.get("net_worth") is None and "annual_income" in data:
            errors["net_worth"] = ["Give your net worth, or your liquid assets and annual financial commitments."]
        if errors:
            raise ValidationError(errors)


class InvestorProfileSchema(Schema):
    user_id = fields.Integer()
    legal_name = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    currency = fields.String()
    annual_income = fields.Integer(allow_none=True)
    liquid_assets = fields.Integer(allow_none=True)
    annual_commitments = fields.Integer(allow_none=True)
    net_worth = fields.Integer(allow_none=True)
    other_platforms_this_year = fields.Integer()
    other_platforms_year = fields.Integer(allow_none=True)
    identity_status = fields.String()
    identity_reason = fields.String(allow_none=True)
    identity_decided_at = fields.DateTime(allow_none=True)
    classification = fields.String()
    loss_capacity = fields.Integer()
    acknowledged_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OptionSchema(Schema):
    id = fields.String()
    text = fields.String()


class QuestionSchema(Schema):
    id = fields.String()
    topic = fields.String()
    text = fields.String()
    options = fields.List(fields.Nested(OptionSchema))


class KnowledgeTestSchema(Schema):
    """GET /me/knowledge-test."""

    questions = fields.List(fields.Nested(QuestionSchema))
    pass_mark = fields.Integer()
    passed = fields.Boolean()
    valid_until = fields.DateTime(allow_none=True)
    last_score = fields.Integer(allow_none=True)
    retake_after = fields.DateTime(allow_none=True)
    required = fields.Boolean()


class AnswersSchema(Schema):
    """POST /me/knowledge-test: {"answers": {"<question id>": "<option id>"}}."""

    answers = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class KnowledgeTestResultSchema(Schema):
    passed = fields.Boolean()
    score = fields.Integer()
    pass_mark = fields.Integer()
    question_count = fields.Integer()
    valid_until = fields.DateTime(allow_none=True)
    retake_after = fields.DateTime(allow_none=True)
    wrong_question_ids = fields.List(fields.String())


class BankOptionSchema(Schema):
    id = fields.String()
    text = fields.String()
    text_ru = fields.String(allow_none=True)


class BankQuestionSchema(Schema):
    """The operator's view of the question bank, answers included."""

    id = fields.String()
    position = fields.Integer()
    topic = fields.String()
    text = fields.String()
    text_ru = fields.String(allow_none=True)
    active = fields.Boolean()
    options = fields.List(fields.Nested(BankOptionSchema))
    correct_option_id = fields.String(allow_none=True)


class QuestionBankSchema(Schema):
    questions = fields.List(fields.Nested(BankQuestionSchema))
    pass_mark = fields.Integer()


class LossSimulationSchema(Schema):
    """GET /me/loss-simulation: 10 % of net worth, and whether it was acknowledged."""

    currency = fields.String()
    annual_income = fields.Integer(allow_none=True)
    liquid_assets = fields.Integer(allow_none=True)
    annual_commitments = fields.Integer(allow_none=True)
    net_worth = fields.Integer(allow_none=True)
    loss_capacity = fields.Integer()
    loss_capacity_bps = fields.Integer()
    warning_threshold = fields.Integer(allow_none=True)
    annual_limit = fields.Integer(allow_none=True)
    annual_headroom = fields.Integer(allow_none=True)
    acknowledged = fields.Boolean()
    acknowledged_at = fields.DateTime(allow_none=True)
    risk_warning = fields.String()


def _must_be_true(value: bool) -> None:
    if value is not True:
        raise ValidationError("Must be true: tick the box to confirm.")


class AcknowledgeSchema(Schema):
    acknowledge = fields.Boolean(required=True, validate=_must_be_true)


class StepSchema(Schema):
    key = fields.String()
    done = fields.Boolean()
    detail = fields.String()


class ReadinessSchema(Schema):
    """GET /me/readiness: what is missing before a first pledge."""

    ready = fields.Boolean()
    missing = fields.List(fields.String())
    steps = fields.List(fields.Nested(StepSchema))
    classification = fields.String(allow_none=True)
    jurisdiction = fields.String()


class VerifySchema(Schema):
    status = fields.String(load_default=IdentityStatus.VERIFIED.value,
                           validate=validate.OneOf([IdentityStatus.VERIFIED.value, IdentityStatus.REJECTED.value]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _reason_for_rejection(self, data: dict, **kwargs) -> None:
        if data.get("status") == IdentityStatus.REJECTED.value and not (data.get("reason") or "").strip():
            raise ValidationError({"reason": ["Say why the identity was rejected; the investor sees it."]})


class IdentityDocumentSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    kind = fields.String()
    content_type = fields.String(metadata={"description": "Found from the content at upload"})
    original_filename = fields.String()
    size_bytes = fields.Integer()
    sha256 = fields.String()
    uploaded_at = fields.DateTime()


class ClassifySchema(Schema):
    classification = fields.String(required=True, validate=validate.OneOf([c.value for c in Classification]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ClassificationRequestInputSchema(Schema):
    classification = fields.String(required=True, validate=validate.OneOf([c.value for c in Classification]),
                                   metadata={"description": "EU: sophisticated; RU: qualified"})
    criteria = fields.List(fields.String(metadata={"enum": sorted(
        {c for p in JURISDICTIONS.values() for c in p.criteria})}), required=True, metadata={
        "description": "the deployment's criteria: EU at least two of income_or_portfolio, "
                       "financial_sector_experience, significant_transactions; RU qualified_status_recognised"})
    evidence = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class ClassificationRequestSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    requested = fields.String()
    criteria = fields.List(fields.String())
    evidence = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf([s.value for s in RequestStatus]))
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "refuse"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _reason_for_refusal(self, data: dict, **kwargs) -> None:
        if data.get("decision") == "refuse" and not (data.get("reason") or "").strip():
            raise ValidationError({"reason": ["Say why the request is refused; the investor sees it."]})


class ManagerSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class FundSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    country = fields.String()
    currency = fields.String()
    classification = fields.Constant("professional")
    managers = fields.Method("_managers")
    created_at = fields.DateTime()

    def _managers(self, fund) -> list[dict]:
        return ManagerSchema(many=True).dump(sorted((m.user for m in fund.managers), key=lambda u: u.id))


class ErasureSchema(Schema):
    confirm = fields.Boolean(required=True, validate=_must_be_true, metadata={"enum": [True]})
    #: The account's password, as the page asks: a stolen token alone cannot erase an account.
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class ErasureResultSchema(Schema):
    erased = fields.Boolean()
    user_id = fields.Integer()
    kept = fields.List(fields.String())


class ExportSchema(Schema):
    """GET /me/export: everything held about the signed-in person."""

    exported_at = fields.DateTime()
    user = fields.Dict()
    investor_profile = fields.Dict(allow_none=True)
    classification_requests = fields.List(fields.Dict())
    knowledge_test_attempts = fields.List(fields.Dict())
    fund = fields.Dict(allow_none=True)
    audit_log = fields.List(fields.Dict())

