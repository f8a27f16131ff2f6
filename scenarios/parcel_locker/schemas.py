"""parcel-locker's request and answer fields. Recipients' phones come in whole and go out
masked; a pass token goes only to the recipient and the relative they named."""
from __future__ import annotations

from marshmallow import ValidationError, validates
from marshmallow.validate import Length, OneOf, Regexp

from app.api import PageArgs, Schema, fields
from auth import pii
from scenarios.parcel_locker.models import CELL_SIZES, STATUSES

LABEL = Regexp(r"^[A-Z0-9-]{1,8}$", error="格口编号为 1–8 个大写字母、数字或 -。")


class ParcelStoreSchema(Schema):
    cell = fields.String(required=True, validate=LABEL, metadata={"example": "A03"})
    recipient_phone = fields.String(required=True, load_only=True, metadata={
        "description": "the recipient's mobile: kept encrypted, found by its keyed hash, never shown in full",
        "example": "13912345678"})
    tracking_no = fields.String(required=True, validate=Regexp(r"^[A-Za-z0-9-]{4,40}$"),
                                metadata={"example": "SF1234567890"})
    courier = fields.String(load_default=None, allow_none=True, validate=Length(min=1, max=40),
                            metadata={"example": "顺丰速运"})
    locker = fields.String(load_default=None, allow_none=True, validate=Length(min=1, max=40), metadata={
        "description": "the locker's device id: required for the operator's API, ignored from a locker"})

    @validates("recipient_phone")
    def _phone(self, value: str, **_: object) -> None:
        if pii.mobile_problem(value):
            raise ValidationError("须为 11 位手机号码。")


class ParcelPickupSchema(Schema):
    token = fields.String(required=True, validate=Length(min=1, max=4096), metadata={
        "description": "the pickup pass the recipient showed"})
    cell = fields.String(load_default=None, allow_none=True, validate=LABEL, metadata={
        "description": "the cell the person asked to open, when the locker knows it (another: `parcel_wrong_cell`)"})


class ParcelProxySchema(Schema):
    relation_id = fields.Integer(required=True, strict=True, metadata={
        "description": "a confirmed relation of yours (`/api/v1/me/relations`): its other person may pick up"})


class ParcelRetrieveSchema(Schema):
    reason = fields.String(required=True, validate=Length(min=1, max=200), metadata={"example": "超时未取，已取回"})


class ParcelListArgs(PageArgs):
    status = fields.String(load_default=None, validate=OneOf(STATUSES))


class ParcelEventSchema(Schema):
    action = fields.String(required=True)
    actor = fields.String(required=True)
    detail = fields.String(allow_none=True)
    at = fields.DateTime(required=True)


class ParcelPassSchema(Schema):
    token = fields.String(required=True)
    valid_until = fields.DateTime(required=True)


class ParcelSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "stored | picked_up | retrieved"})
    locker = fields.String(required=True, metadata={"description": "the locker's name"})
    locker_device = fields.String(allow_none=True, metadata={"description": "the locker's device id (staff only)"})
    cell = fields.String(required=True)
    size = fields.String(required=True, metadata={"description": " | ".join(CELL_SIZES)})
    tracking_no = fields.String(required=True)
    courier = fields.String(allow_none=True)
    recipient_phone = fields.String(required=True, metadata={"description": "masked: 139****5678"})
    proxy_named = fields.Boolean(required=True)
    stored_at = fields.DateTime(required=True)
    overdue = fields.Boolean(required=True, metadata={"description": "stored for more than 24 hours"})
    picked_up_at = fields.DateTime(allow_none=True)
    retrieved_at = fields.DateTime(allow_none=True)
    pickup_pass = fields.Nested(ParcelPassSchema, allow_none=True, metadata={
        "description": "the single-use pickup pass (the recipient and their named relative, while stored)"})
    trail = fields.List(fields.Nested(ParcelEventSchema), required=True)


class ParcelOpenSchema(Schema):
    result = fields.String(required=True, metadata={"description": "open"})
    parcel_id = fields.Integer(required=True)
    cell = fields.String(required=True, metadata={"description": "the cell to open"})


class LockerCellSchema(Schema):
    label = fields.String(required=True, validate=LABEL)
    size = fields.String(required=True, validate=OneOf(CELL_SIZES))
    occupied = fields.Boolean(dump_only=True)


class LockerCreateSchema(Schema):
    device_id = fields.String(required=True, validate=Length(min=1, max=40))
    name = fields.String(required=True, validate=Length(min=1, max=100))
    community = fields.String(load_default=None, allow_none=True, validate=Length(min=1, max=64),
                              metadata={"description": "the community's code"})
    cells = fields.List(fields.Nested(LockerCellSchema), required=True, validate=Length(min=1, max=200))


class LockerSchema(Schema):
    device_id = fields.String(required=True)
    name = fields.String(required=True)
    community = fields.String(allow_none=True)
    cells = fields.List(fields.Nested(LockerCellSchema), required=True)


class LockerListSchema(Schema):
    items = fields.List(fields.Nested(LockerSchema), required=True)
