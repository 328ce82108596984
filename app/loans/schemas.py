"""Instalments and the repayment mandate as the API shows them."""

from marshmallow import Schema, fields


class InstalmentSchema(Schema):
    id = fields.Integer()
    number = fields.Integer()
    due_on = fields.Date()
    amount = fields.Integer(metadata={"description": "principal + interest, minor units"})
    principal = fields.Integer()
    interest = fields.Integer()
    status = fields.String(metadata={"enum": ["scheduled", "due", "paid", "overdue", "defaulted"]})
    paid_at = fields.DateTime(allow_none=True)


class MandateSchema(Schema):
    campaign_id = fields.Integer()
    payment_method = fields.String(allow_none=True, metadata={"description": "null: no mandate, paid by hand"})
    set_at = fields.DateTime(allow_none=True)
