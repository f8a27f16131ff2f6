"""Request and response schemas of the telemetry engine (shared by every telemetry scenario).

A reading's ``value`` is checked against its kind by the service (values.py), not here: its
fields depend on ``kind``. Datetimes carry an offset."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields

ID = validate.Range(min=1, max=2**63 - 1)


class TelemetryReadingSchema(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=40))
    value = fields.Dict(required=True, metadata={"description": "the kind's fields (checked against its bounds)"})
    at = fields.DateTime(load_default=None, metadata={"description": "when it was read (default: now); "
                                                                    "at most the clock-skew leeway ahead"})
    subject_id = fields.Integer(load_default=None, validate=ID,
                                metadata={"description": "the bound subject (optional; must be it)"})


class TelemetryReadingBatchSchema(Schema):
    readings = fields.List(fields.Nested(TelemetryReadingSchema), required=True, validate=validate.Length(min=1))


class TelemetryOutcomeSchema(Schema):
    kind = fields.String(required=True)
    at = fields.DateTime(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True)
    stored = fields.Boolean(required=True, metadata={"description": "a new history row"})
    duplicate = fields.Boolean(required=True, metadata={"description": "the same reading was stored before"})
    latest = fields.Boolean(required=True, metadata={"description": "it is now the latest value"})


class TelemetryOutcomesSchema(Schema):
    outcomes = fields.List(fields.Nested(TelemetryOutcomeSchema), required=True)


class TelemetryBindSchema(Schema):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=40),
                              metadata={"description": "the device's uid (dv_…), of your organisation"})
    kind = fields.String(required=True, validate=validate.Length(min=1, max=40))
    subject_id = fields.Integer(required=True, validate=ID)


class TelemetrySourceSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    device_id = fields.String(required=True, metadata={"description": "the device's uid"})
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "online | offline (silent: value unknown)"})
    latest_at = fields.DateTime(allow_none=True)
    latest_value = fields.Dict(allow_none=True)
    heard_at = fields.DateTime(required=True)
    offline_since = fields.DateTime(allow_none=True)


class TelemetryLatestArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    subject_id = fields.Integer(load_default=None, strict=False, validate=ID)
    status = fields.String(load_default=None, validate=validate.OneOf(("online", "offline")))


class TelemetryRangeArgs(PageArgs):
    since = fields.DateTime(load_default=None)
    until = fields.DateTime(load_default=None)


class TelemetryReadingRowSchema(Schema):
    at = fields.DateTime(required=True)
    value = fields.Dict(required=True)
    received_at = fields.DateTime(required=True)


class TelemetryAlertArgs(PageArgs):
    state = fields.String(load_default="open", validate=validate.OneOf(("open", "closed", "all")))
    kind = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    subject_id = fields.Integer(load_default=None, strict=False, validate=ID)


class TelemetryAlertSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    rule = fields.String(required=True, metadata={"description": "a threshold's name, or silent"})
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True)
    source_id = fields.Integer(required=True)
    value = fields.Dict(allow_none=True)
    opened_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True)
