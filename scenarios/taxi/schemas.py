"""The taxi's own fields: the ride request (a destination and the rider's precise location are
private: stored encrypted, shown to the resident and, once accepted, their driver), the vehicle
a driver states when going on duty, the fare at completion (fen)."""
from __future__ import annotations

from marshmallow import post_load
from marshmallow.validate import Length, Range, Regexp

from app.api import Schema, fields

PLATE = Regexp(r"^沪[A-Z][·]?[A-Z0-9]{5,6}$", error="须为沪牌号码，如 沪A·D12345。")


class TaxiPointSchema(Schema):
    lat = fields.Float(required=True, validate=Range(-90, 90))
    lon = fields.Float(required=True, validate=Range(-180, 180))


class TaxiRideRequestSchema(Schema):
    destination = fields.String(load_default=None, validate=Length(min=1, max=100), metadata={
        "description": "optional; private (encrypted, shown to you and your driver once accepted)"})
    location = fields.Nested(TaxiPointSchema, load_default=None, metadata={
        "description": "optional: where you stand (WGS84), for your driver once accepted (private, encrypted); "
                       "needs your consent `precise_location_taxi` (`/api/v1/me/consents`): without it 403 "
                       "`consent_required`; within 1 km of your pick-up point"})
    passengers = fields.Integer(load_default=1, validate=Range(1, 4))
    note = fields.String(load_default=None, validate=Length(max=60), metadata={
        "description": "for the driver (wheelchair, luggage); no personal data please"})


class TaxiVehicleSchema(Schema):
    plate = fields.String(required=True, validate=PLATE, metadata={
        "example": "沪A·D12345", "description": "kept without the separator (沪AD12345: WeChat's car_number)"})

    @post_load
    def _without_separator(self, data: dict, **_: object) -> dict:
        data["plate"] = data["plate"].replace("·", "")
        return data


class TaxiCompleteSchema(Schema):
    fare_fen = fields.Integer(required=True, validate=Range(0, 1_000_000), metadata={"description": "the fare in fen"})
