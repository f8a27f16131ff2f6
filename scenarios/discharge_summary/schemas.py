"""discharge-summary's request and answer fields."""
from __future__ import annotations

from marshmallow import ValidationError, validates
from marshmallow.validate import Length, OneOf, Range

from app.api import Schema, fields
from auth import pii
from scenarios.discharge_summary.followups import KINDS


class DsFileFormSchema(Schema):
    file = fields.Raw(required=True, error_messages={"required": "请选择要上传的 PDF（表单字段 file）。"},
                      metadata={"type": "string", "format": "binary", "description": "a PDF, at most 10 MB"})


class DsFileSchema(Schema):
    id = fields.String(required=True, attribute="public_id", metadata={"description": "give it as `file_id`"})
    pages = fields.Integer(required=True)
    bytes = fields.Integer(required=True)


class DsMedicineSchema(Schema):
    name = fields.String(required=True, validate=Length(min=1, max=60))
    dose = fields.String(required=True, validate=Length(min=1, max=60), metadata={"example": "5mg 每日一次"})
    days = fields.Integer(load_default=None, allow_none=True, validate=Range(min=1, max=366))


class DsFollowUpSchema(Schema):
    kind = fields.String(required=True, validate=OneOf(tuple(KINDS)), metadata={"description": "call, revisit, test"})
    due_at = fields.DateTime(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=Length(max=200))


class DsPublishSchema(Schema):
    patient_id_number = fields.String(required=True, load_only=True, validate=Length(min=1, max=22),
                                      metadata={"description": "the patient's ID number (a person on record)"})
    file_id = fields.String(load_default=None, allow_none=True, validate=Length(max=32),
                            metadata={"description": "the PDF uploaded at `POST /files`"})
    department = fields.String(required=True, validate=Length(min=1, max=40))
    admitted_on = fields.Date(load_default=None, allow_none=True)
    discharged_on = fields.Date(required=True)
    diagnosis = fields.String(required=True, validate=Length(min=1, max=1000))
    advice = fields.String(load_default=None, allow_none=True, validate=Length(max=2000))
    medicines = fields.List(fields.Nested(DsMedicineSchema), load_default=list, validate=Length(max=30))
    follow_ups = fields.List(fields.Nested(DsFollowUpSchema), load_default=list, validate=Length(max=12))

    @validates("patient_id_number")
    def _id_number(self, value: str, **_: object) -> None:
        problem = pii.id_number_problem(value)
        if problem:
            raise ValidationError(problem)


class DsFollowUpViewSchema(Schema):
    kind = fields.String(required=True)
    due_at = fields.String(required=True)
    note = fields.String(allow_none=True)
    ticket_number = fields.String(allow_none=True)


class DsSummarySchema(Schema):
    id = fields.Integer(required=True)
    hospital = fields.Dict(required=True, metadata={"description": "{code, name}"})
    patient = fields.Dict(required=True, metadata={"description": "{name} masked"})
    department = fields.String(required=True)
    admitted_on = fields.String(allow_none=True)
    discharged_on = fields.String(required=True)
    diagnosis = fields.String(required=True)
    advice = fields.String(allow_none=True)
    medicines = fields.List(fields.Nested(DsMedicineSchema), required=True)
    follow_ups = fields.List(fields.Nested(DsFollowUpViewSchema), required=True)
    file = fields.Dict(allow_none=True, metadata={"description": "{url, pages, bytes}: a signed URL, 10–15 minutes"})
    created_at = fields.DateTime(required=True)


class DsFilingSchema(Schema):
    """What ``POST /tickets`` of a follow-up carries besides category and text."""

    summary_id = fields.Integer(required=True, metadata={"description": "a summary of your hospital"})
    due_at = fields.DateTime(required=True, metadata={"description": "when the follow-up must be done"})


class DsContentArgsSchema(Schema):
    exp = fields.Integer(required=True, strict=False)
    sig = fields.String(required=True, validate=Length(max=128))
