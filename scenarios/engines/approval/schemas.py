"""Request and response schemas of the approval engine (shared by every approval scenario)."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields
from scenarios.engines.approval.models import STATES


class ApplicationCreateSchema(Schema):
    form = fields.Dict(required=True, metadata={"description": "validated by the scenario's form schema"})


class ApplicationResubmitSchema(Schema):
    form = fields.Dict(required=True)


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=40),
                           metadata={"description": "a stable code of the scenario's (e.g. `documents_missing`)"})
    message = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ApplicationRejectSchema(Schema):
    reasons = fields.List(fields.Nested(ReasonSchema), required=True, validate=validate.Length(min=1, max=10))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ApplicationNoteSchema(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ApplicationAskMoreSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500),
                         metadata={"description": "what is missing"})


class ApplicationEmptySchema(Schema):
    pass


class ApplicationListArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    overdue = fields.Boolean(load_default=None, metadata={"description": "reviewers: only those past their deadline"})


class DecisionSchema(Schema):
    action = fields.String(required=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(required=True)
    reasons = fields.List(fields.Dict(), required=True)
    note = fields.String(allow_none=True)
    at = fields.DateTime(required=True)


class ApplicationSchema(Schema):
    id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": " | ".join(STATES)})
    form = fields.Dict(required=True)
    subject_type = fields.String(allow_none=True)
    subject_id = fields.String(allow_none=True)
    reasons = fields.List(fields.Dict(), required=True, metadata={"description": "why it was rejected"})
    note = fields.String(allow_none=True)
    review_due_at = fields.DateTime(allow_none=True, metadata={"description": "the reviewer's deadline"})
    overdue = fields.Boolean(required=True)
    decided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    mine = fields.Boolean(required=True)
    history = fields.List(fields.Nested(DecisionSchema), required=True)
