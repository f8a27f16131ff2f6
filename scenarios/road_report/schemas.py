"""road-report's request fields (a road or a point), details, roads and notices."""
from __future__ import annotations

from marshmallow.validate import Length, OneOf, Range

from app.api import PageArgs, Schema, fields, page_of
from scenarios.road_report.models import NOTICE_KINDS


class RoadReportPointSchema(Schema):
    lat = fields.Float(required=True, validate=Range(min=-90, max=90), metadata={"description": "WGS84"})
    lon = fields.Float(required=True, validate=Range(min=-180, max=180), metadata={"description": "WGS84"})


class RoadReportLocationSchema(Schema):
    road = fields.String(validate=Length(min=1, max=32), metadata={
        "description": "the road's code (GET /api/v1/road-report/roads); or give `location`"})
    location = fields.Nested(RoadReportPointSchema, metadata={
        "description": "where (WGS84); without `road`, the nearest road within ROAD_MATCH_RADIUS_M"})
    address = fields.String(load_default=None, allow_none=True, validate=Length(max=200), metadata={
        "description": "near what (门牌号, 路口)"})


class RoadReportDetailsSchema(Schema):
    road_code = fields.String(dump_only=True)
    road_name = fields.String(dump_only=True)


class OrgRefSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class RoadSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    town = fields.Nested(OrgRefSchema, allow_none=True)
    points = fields.List(fields.List(fields.Float()), required=True, metadata={
        "description": "the road's course, [[lat, lon], …] (WGS84)"})


RoadPageSchema = page_of(RoadSchema, "RoadPageSchema")


class NoticeArgsSchema(PageArgs):
    road = fields.String(validate=Length(min=1, max=32), metadata={"description": "a road's code"})
    active = fields.Boolean(load_default=False, metadata={"description": "only notices in effect today"})


class NoticeSchema(Schema):
    id = fields.Integer(required=True)
    road = fields.Nested(OrgRefSchema, required=True, metadata={"description": "the road's code and name"})
    kind = fields.String(required=True, metadata={"description": "closure | works | detour"})
    text = fields.String(required=True)
    starts_on = fields.Date(required=True, data_key="from")
    ends_on = fields.Date(required=True, data_key="to")
    publisher = fields.Nested(OrgRefSchema, required=True)
    created_at = fields.DateTime(required=True)


NoticePageSchema = page_of(NoticeSchema, "NoticePageSchema")


class NoticeCreateSchema(Schema):
    road = fields.String(required=True, validate=Length(min=1, max=32))
    kind = fields.String(required=True, validate=OneOf(NOTICE_KINDS))
    text = fields.String(required=True, validate=Length(min=1, max=500))
    starts_on = fields.Date(required=True, data_key="from", metadata={"description": "Beijing date, inclusive"})
    ends_on = fields.Date(required=True, data_key="to", metadata={"description": "Beijing date, inclusive"})
