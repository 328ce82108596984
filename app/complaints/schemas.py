"""Complaint input and output, for the API and the pages alike."""

from marshmallow import Schema, fields, pre_load, validate

from app.complaints.models import Decision
from app.core.boundaries import MAX_ID

_ID = validate.Range(min=1, max=MAX_ID)


class _Stripped(Schema):
    """Text fields are read without their surrounding blanks, so blanks alone are empty."""

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return data


class ComplaintInputSchema(_Stripped):
    subject = fields.String(required=True, validate=validate.Length(
        min=3, max=200, error="Write a subject of 3 to 200 characters."),
        error_messages={"required": "Write a subject."})
    body = fields.String(required=True, validate=validate.Length(
        min=10, max=10_000, error="Describe the complaint in 10 to 10,000 characters."),
        error_messages={"required": "Describe the complaint."})
    campaign_id = fields.Integer(allow_none=True, strict=True, validate=_ID)
    pledge_id = fields.Integer(allow_none=True, strict=True, validate=_ID)


class ResponseInputSchema(_Stripped):
    decision = fields.String(required=True, validate=validate.OneOf(
        [d.value for d in Decision], error="Choose upheld or rejected."),
        error_messages={"required": "Choose a decision."})
    response = fields.String(required=True, validate=validate.Length(
        min=10, max=10_000, error="Write the answer in 10 to 10,000 characters."),
        error_messages={"required": "Write the answer."})


class ComplaintSchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    status = fields.String()
    subject = fields.String()
    body = fields.String()
    campaign_id = fields.Integer(allow_none=True)
    pledge_id = fields.Integer(allow_none=True)
    complainant_id = fields.Integer()
    received_at = fields.DateTime()
    respond_by = fields.DateTime()
    overdue = fields.Method("_overdue")
    decision = fields.String(allow_none=True)
    response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)

    def _overdue(self, complaint) -> bool:
        from app.core.clock import now

        return complaint.status == "received" and complaint.respond_by <= now()
