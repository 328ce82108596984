"""Wallet, movement, bank-account and withdrawal input and output."""

from marshmallow import Schema, fields, validate

from app.core.money import SUPPORTED_CURRENCIES

#: Far above any wallet, far below BIGINT: larger is a typo or an attack.
MAX_WITHDRAWAL_AMOUNT = 10_000_000_000_00


class WithdrawalAmount(fields.Integer):
    """A whole, positive amount in minor units. Booleans, floats (NaN too) and strings are refused."""

    default_error_messages = {
        "invalid": "Enter a whole number of minor units (cents), e.g. 50000 for 500.00.",
        "range": "Must be between 1 and {max} minor units.",
    }

    def __init__(self, **kwargs) -> None:
        # The bounds go in the metadata too, so openapi.json states the range this checks.
        kwargs["metadata"] = {"minimum": 1, "maximum": MAX_WITHDRAWAL_AMOUNT} | kwargs.get("metadata", {})
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is not None and not 0 < number <= MAX_WITHDRAWAL_AMOUNT:
            raise self.make_error("range", max=f"{MAX_WITHDRAWAL_AMOUNT:,}")
        return number


class NoNul(validate.Validator):
    def __call__(self, value: str) -> str:
        if "\x00" in value:
            raise validate.ValidationError("Must not contain NUL characters.")
        return value


class BalanceSchema(Schema):
    currency = fields.String()
    available = fields.Integer(metadata={"description": "minor units the owner may pledge or withdraw"})
    reserved = fields.Integer(metadata={"description": "minor units in requested withdrawals not yet paid"})


class WalletSchema(Schema):
    balances = fields.List(fields.Nested(BalanceSchema))


class MovementSchema(Schema):
    id = fields.Integer(metadata={"description": "the ledger transaction's id"})
    kind = fields.String(metadata={"enum": ["repayment", "refund", "pledge", "withdrawal", "withdrawal_returned"]})
    amount = fields.Integer(metadata={"description": "signed minor units: + into the wallet, − out of it"})
    currency = fields.String()
    created_at = fields.DateTime()
    campaign_id = fields.Integer(allow_none=True)


class BankAccountInputSchema(Schema):
    """PUT /me/bank-account and the bank-account form."""

    holder_name = fields.String(required=True, validate=[validate.Length(min=2, max=140), NoNul()])
    iban = fields.String(required=True, validate=[validate.Length(min=1, max=64), NoNul()],
                         metadata={"description": "spaces and lower case are accepted; the check digits and the "
                                                  "country's format are checked",
                                   "pattern": r"^\s*[A-Za-z]{2}\s*[0-9]{2}[A-Za-z0-9 ]{8,}$"})
    bic = fields.String(allow_none=True, validate=[validate.Length(max=20), NoNul()])


class BankAccountSchema(Schema):
    holder_name = fields.String()
    iban_masked = fields.String()
    bic = fields.String(allow_none=True)


class WithdrawalInputSchema(Schema):
    """POST /me/withdrawals and the withdrawal form."""

    amount = WithdrawalAmount(required=True, metadata={"description": "minor units"})
    currency = fields.String(required=True, validate=validate.OneOf(SUPPORTED_CURRENCIES))


class WithdrawalSchema(Schema):
    id = fields.Integer()
    amount = fields.Integer(metadata={"description": "minor units"})
    currency = fields.String()
    status = fields.String(metadata={"enum": ["requested", "sent", "paid", "returned"]})
    created_at = fields.DateTime()
    end_to_end_id = fields.String(allow_none=True)


class BatchInputSchema(Schema):
    currency = fields.String(load_default=None, validate=validate.OneOf(SUPPORTED_CURRENCIES),
                             metadata={"description": "default: the platform's currency (EUR, or RUB in Russia)"})


class BatchSchema(Schema):
    id = fields.Integer()
    count = fields.Integer()
    total = fields.Integer(metadata={"description": "minor units"})
    currency = fields.String()
    created_at = fields.DateTime()
    file_url = fields.String()
