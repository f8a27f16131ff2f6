"""Request and response schemas of the listing engine (shared by every listing scenario).

Coordinates are WGS84; money is fen (分)."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields
from scenarios.engines.listing.models import STATES


class ListingCreateSchema(Schema):
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    text = fields.String(load_default="", validate=validate.Length(max=2000))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90),
                       metadata={"description": "WGS84"})
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180),
                       metadata={"description": "WGS84"})
    price_fen = fields.Integer(load_default=None, allow_none=True, metadata={"description": "fen (分)"})
    photos = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                         metadata={"description": "public ids of the owner's uploads"})
    details = fields.Dict(load_default=dict, metadata={"description": "validated by the scenario's schema"})


class ListingSearchArgs(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                      metadata={"description": "text in the title, description or address"})
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    place = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                          metadata={"description": "a place code (rural-rental: a village's)"})
    price_min = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=0),
                               metadata={"description": "fen"})
    price_max = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=0),
                               metadata={"description": "fen"})
    lat = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
    radius_m = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=50_000),
                              metadata={"description": "with lat and lon: only entries this near"})


class ListingMineArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))


class ListingReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ListingEmptySchema(Schema):
    pass


class ListingEventSchema(Schema):
    action = fields.String(required=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(required=True)
    note = fields.String(allow_none=True)
    at = fields.DateTime(required=True)


class ListingSchema(Schema):
    id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    category = fields.String(required=True)
    place = fields.String(allow_none=True)
    title = fields.String(required=True)
    text = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    price_fen = fields.Integer(allow_none=True)
    photos = fields.List(fields.String(), required=True)
    details = fields.Dict(required=True)
    state = fields.String(required=True, metadata={"description": " | ".join(STATES)})
    reason = fields.String(allow_none=True, metadata={"description": "why it was rejected"})
    rank = fields.Integer(required=True, metadata={"description": "recommended entries rank higher"})
    distance_m = fields.Integer(allow_none=True, metadata={"description": "from the searched point"})
    mine = fields.Boolean(required=True)
    published_at = fields.DateTime(allow_none=True)
    history = fields.List(fields.Nested(ListingEventSchema), metadata={
        "description": "owner and moderators only"})
