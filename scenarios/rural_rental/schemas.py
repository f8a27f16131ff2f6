"""rural-rental's schemas: houses, rooms, inspections, tenancies (money in fen, area in m²)."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields
from auth import pii
from scenarios.rural_rental.models import (
    HOUSE_STATES,
    REQUEST_STATES,
    TENANCY_STATES,
    VIOLATION_KINDS,
    VIOLATION_STATES,
)

ID_NUMBER = validate.Regexp(r"^\d{17}[\dXx]$", error="身份证号格式不正确")


class RoomInSchema(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=20))
    area_m2 = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1000,
                                                                   error="面积须大于 0"))
    rent_fen = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000, error="租金须大于 0（分）"))
    occupancy_limit = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    facilities = fields.List(fields.String(validate=validate.Length(min=1, max=20)), load_default=list,
                             validate=validate.Length(max=20))


class HouseCreateSchema(Schema):
    village = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "code"})
    house_number = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    address = fields.String(required=True, validate=validate.Length(min=1, max=200))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    rooms = fields.List(fields.Nested(RoomInSchema), required=True, validate=validate.Length(min=1, max=50))


class HouseListArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(HOUSE_STATES))
    inspection_due_by = fields.Date(load_default=None, metadata={
        "description": "committee: houses whose next inspection is due by this date"})


class InspectionSchema(Schema):
    checklist = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True, metadata={
        "description": "extinguisher, smoke_alarm, wiring, gas, escape_route, area_and_occupancy: true when fine"})
    photos = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                         validate=validate.Length(max=20))
    next_on = fields.Date(load_default=None)


class MaskedIdNumber(fields.String):
    """An ID number loaded in full and dumped masked: the application's stored form (the
    approval engine keeps ``form_schema().dump(...)``) and its answers never hold it in full."""

    def _serialize(self, value, attr, obj, **kwargs):
        return pii.mask_id_number(super()._serialize(value, attr, obj, **kwargs))


class TenancyFormSchema(Schema):
    room_id = fields.Integer(required=True)
    tenants = fields.List(MaskedIdNumber(validate=ID_NUMBER), required=True, validate=validate.Length(min=1, max=20),
                          metadata={"description": "the tenants' ID numbers (stored as persons; kept and shown "
                                                   "masked in the application)"})
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    request_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "the tenant's accepted rental request this tenancy answers (its requester among the tenants)"})


class RoomSchema(Schema):
    id = fields.Integer(required=True)
    label = fields.String(required=True)
    area_m2 = fields.Float(required=True)
    rent_fen = fields.Integer(required=True)
    occupancy_limit = fields.Integer(required=True)
    facilities = fields.List(fields.String(), required=True)
    listing_id = fields.Integer(allow_none=True)
    current_tenants = fields.List(fields.Dict(), metadata={"description": "masked names and ID numbers"})


class HouseSchema(Schema):
    id = fields.Integer(required=True)
    village = fields.String(required=True)
    house_number = fields.Integer(required=True)
    address = fields.String(required=True)
    state = fields.String(required=True)
    green = fields.Boolean(required=True, metadata={"description": "绿牌房屋"})
    next_inspection_on = fields.Date(allow_none=True)
    rooms = fields.List(fields.Nested(RoomSchema), required=True)


class InspectionResultSchema(Schema):
    id = fields.Integer(required=True)
    passed = fields.Boolean(required=True)
    next_on = fields.Date(required=True)
    house = fields.Nested(HouseSchema, required=True)


class TenancyListArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(TENANCY_STATES))
    overstaying = fields.Boolean(load_default=None, metadata={
        "description": "past their end with a tenant not deregistered"})


class TenantIdentitySchema(Schema):
    token = fields.String(load_default=None, validate=validate.Length(min=1, max=4000),
                          metadata={"description": "the tenant's personal code, scanned"})
    id_number = fields.String(load_default=None, validate=ID_NUMBER,
                              metadata={"description": "or their verified ID number"})


class StaySchema(Schema):
    arrived_at = fields.DateTime(required=True)
    left_at = fields.DateTime(allow_none=True)
    via = fields.String(required=True, metadata={"description": "code | id_number"})


class TenancySchema(Schema):
    id = fields.Integer(required=True)
    house_id = fields.Integer(required=True)
    stays = fields.List(fields.Nested(StaySchema), required=True)
    overstaying = fields.Boolean(required=True)
    room_id = fields.Integer(required=True)
    persons = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    state = fields.String(required=True)
    application_id = fields.Integer(required=True)


class ViolationInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(VIOLATION_KINDS), metadata={
        "description": "over_occupancy | unregistered_tenant | fire_hazard | illegal_structure | sanitation | other"})
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))
    photos = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                         validate=validate.Length(max=20), metadata={"description": "upload public ids"})
    found_on = fields.Date(load_default=None, metadata={"description": "default today; not in the future"})


class FollowUpInSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))
    photos = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                         validate=validate.Length(max=20))
    close = fields.Boolean(load_default=False, metadata={"description": "this step closes the violation"})


class FollowUpSchema(Schema):
    note = fields.String(required=True)
    photos = fields.List(fields.String(), required=True)
    closes = fields.Boolean(required=True)
    at = fields.DateTime(required=True)


class ViolationSchema(Schema):
    id = fields.Integer(required=True)
    house_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    note = fields.String(required=True)
    photos = fields.List(fields.String(), required=True)
    found_on = fields.Date(required=True)
    state = fields.String(required=True, metadata={"description": "open | closed"})
    recorded_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True)
    follow_ups = fields.List(fields.Nested(FollowUpSchema), required=True)


class ViolationListArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(VIOLATION_STATES))


class RentalRequestInSchema(Schema):
    listing_id = fields.Integer(required=True, metadata={"description": "a published room's listing"})
    persons = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    message = fields.String(load_default="", validate=validate.Length(max=500))


class RentalRequestReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RentalRequestEmptySchema(Schema):
    pass


class RentalRequestSchema(Schema):
    id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    room_id = fields.Integer(required=True)
    house_id = fields.Integer(required=True)
    persons = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    message = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "pending | accepted | declined | withdrawn"})
    reason = fields.String(allow_none=True)
    tenancy_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)
    mine = fields.Boolean(required=True, metadata={"description": "the caller is the tenant who asked"})
    tenant_name = fields.String(allow_none=True, metadata={"description": "masked"})


class RentalRequestListArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(REQUEST_STATES))
