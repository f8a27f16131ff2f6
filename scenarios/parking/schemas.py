"""parking's schemas (money in fen, coordinates WGS84, times with an offset)."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields
from scenarios.parking.lots import MAX_RADIUS_M
from scenarios.parking.models import PILOTS
from scenarios.parking.plates import COLOURS

PLATE = {"required": True, "validate": validate.Length(min=1, max=16),
         "metadata": {"description": "号牌: 7 characters (8 for new-energy plates), e.g. 沪A12345"}}
COLOUR = {"load_default": None, "validate": validate.OneOf(COLOURS),
          "metadata": {"description": "plate colour; default blue (7) or green (8)"}}


class ParkingNearbyArgs(PageArgs):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    radius_m = fields.Integer(load_default=3000, strict=False, validate=validate.Range(min=1, max=MAX_RADIUS_M))
    free_only = fields.Boolean(load_default=False, metadata={"description": "only lots with a free space known now"})
    pilot = fields.String(load_default=None, validate=validate.OneOf(PILOTS))


class ParkingTariffSchema(Schema):
    first_hour_fen = fields.Integer()
    half_hour_fen = fields.Integer()
    daily_cap_fen = fields.Integer()
    free_minutes = fields.Integer()


class ParkingLotSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    operator = fields.String()
    address = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    capacity = fields.Integer()
    reservable = fields.Integer()
    tariff = fields.Nested(ParkingTariffSchema)
    e_payment = fields.Boolean()
    pilot = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "free | full | unknown (the counter is silent: not free)"})
    free = fields.Integer(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    distance_m = fields.Integer()
    resource = fields.String(allow_none=True, metadata={"description": "the booking resource (arrival windows)"})


class ParkingOccupancySchema(Schema):
    occupied = fields.Integer(required=True, strict=True, metadata={"description": "cars inside; 0 … capacity"})
    at = fields.DateTime(load_default=None, metadata={"description": "when counted (default now)"})


class ParkingPassageInSchema(Schema):
    plate = fields.String(**PLATE)
    colour = fields.String(**COLOUR)
    at = fields.DateTime(load_default=None, metadata={"description": "when read (default now)"})


class ParkingStaySchema(Schema):
    id = fields.Integer()
    lot = fields.String()
    plate = fields.String(metadata={"description": "masked (沪A1***5) except for the vehicle's owner"})
    colour = fields.String()
    entered_at = fields.DateTime(allow_none=True)
    exited_at = fields.DateTime(allow_none=True)
    status = fields.String()
    fee_fen = fields.Integer(allow_none=True)
    paid_fen = fields.Integer()
    owed_fen = fields.Integer()
    settled_by = fields.String(allow_none=True)
    reservation_id = fields.Integer(allow_none=True)


class ParkingPassageSchema(Schema):
    barrier = fields.String(metadata={"description": "open | closed"})
    duplicate = fields.Boolean(metadata={"description": "the same plate read again: the passage already recorded"})
    owed_fen = fields.Integer()
    open_debts = fields.Integer()
    stay = fields.Nested(ParkingStaySchema)


class ParkingDecideSchema(Schema):
    fee_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ParkingPaySchema(Schema):
    pass


class ParkingPaymentSchema(Schema):
    payment_id = fields.Integer()
    amount_fen = fields.Integer()
    expires_at = fields.DateTime()


class ParkingReservationInSchema(Schema):
    lot = fields.String(required=True, validate=validate.Length(min=1, max=40))
    slot_id = fields.Integer(required=True, strict=True, metadata={
        "description": "an arrival window of the lot's resource (GET /resources/<code>/availability)"})
    plate = fields.String(**PLATE)
    colour = fields.String(**COLOUR)


class ParkingReservationSchema(Schema):
    id = fields.Integer()
    booking_id = fields.Integer()
    lot = fields.String()
    plate = fields.String()
    arrive_from = fields.DateTime()
    held_until = fields.DateTime()
    status = fields.String()


class ParkingProjectSchema(Schema):
    code = fields.String()
    name = fields.String()
    lot = fields.String()
    hours = fields.String(metadata={"description": "19:00-07:00"})
    monthly_fee_fen = fields.Integer()
    spaces = fields.Integer()


class ParkingProjectListSchema(Schema):
    items = fields.List(fields.Nested(ParkingProjectSchema))


class ParkingContractInSchema(Schema):
    project = fields.String(required=True, validate=validate.Length(min=1, max=40))
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
                          metadata={"description": "first month, YYYY-MM"})
    months = fields.Integer(load_default=1, validate=validate.Range(min=1, max=12))
    space = fields.String(load_default=None, validate=validate.Length(min=1, max=20),
                          metadata={"description": "a space label; default the first free"})
    plate = fields.String(**PLATE)
    colour = fields.String(**COLOUR)


class ParkingContractSchema(Schema):
    id = fields.Integer()
    project = fields.String()
    lot = fields.String()
    space = fields.String()
    plate = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    hours = fields.String()
    fee_fen = fields.Integer()
    status = fields.String()
    paid = fields.Boolean()
    payment_id = fields.Integer(allow_none=True)


class ParkingListArgs(PageArgs):
    lot = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class ParkingReservationListArgs(ParkingListArgs):
    date = fields.Date(load_default=None, metadata={"description": "arrival windows of this Beijing day"})


class ParkingDebtSchema(Schema):
    id = fields.Integer()
    lot = fields.String()
    plate = fields.String()
    amount_fen = fields.Integer()
    reason = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)


class ParkingFiguresArgs(Schema):
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    lot = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class ParkingDayFiguresSchema(Schema):
    lot = fields.String()
    date = fields.Date()
    entries = fields.Integer()
    exits = fields.Integer()
    occupancy_peak = fields.Integer(allow_none=True, metadata={"description": "most cars inside counted"})
    reservations = fields.Integer()
    no_shows = fields.Integer()
    contracts_active = fields.Integer()
    fees_fen = fields.Integer(metadata={"description": "fees of the day's exits"})
    paid_fen = fields.Integer(metadata={"description": "paid for the day's exits (before leaving or on the way)"})
    debts_fen = fields.Integer(metadata={"description": "left unpaid at the barrier"})


class ParkingFiguresSchema(Schema):
    items = fields.List(fields.Nested(ParkingDayFiguresSchema))
