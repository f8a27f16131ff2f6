"""elderly-sos's request and answer schemas."""
from __future__ import annotations

from marshmallow import validate

from app.api import Schema, fields
from scenarios.elderly_sos.models import CONTACT_RELATIONS, DEVICE_KINDS, END_REASONS, OUTCOMES


class SosAlarmRequestSchema(Schema):
    enrolment_id = fields.Integer(load_default=None, validate=validate.Range(min=1), metadata={
        "description": "for whom, when a relative's account may alarm for more than one person"})


class SosContactInSchema(Schema):
    relation = fields.String(required=True, validate=validate.OneOf(CONTACT_RELATIONS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^1\d{10}$"),
                          metadata={"description": "mainland mobile; a resident with this phone follows alarms"})


class SosEnrolSchema(Schema):
    id_number = fields.String(required=True, metadata={"description": "the person's verified ID number"})
    hukou_shanghai = fields.Boolean(required=True, metadata={"description": "本市户籍, checked by the committee"})
    lives_alone = fields.Boolean(required=True)
    address = fields.String(required=True, validate=validate.Length(min=2, max=200))
    lat = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
    health = fields.String(load_default=None, validate=validate.Length(max=1000),
                           metadata={"description": "health notes for responders (encrypted, reads audited)"})
    contacts = fields.List(fields.Nested(SosContactInSchema), load_default=list, validate=validate.Length(max=5),
                           metadata={"description": "in the order they are called; none: the committee is first"})
    committee_org_id = fields.Integer(load_default=None, metadata={"description": "区民政局 only: which committee"})


class SosEndSchema(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(END_REASONS))
    on = fields.Date(load_default=None)


class SosReasonSchema(Schema):
    reason = fields.String(required=True, metadata={"description": "why you read it (audited)"})


class SosDeviceSchema(Schema):
    device_uid = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(DEVICE_KINDS))
    enrolment_id = fields.Integer(load_default=None)


class SosCloseSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    text = fields.String(load_default=None, validate=validate.Length(max=500),
                         metadata={"description": "required when the outcome is `other`"})


class SosEmptySchema(Schema):
    pass


class SosFiguresArgs(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))


class SosContactOutSchema(Schema):
    position = fields.Integer()
    relation = fields.String()
    name = fields.String(metadata={"description": "masked"})
    phone = fields.String(allow_none=True, metadata={"description": "masked"})
    follows_in_app = fields.Boolean()


class SosEnrolmentSchema(Schema):
    id = fields.Integer()
    state = fields.String()
    name = fields.String(allow_none=True, metadata={"description": "masked"})
    age = fields.Integer(allow_none=True)
    committee = fields.String(allow_none=True)
    address = fields.String()
    hukou_shanghai = fields.Boolean()
    lives_alone = fields.Boolean()
    has_health_notes = fields.Boolean()
    contacts = fields.List(fields.Nested(SosContactOutSchema))
    devices = fields.List(fields.Dict())
    end_reason = fields.String(allow_none=True)
    ended_on = fields.Date(allow_none=True)


class SosHealthSchema(Schema):
    health = fields.String(allow_none=True)


class SosCallerPhoneSchema(Schema):
    phone = fields.String(allow_none=True)


class SosDeviceOutSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    enrolment_id = fields.Integer(allow_none=True)


class SosTrailSchema(Schema):
    at = fields.DateTime()
    action = fields.String()
    data = fields.Dict()


class SosAlarmSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String()
    state = fields.String()
    presses = fields.Integer()
    merged = fields.Boolean()
    created_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    arrived_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    responder_on_the_way = fields.Boolean()
    committee = fields.String(allow_none=True)
    trail = fields.List(fields.Nested(SosTrailSchema))
    job_id = fields.Integer(metadata={"description": "staff: the call's id (`POST /calls/<id>/accept` acknowledges)"})
    ack_due_at = fields.DateTime(allow_none=True)
    arrival_due_at = fields.DateTime(allow_none=True)
    chain = fields.String(allow_none=True)
    chain_level = fields.Integer()
    next_step_at = fields.DateTime(allow_none=True)
    responder_account_id = fields.Integer(allow_none=True)
    person = fields.Dict(allow_none=True)
    device_id = fields.Integer(allow_none=True)
    outcome_text = fields.String(allow_none=True)


class SosBoardItemSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String()
    state = fields.String()
    age_seconds = fields.Integer()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    chain = fields.String(allow_none=True)
    chain_level = fields.Integer()
    next_step_at = fields.DateTime(allow_none=True)
    committee = fields.String(allow_none=True)


class SosBoardSchema(Schema):
    items = fields.List(fields.Nested(SosBoardItemSchema))


class SosFiguresSchema(Schema):
    month = fields.String()
    alarms = fields.Integer()
    inactivity = fields.Integer()
    acknowledgement = fields.Dict()
    arrival = fields.Dict()
    outcomes = fields.Dict()
