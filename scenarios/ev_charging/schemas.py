"""Request and response schemas of ev-charging (names prefixed ``Ev`` in the spec)."""
from __future__ import annotations

from marshmallow import validate

from app.api import PageArgs, Schema, fields
from scenarios.ev_charging.models import CONNECTORS, PILE_STATES, SESSION_STATES

KWH = validate.Range(min=-1e9, max=1e9)  # the sign is a rule with its own code (energy_negative)


class EvNearbyArgs(PageArgs):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90), metadata={"description": "WGS84"})
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180), metadata={"description": "WGS84"})
    radius_m = fields.Integer(load_default=3000, strict=False, validate=validate.Range(min=1, max=20000))
    state = fields.String(load_default=None, validate=validate.OneOf(PILE_STATES), metadata={
        "description": "only piles in this state now (`free`: reported free within the last 2 minutes)"})
    connector = fields.String(load_default=None, validate=validate.OneOf(CONNECTORS))
    min_power_kw = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=1000))


class EvBandSchema(Schema):
    from_minute = fields.Integer(required=True, validate=validate.Range(min=0, max=1439),
                                 metadata={"description": "Beijing time, minutes after midnight"})
    to_minute = fields.Integer(required=True, validate=validate.Range(min=1, max=1440))
    energy_fen_per_kwh = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))


class EvTariffSchema(Schema):
    energy_fen_per_kwh = fields.Integer(required=True)
    service_fen_per_kwh = fields.Integer(required=True)
    tou = fields.List(fields.Nested(EvBandSchema), required=True, metadata={
        "description": "time-of-use bands: the energy price inside them"})
    now_fen_per_kwh = fields.Integer(required=True, metadata={"description": "energy + service now"})


class EvPileSchema(Schema):
    code = fields.String(required=True)
    station = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)
    power_kw = fields.Integer(required=True)
    connector = fields.String(required=True, metadata={"description": "`gb_ac` (慢充) or `gb_dc` (快充)"})
    state = fields.String(required=True, metadata={
        "description": "`free`, `charging`, `fault`, or `offline` (silent for 2 minutes: unknown, never free)"})
    resource = fields.String(required=True, allow_none=True, metadata={
        "description": "its booking resource: `GET /resources/<resource>/availability` lists the arrival windows"})
    tariff = fields.Nested(EvTariffSchema, required=True)


class EvNearbyPileSchema(EvPileSchema):
    distance_m = fields.Integer(required=True)


class EvOperatorPileSchema(EvPileSchema):
    reported_at = fields.DateTime(required=True, allow_none=True)
    place_code = fields.String(required=True, metadata={"description": "the link its printed place code holds"})


class EvOperatorPileArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(PILE_STATES))


class EvPileCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{2,39}$"))
    station = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = fields.String(required=True, validate=validate.Length(min=1, max=200))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    power_kw = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    connector = fields.String(required=True, validate=validate.OneOf(CONNECTORS))
    energy_fen_per_kwh = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))
    service_fen_per_kwh = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))
    tou = fields.List(fields.Nested(EvBandSchema), load_default=list, validate=validate.Length(max=12))
    device_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "the uid of a `charger` device of your organisation that reports for it"})


class EvStartSchema(Schema):
    scanned = fields.String(required=True, validate=validate.Length(min=1, max=4000), metadata={
        "description": "the pile's place code as scanned (the link, or the bare token)"})


class EvDeviceStartSchema(Schema):
    at = fields.DateTime(load_default=None, allow_none=True, metadata={"description": "when the car plugged in"})


class EvDeviceStopSchema(Schema):
    energy_kwh = fields.Float(required=True, validate=KWH, metadata={
        "description": "energy delivered in the session (kWh, ≥ 0, never less than reported before)"})
    at = fields.DateTime(load_default=None, allow_none=True)


class EvEmptySchema(Schema):
    pass


class EvSessionSchema(Schema):
    id = fields.Integer(required=True)
    pile = fields.String(required=True)
    station = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": " | ".join(SESSION_STATES)})
    started_via = fields.String(required=True)
    started_at = fields.DateTime(required=True)
    stopped_at = fields.DateTime(required=True, allow_none=True)
    stop_reason = fields.String(required=True, allow_none=True)
    energy_kwh = fields.Float(required=True)
    fee_fen = fields.Integer(required=True, metadata={"description": "so far while charging; charged at stop"})
    payment_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "pay with `POST /api/v1/payments/<payment_id>/pay`"})
    booking_id = fields.Integer(required=True, allow_none=True)
    paid_at = fields.DateTime(required=True, allow_none=True)


class EvSessionListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(SESSION_STATES))


class EvOperatorSessionArgs(PageArgs):
    date = fields.Date(required=True, metadata={"description": "a Beijing day: sessions started on it"})


class EvRevenueArgs(Schema):
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True, metadata={"description": "inclusive; at most 92 days after date_from"})


class EvRevenueDaySchema(Schema):
    date = fields.Date(required=True)
    sessions = fields.Integer(required=True)
    energy_kwh = fields.Float(required=True)
    billed_fen = fields.Integer(required=True, metadata={"description": "fees of sessions stopped that day"})
    paid_fen = fields.Integer(required=True, metadata={"description": "of which paid"})


class EvRevenueSchema(Schema):
    days = fields.List(fields.Nested(EvRevenueDaySchema), required=True)
    total_billed_fen = fields.Integer(required=True)
    total_paid_fen = fields.Integer(required=True)
