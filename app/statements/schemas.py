"""Statement import results and statement lines as the API shows them."""

from marshmallow import Schema, fields


class StatementSchema(Schema):
    id = fields.Integer()
    format = fields.String(metadata={"enum": ["camt053", "1c"]})
    filename = fields.String()
    account = fields.String(allow_none=True)
    currency = fields.String()
    imported_at = fields.DateTime()
    entries = fields.Integer(metadata={"description": "every entry of the file, duplicates included"})
    matched = fields.Integer()
    unmatched = fields.Integer()
    duplicates = fields.Integer(metadata={"description": "entries imported before: they changed nothing"})


class StatementLineSchema(Schema):
    id = fields.Integer()
    statement_id = fields.Integer()
    bank_ref = fields.String(allow_none=True)
    direction = fields.String(metadata={"enum": ["credit", "debit"]})
    amount = fields.Integer(metadata={"description": "minor units, never negative: direction says which way"})
    currency = fields.String()
    booking_date = fields.Date(allow_none=True)
    remittance = fields.String()
    references = fields.List(fields.String())
    end_to_end_id = fields.String(allow_none=True)
    is_return = fields.Boolean()
    status = fields.String(metadata={"enum": ["matched", "unmatched", "returned_to_sender"]})
    pledge_id = fields.Integer(allow_none=True)
    withdrawal_id = fields.Integer(allow_none=True)
    matched_at = fields.DateTime(allow_none=True)
