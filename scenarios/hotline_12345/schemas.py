"""hotline-12345's request fields (the caller's phone, the place, the urgency), its actions'
arguments, what its work orders show (the reply, the caller's verdicts, who sent it back) and
the monthly figures."""
from __future__ import annotations

from marshmallow import ValidationError, validates
from marshmallow.validate import Length, OneOf, Range, Regexp

from app.api import Schema, fields
from auth import pii
from scenarios.hotline_12345.catalogue import URGENCIES
from scenarios.hotline_12345.service import CHANNELS, SATISFACTION


class HotlinePointSchema(Schema):
    lat = fields.Float(required=True, validate=Range(min=-90, max=90), metadata={"description": "WGS84"})
    lon = fields.Float(required=True, validate=Range(min=-180, max=180), metadata={"description": "WGS84"})


class HotlineFilingSchema(Schema):
    caller_phone = fields.String(required=True, load_only=True, metadata={
        "description": "the caller's mobile: kept encrypted beside the order, never shown to departments",
        "example": "13912345678"})
    location = fields.Nested(HotlinePointSchema, load_default=None, allow_none=True, metadata={
        "description": "a point inside the district (`outside_district` otherwise); this or `address`"})
    address = fields.String(load_default=None, allow_none=True, validate=Length(max=200))
    priority = fields.String(data_key="urgency", load_default="normal", validate=OneOf(URGENCIES), metadata={
        "description": "normal or urgent: picks the time limits (category/urgency) and the priority"})

    @validates("caller_phone")
    def _phone(self, value: str, **_: object) -> None:
        problem = pii.mobile_problem(value)
        if problem:
            raise ValidationError("须为 11 位手机号码。")


class HotlineReplySchema(Schema):
    content = fields.String(required=True, validate=Length(min=1, max=500))
    channel = fields.String(required=True, validate=OneOf(CHANNELS))
    replied_at = fields.DateTime(load_default=None, metadata={"description": "default: now"})


class HotlineSatisfactionSchema(Schema):
    result = fields.String(required=True, validate=OneOf(SATISFACTION))
    via = fields.String(required=True, validate=OneOf(("sms", "call")))


class HotlineSendBackSchema(Schema):
    reason = fields.String(required=True, validate=Length(min=1, max=500))


class HotlineReplyShownSchema(Schema):
    content = fields.String()
    channel = fields.String()
    at = fields.String()
    org = fields.String()


class HotlineVerdictSchema(Schema):
    result = fields.String()
    via = fields.String()
    at = fields.String()


class HotlineDetailsSchema(Schema):
    """Shown, never sent: every field is set by the order's actions."""

    reply = fields.Nested(HotlineReplyShownSchema, dump_only=True, allow_none=True)
    satisfaction = fields.List(fields.Nested(HotlineVerdictSchema), dump_only=True)
    sent_back_by = fields.List(fields.String(), dump_only=True, metadata={"description": "departments' codes"})


class HotlineFiguresArgsSchema(Schema):
    month = fields.String(required=True, validate=Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="须为 YYYY-MM。"))


class HotlineDepartmentFiguresSchema(Schema):
    org = fields.String(required=True)
    name = fields.String(required=True)
    orders = fields.Integer(required=True)
    contact_on_time_rate = fields.Float(allow_none=True)
    resolution_on_time_rate = fields.Float(allow_none=True)
    satisfaction = fields.Dict(keys=fields.String(), values=fields.Integer())
    satisfaction_rate = fields.Float(allow_none=True, metadata={"description": "满意 + 基本满意 over verdicts"})
    sent_back = fields.Integer(required=True)


class HotlineFiguresSchema(Schema):
    month = fields.String(required=True)
    departments = fields.List(fields.Nested(HotlineDepartmentFiguresSchema), required=True)
