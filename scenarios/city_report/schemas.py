"""city-report's own request fields (a point and an address) and the hot-spot figures."""
from __future__ import annotations

from marshmallow.validate import Length, OneOf, Range

from app.api import Schema, fields
from scenarios.city_report.policy import CATEGORIES

CELL_DEG = 0.01  # about 1.1 km north–south, 0.95 km east–west at Jinshan's latitude
MAX_DAYS = 366


class CityReportPointSchema(Schema):
    lat = fields.Float(required=True, validate=Range(min=-90, max=90), metadata={"description": "WGS84"})
    lon = fields.Float(required=True, validate=Range(min=-180, max=180), metadata={"description": "WGS84"})


class CityReportLocationSchema(Schema):
    location = fields.Nested(CityReportPointSchema, required=True, metadata={
        "description": "where the problem is (WGS84), anywhere on Jinshan's land (`outside_district` otherwise)"})
    address = fields.String(load_default=None, allow_none=True, validate=Length(max=200), metadata={
        "description": "what the resident calls the place (e.g. 卫零路与龙航路路口)"})


class HotspotArgsSchema(Schema):
    date_from = fields.Date(data_key="from", metadata={
        "description": "Beijing date, inclusive (default: 29 days before `to`)"})
    date_to = fields.Date(data_key="to", metadata={"description": "Beijing date, inclusive (default: today)"})
    category = fields.String(validate=OneOf(CATEGORIES), metadata={"description": "one category only"})


class HotspotCellSchema(Schema):
    category = fields.String(required=True)
    lat = fields.Float(required=True, metadata={"description": "the cell's centre (WGS84)"})
    lon = fields.Float(required=True, metadata={"description": "the cell's centre (WGS84)"})
    count = fields.Integer(required=True)


class HotspotSchema(Schema):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")
    category = fields.String(allow_none=True)
    cell_size_deg = fields.Float(required=True, metadata={"description": f"{CELL_DEG}° of latitude and longitude"})
    total = fields.Integer(required=True)
    cells = fields.List(fields.Nested(HotspotCellSchema), required=True, metadata={
        "description": "most reports first"})
