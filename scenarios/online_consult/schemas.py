"""online-consult's request fields, its actions' arguments and the renewal as the patient sees it."""
from __future__ import annotations

from marshmallow.validate import Length, Range

from app.api import Schema, fields


class OcRequestedSchema(Schema):
    medicine = fields.String(required=True, validate=Length(min=1, max=60))
    dose = fields.String(load_default=None, allow_none=True, validate=Length(max=60))


class OcFilingSchema(Schema):
    """What ``POST /tickets`` carries besides category, text (a short title) and photos."""

    hospital = fields.String(required=True, validate=Length(min=1, max=40),
                             metadata={"description": "the hospital's code: a prior visit there must be on record"})
    department = fields.String(required=True, validate=Length(min=1, max=40))
    symptoms = fields.String(required=True, load_only=True, validate=Length(min=1, max=1000),
                             metadata={"description": "kept encrypted beside the ticket"})
    renew = fields.List(fields.Nested(OcRequestedSchema), required=True, load_only=True,
                        validate=Length(min=1, max=5), metadata={"description": "the prescription to renew"})


class OcItemSchema(Schema):
    medicine = fields.String(required=True, validate=Length(min=1, max=60))
    dose = fields.String(required=True, validate=Length(min=1, max=60), metadata={"example": "0.5g 每日两次"})
    quantity = fields.Integer(required=True, validate=Range(min=1, max=100), metadata={"description": "packs"})
    days = fields.Integer(required=True, validate=Range(min=1, max=366))


class OcRenewSchema(Schema):
    items = fields.List(fields.Nested(OcItemSchema), required=True, validate=Length(min=1, max=5))
    note = fields.String(load_default=None, allow_none=True, validate=Length(max=500))


class OcComeInSchema(Schema):
    note = fields.String(required=True, validate=Length(min=1, max=500))


class OcPassSchema(Schema):
    token = fields.String(required=True, metadata={"description": "draw it as a QR code; a pharmacy scans it once"})


class OcPrescriptionSchema(Schema):
    outcome = fields.String(allow_none=True, metadata={"description": "null while open; renewed or come_in"})
    items = fields.List(fields.Nested(OcItemSchema), allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    used = fields.Boolean(required=True, metadata={"description": "the pharmacy has scanned the pass"})
    pass_ = fields.Nested(OcPassSchema, data_key="pass", attribute="pass", allow_none=True,
                          metadata={"description": "while it can be used"})


class OcConsultSchema(Schema):
    department = fields.String(required=True)
    symptoms = fields.String(required=True)
    renew = fields.List(fields.Nested(OcRequestedSchema), required=True, attribute="requested")
    outcome = fields.String(allow_none=True)
