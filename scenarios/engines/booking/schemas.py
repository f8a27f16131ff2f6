"""Request and response schemas of the booking engine (shared by every booking scenario)."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields
from scenarios.engines.booking.models import CALENDARS, RESOURCE_KINDS


class BookingCreateSchema(Schema):
    slot_id = fields.Integer(required=True)
    places = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000),
                            metadata={"description": "people the booking admits (the scenario's limit)"})
    person_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "a person you may act for (亲友); omitted: yourself"})


class BookingRescheduleSchema(Schema):
    slot_id = fields.Integer(required=True, metadata={"description": "the new slot"})


class BookingCancelSchema(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class BookingEmptySchema(Schema):
    pass


class BookingWaitlistSchema(Schema):
    places = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))
    person_id = fields.Integer(load_default=None, allow_none=True)


class BookingCloseSlotSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BookingCloseDaySchema(Schema):
    date = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BookingCloseDayResultSchema(Schema):
    resource = fields.String(required=True)
    date = fields.Date(required=True)
    closed_slots = fields.Integer(required=True)


class BookingCheckInSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=4000),
                          metadata={"description": "the scanned code: a booking's pass or a personal code"})


class BookingHoursSchema(Schema):
    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6), metadata={
        "description": "0 = Monday"})
    opens_minute = fields.Integer(required=True, validate=validate.Range(min=0, max=1439))
    closes_minute = fields.Integer(required=True, validate=validate.Range(min=1, max=1440))
    label = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))


class BookingResourceCreateSchema(Schema):
    code = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{2,39}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(RESOURCE_KINDS))
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=10000))
    slot_minutes = fields.Integer(load_default=60, validate=validate.Range(min=5, max=1440))
    calendar = fields.String(load_default="every_day", validate=validate.OneOf(CALENDARS))
    address = fields.String(required=True, validate=validate.Length(min=1, max=200))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    hours = fields.List(fields.Nested(BookingHoursSchema), required=True, validate=validate.Length(min=1, max=50))
    price_fen = fields.Integer(load_default=None, allow_none=True, strict=True,
                               validate=validate.Range(min=1, max=100_000_000), metadata={
                                   "description": "fen per slot (per place of a class); none: free. A priced "
                                                  "booking is a hold until paid"})


class BookingHoursPutSchema(Schema):
    hours = fields.List(fields.Nested(BookingHoursSchema), required=True, validate=validate.Length(min=1, max=50))


class BookingHoursResultSchema(Schema):
    resource = fields.String(required=True)
    new_slots = fields.Integer(required=True, metadata={"description": "slots the new hours added to the window"})


class BookingResourceSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    capacity = fields.Integer(required=True)
    slot_minutes = fields.Integer(required=True)
    calendar = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    owner = fields.String(required=True, metadata={"description": "the owning organisation's code"})
    price_fen = fields.Integer(allow_none=True, metadata={"description": "fen per slot (per place); none: free"})


class BookingResourceListArgs(PageArgs):
    owner = fields.String(load_default=None, validate=validate.Length(max=64))


class BookingAvailabilityArgs(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    days = fields.Integer(load_default=7, strict=False)


class BookingSlotSchema(Schema):
    slot_id = fields.Integer(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    capacity = fields.Integer(required=True)
    free = fields.Integer(required=True, metadata={"description": "free units (holds past their expiry count free)"})
    label = fields.String(allow_none=True)


class BookingAvailabilitySchema(Schema):
    resource = fields.String(required=True)
    slots = fields.List(fields.Nested(BookingSlotSchema), required=True)


class BookingPassSchema(Schema):
    token = fields.String(required=True, metadata={"description": "draw it as a QR code"})
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True)
    admits = fields.Integer(required=True)
    admitted = fields.Integer(required=True)


class BookingPlaceSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)


class BookingPersonSchema(Schema):
    person_id = fields.Integer(required=True)
    masked_name = fields.String(allow_none=True)


class BookingSchema(Schema):
    id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "description": "held | confirmed | checked_in | cancelled | expired | no_show"})
    resource = fields.Nested(BookingPlaceSchema, required=True)
    slot_id = fields.Integer(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    places = fields.Integer(required=True)
    checked_in = fields.Integer(required=True)
    person = fields.Nested(BookingPersonSchema, required=True)
    hold_expires_at = fields.DateTime(allow_none=True)
    end_reason = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    pass_ = fields.Nested(BookingPassSchema, data_key="pass", allow_none=True)
    payment_id = fields.Integer(allow_none=True, metadata={
        "description": "a priced booking's payment: the booker pays it (POST /api/v1/payments/<id>/pay), "
                       "which confirms the hold"})


class BookingWaitlistEntrySchema(Schema):
    id = fields.Integer(required=True)
    slot_id = fields.Integer(required=True)
    status = fields.String(required=True)
    position = fields.Integer(required=True)


class BookingCloseResultSchema(Schema):
    slot_id = fields.Integer(required=True)
    status = fields.String(required=True)


class BookingAdmittedSchema(Schema):
    result = fields.String(required=True, metadata={"example": "admitted"})
    via = fields.String(required=True, metadata={"description": "pass | personal_code"})
    booking = fields.Nested(BookingSchema, required=True)


class BookingOccupancyArgs(Schema):
    date = fields.Date(required=True)


class BookingOccupancySlotSchema(Schema):
    slot_id = fields.Integer(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    capacity = fields.Integer(required=True)
    booked = fields.Integer(required=True)
    held = fields.Integer(required=True)
    status = fields.String(required=True)


class BookingOccupancyResourceSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    booked = fields.Integer(required=True)
    capacity = fields.Integer(required=True)
    slots = fields.List(fields.Nested(BookingOccupancySlotSchema), required=True)


class BookingOccupancySchema(Schema):
    date = fields.Date(required=True)
    resources = fields.List(fields.Nested(BookingOccupancyResourceSchema), required=True)


class BookingMineArgs(PageArgs):
    pass
