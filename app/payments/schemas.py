"""The rules for pledge input and the shapes of pledge and ledger output."""

from marshmallow import Schema, ValidationError, fields, validate

from app.core.money import SUPPORTED_CURRENCIES
from app.payments.transfers import instructions

#: Far above any round (10 billion in major units) yet far below BIGINT: larger is a typo or an attack.
MAX_PLEDGE_AMOUNT = 10_000_000_000_00


class PledgeAmount(fields.Integer):
    """A whole, positive amount in minor units. Booleans, floats and strings are refused."""

    default_error_messages = {
        "invalid": "Enter a whole number of minor units (cents), e.g. 50000 for 500.00.",
        "range": "Must be between 1 and {max} minor units.",
    }

    def __init__(self, **kwargs) -> None:
        # The bounds go in the metadata too, so openapi.json states the range this checks.
        kwargs["metadata"] = {"minimum": 1, "maximum": MAX_PLEDGE_AMOUNT} | kwargs.get("metadata", {})
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is not None and not 0 < number <= MAX_PLEDGE_AMOUNT:
            raise self.make_error("range", max=f"{MAX_PLEDGE_AMOUNT:,}")
        return number


class StrictBoolean(fields.Boolean):
    """Only JSON true/false: "yes" or 1 is not consent."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class PledgeInputSchema(Schema):
    """POST /campaigns/<id>/pledges and the pledge form."""

    amount = PledgeAmount(required=True, metadata={"description": "minor units of the campaign's currency"})
    payment_method = fields.String(required=True, validate=validate.Length(min=1, max=100),
                                   metadata={"description": "a gateway payment-method id, e.g. pm_card_visa; "
                                                            "\"wallet\" (paid at once from the wallet) or "
                                                            "\"bank_transfer\" (paid when a statement shows it)"})
    currency = fields.String(validate=validate.OneOf(SUPPORTED_CURRENCIES),
                             metadata={"description": "optional; must be the campaign's currency"})
    acknowledge_risk = StrictBoolean(load_default=False,
                                     metadata={"description": "true once the investor accepted the risk warning"})
    kiis_version = fields.Integer(strict=True, allow_none=True,
                                  metadata={"description": "optional; the KIIS version the investor read"})


class PaymentInstructionsSchema(Schema):
    """Where a bank-transfer pledge is paid (EU: IBAN and BIC; RU: the nominal account's details)."""

    beneficiary = fields.String()
    iban = fields.String()
    bic = fields.String()
    account = fields.String(metadata={"description": "RU: the 20-digit account number"})
    bik = fields.String()
    correspondent_account = fields.String()
    inn = fields.String()
    reference = fields.String(metadata={"description": "ISO 11649 creditor reference; quote it exactly"})
    amount = fields.Integer(metadata={"description": "minor units"})
    currency = fields.String()
    pay_by = fields.AwareDateTime(format="iso")


class PledgeSchema(Schema):
    id = fields.Integer()
    campaign_id = fields.Integer()
    investor_id = fields.Integer()
    fund_id = fields.Integer(allow_none=True)
    amount = fields.Integer(metadata={"description": "minor units"})
    currency = fields.String()
    status = fields.String(metadata={"description": "pending_payment, paid, failed, expired, revoked, refunded, "
                                                    "settled"})
    created_at = fields.AwareDateTime(format="iso")
    paid_at = fields.AwareDateTime(format="iso", allow_none=True)
    reflection_ends_at = fields.AwareDateTime(format="iso", allow_none=True)
    revoked_at = fields.AwareDateTime(format="iso", allow_none=True)
    refunded_at = fields.AwareDateTime(format="iso", allow_none=True)
    kiis_version = fields.Integer(allow_none=True)
    payment_method = fields.String()
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    next_action_url = fields.Method("_next_action", allow_none=True,
                                    metadata={"description": "where to confirm the payment (3-D Secure)"})
    payment_instructions = fields.Method("_instructions", allow_none=True,
                                         metadata={"description": "bank-transfer pledges: where to pay"})

    def _next_action(self, pledge) -> str | None:
        return pledge.next_action_url if pledge.status == "pending_payment" else None

    def _instructions(self, pledge) -> dict | None:
        found = instructions(pledge)
        return None if found is None else _INSTRUCTIONS.dump(found)


_INSTRUCTIONS = PaymentInstructionsSchema()


class LedgerEntrySchema(Schema):
    id = fields.Integer()
    transaction_id = fields.Integer()
    amount = fields.Integer(metadata={"description": "signed minor units: + debit, − credit"})
    currency = fields.String()
    kind = fields.String(attribute="account.kind")
