"""Request and response schemas of place-checkin (names prefixed: the spec has one namespace)."""
from __future__ import annotations

from app.api import PageArgs, Schema, fields
from scenarios.place_checkin.kinds import PLACE_KINDS

ma = fields.ma
IMAGE_FORMATS = ("png", "svg")


class PlaceCheckinKindSchema(Schema):
    kind = fields.String(required=True, metadata={"example": "supermarket"})
    name = fields.String(required=True, metadata={"example": "超市"})


class PlaceCheckinKindListSchema(Schema):
    items = fields.List(fields.Nested(PlaceCheckinKindSchema), required=True)


class PlaceCheckinPlaceCreateSchema(Schema):
    name = fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=ma.validate.OneOf(list(PLACE_KINDS)))
    address = fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    lat = fields.Float(required=True, validate=ma.validate.Range(min=-90, max=90),
                       metadata={"description": "WGS84 latitude, inside Jinshan"})
    lon = fields.Float(required=True, validate=ma.validate.Range(min=-180, max=180),
                       metadata={"description": "WGS84 longitude, inside Jinshan"})


class PlaceCheckinPlacePatchSchema(Schema):
    name = fields.String(validate=ma.validate.Length(min=1, max=100))
    address = fields.String(validate=ma.validate.Length(min=1, max=200))
    active = fields.Boolean(metadata={"description": "false closes the place and revokes its code"})


class PlaceCheckinPlaceSchema(Schema):
    code = fields.String(required=True, metadata={"example": "pl-3fa2c19b04de"})
    name = fields.String(required=True)
    kind = fields.String(required=True)
    kind_name = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)
    active = fields.Boolean(required=True)
    operator = fields.String(required=True, metadata={"description": "the operating organisation's code"})
    link = fields.String(allow_none=True, metadata={
        "description": "the place code's content: an https link that opens the mini-program (none when closed)"})


class PlaceCheckinPlaceListArgs(PageArgs):
    kind = fields.String(validate=ma.validate.OneOf(list(PLACE_KINDS)))


class PlaceCheckinPosterArgs(Schema):
    format = fields.String(load_default="png", validate=ma.validate.OneOf(IMAGE_FORMATS))


class PlaceCheckinFlowArgs(Schema):
    from_ = fields.DateTime(data_key="from", metadata={"description": "default: 24 hours before `to`"})
    to = fields.DateTime(metadata={"description": "default: the end of the current hour"})


class PlaceCheckinHourSchema(Schema):
    hour = fields.DateTime(required=True, metadata={"description": "start of the hour"})
    count = fields.Integer(required=True)


class PlaceCheckinFlowSchema(Schema):
    place = fields.String(required=True)
    from_ = fields.DateTime(data_key="from", required=True)
    to = fields.DateTime(required=True)
    total = fields.Integer(required=True)
    hours = fields.List(fields.Nested(PlaceCheckinHourSchema), required=True)


class PlaceCheckinSentinelSchema(Schema):
    device_id = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    bound_at = fields.DateTime(required=True)


class PlaceCheckinSentinelListSchema(Schema):
    items = fields.List(fields.Nested(PlaceCheckinSentinelSchema), required=True)


class PlaceCheckinScanSchema(Schema):
    code = fields.String(required=True, validate=ma.validate.Length(min=1, max=4000), metadata={
        "description": "the scanned place code: its https link, or the bare token"})


class PlaceCheckinTokenSchema(Schema):
    token = fields.String(required=True, validate=ma.validate.Length(min=1, max=4000), metadata={
        "description": "the resident's personal code, as scanned"})


class PlaceCheckinPlaceRefSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    kind_name = fields.String(required=True)
    address = fields.String(required=True)


class PlaceCheckinHolderSchema(Schema):
    masked_name = fields.String(allow_none=True, metadata={"example": "张*"})
    real_name_level = fields.String(required=True)


class PlaceCheckinCheckinSchema(Schema):
    place = fields.Nested(PlaceCheckinPlaceRefSchema, required=True)
    via = fields.String(required=True, metadata={"description": "resident_scan | sentinel"})
    at = fields.DateTime(required=True)


class PlaceCheckinSentinelCheckinSchema(PlaceCheckinCheckinSchema):
    holder = fields.Nested(PlaceCheckinHolderSchema, required=True, metadata={
        "description": "what the sentinel shows: the masked name and real-name level, nothing more"})


class PlaceCheckinSentinelPlaceSchema(Schema):
    device_id = fields.String(required=True)
    place = fields.Nested(PlaceCheckinPlaceRefSchema, required=True)


class PlaceCheckinFlowDayArgs(Schema):
    """The console's flow page: one Beijing day (today by default)."""

    date = fields.Date(load_default=None)
