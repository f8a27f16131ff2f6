"""Schemas of the dispatch engine's API, shared by its scenarios (a scenario brings its request's
own fields and its stages' bodies). Coordinates are WGS84 degrees, as ``wx.getLocation`` gives them."""
from __future__ import annotations

from marshmallow.validate import Length, Range

from app.api import PageArgs, Schema, fields, page_of


class DispatchDutySchema(Schema):
    on_duty = fields.Boolean(required=True)


class DispatchPositionSchema(Schema):
    lat = fields.Float(required=True, validate=Range(-90, 90), metadata={"description": "WGS84 latitude"})
    lon = fields.Float(required=True, validate=Range(-180, 180), metadata={"description": "WGS84 longitude"})
    at = fields.DateTime(load_default=None, metadata={
        "description": "when the phone took it (with an offset); now when absent; not in the future"})
    accuracy = fields.Float(load_default=None, validate=Range(0, 100_000), metadata={
        "description": "metres, as wx.getLocation reports it (not stored)"})


class DispatchAgentStateSchema(Schema):
    on_duty = fields.Boolean(required=True)
    job_id = fields.Integer(allow_none=True, metadata={"description": "the job you are serving"})
    position_at = fields.DateTime(allow_none=True)
    outside_area = fields.Boolean(required=True, metadata={
        "description": "your last position is outside Jinshan: no new offers until you are back"})
    available = fields.Boolean(required=True, metadata={"description": "you may be offered a job now"})


class DispatchPointSchema(Schema):
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)


class DispatchOriginSchema(Schema):
    label = fields.String(required=True, metadata={"description": "a public pick-up point, never an address"})
    lat = fields.Float(required=True, allow_none=True, metadata={"description": "null once purged"})
    lon = fields.Float(required=True, allow_none=True, metadata={"description": "null once purged"})


class DispatchAgentViewSchema(Schema):
    name = fields.String(allow_none=True, metadata={"description": "masked (张*)"})
    extra = fields.Dict(required=True, metadata={"description": "the scenario's own (a taxi's plate)"})
    distance_m = fields.Integer(allow_none=True, metadata={
        "description": "from the pick-up point, to 10 m; only while the job is active"})
    position = fields.Nested(DispatchPointSchema, allow_none=True, metadata={
        "description": "coarsened to about 100 m; only while the job is active (PIPL art. 28)"})


class DispatchJobSchema(Schema):
    id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    status = fields.String(required=True)
    area = fields.String(required=True)
    origin = fields.Nested(DispatchOriginSchema, required=True)
    details = fields.Dict(required=True)
    private = fields.Dict(allow_none=True, metadata={
        "description": "the requester's private fields (a destination): the requester, and the agent once accepted"})
    agent = fields.Nested(DispatchAgentViewSchema, allow_none=True)
    requester = fields.String(allow_none=True, metadata={"description": "masked name; the serving agent only"})
    round = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    accepted_at = fields.DateTime(allow_none=True)
    arrived_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    version = fields.Integer(required=True)
    allowed_actions = fields.List(fields.String(), required=True)


DispatchJobPageSchema = page_of(DispatchJobSchema)


class DispatchJobListArgs(PageArgs):
    status = fields.String(load_default=None, validate=Length(max=24))


class DispatchReasonSchema(Schema):
    reason = fields.String(required=True, validate=Length(min=1, max=200))


class DispatchEmptySchema(Schema):
    pass


class DispatchOfferSchema(Schema):
    job_id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    origin = fields.Nested(DispatchOriginSchema, required=True)
    distance_m = fields.Integer(allow_none=True, metadata={"description": "from you to the pick-up point"})
    offered_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


class DispatchOfferListSchema(Schema):
    items = fields.List(fields.Nested(DispatchOfferSchema), required=True)


class DispatchStaffAgentSchema(Schema):
    agent_id = fields.Integer(required=True)
    username = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    on_duty = fields.Boolean(required=True)
    job_id = fields.Integer(allow_none=True)
    position_at = fields.DateTime(allow_none=True)
    outside_area = fields.Boolean(required=True)
    details = fields.Dict(required=True)


class DispatchStaffAgentListSchema(Schema):
    items = fields.List(fields.Nested(DispatchStaffAgentSchema), required=True)


class DispatchStatsArgs(Schema):
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    area = fields.String(load_default=None, validate=Length(max=64))


class DispatchStatsRowSchema(Schema):
    area = fields.String(required=True)
    day = fields.Date(required=True)
    requests = fields.Integer(required=True)
    served = fields.Integer(required=True, metadata={"description": "accepted by an agent"})
    served_share = fields.Float(allow_none=True)
    median_wait_accept_s = fields.Float(allow_none=True, metadata={"description": "request to acceptance"})
    median_wait_pickup_s = fields.Float(allow_none=True, metadata={"description": "request to the agent's arrival"})


class DispatchStatsSchema(Schema):
    items = fields.List(fields.Nested(DispatchStatsRowSchema), required=True)


