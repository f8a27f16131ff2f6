"""Request and response schemas of the ledger engine."""
from __future__ import annotations

from marshmallow import validate

from app.api import Schema, fields


class PaymentSchema(Schema):
    id = fields.Integer()
    scenario = fields.String()
    subject = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "created, pending, paid, partially_refunded, refunded, closed"})
    amount_fen = fields.Integer(metadata={"description": "分 (1 元 = 100)"})
    refunded_fen = fields.Integer()
    currency = fields.String()
    description = fields.String()
    provider = fields.String()
    out_trade_no = fields.String()
    expires_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PayResultSchema(PaymentSchema):
    request_payment = fields.Dict(allow_none=True, metadata={
        "description": "WeChat Pay: appId, timeStamp, nonceStr, package, signType, paySign for wx.requestPayment"})


class PayEmptySchema(Schema):
    pass


class RefundCreateSchema(Schema):
    amount_fen = fields.Integer(required=True, metadata={"description": "分, at most what is left to refund"})
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80))


class RefundSchema(Schema):
    id = fields.Integer()
    intent_id = fields.Integer()
    amount_fen = fields.Integer()
    status = fields.String(metadata={"description": "pending (the provider settles it), succeeded, failed"})
    out_refund_no = fields.String()
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    payment = fields.Nested(PaymentSchema)


class DailyArgs(Schema):
    date_from = fields.Date(required=True, metadata={"description": "first day (Beijing time)"})
    date_to = fields.Date(required=True, metadata={"description": "last day, at most 366 days after date_from"})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")))


class DailyRowSchema(Schema):
    date = fields.Date()
    scenario = fields.String()
    payments = fields.Integer()
    payments_fen = fields.Integer()
    refunds = fields.Integer()
    refunds_fen = fields.Integer()
    net_fen = fields.Integer()
    fees_fen = fields.Integer(metadata={"description": "the provider's fees (手续费) on the day's payments, "
                                                   "net of those it returned on the day's refunds"})
    net_after_fees_fen = fields.Integer(metadata={"description": "net_fen − fees_fen"})
    fees_reconciled = fields.Boolean(metadata={
        "description": "false while a WeChat Pay payment or refund of the day has no fee yet (not reconciled)"})


class DailySchema(Schema):
    items = fields.List(fields.Nested(DailyRowSchema))


class DiscrepancyArgs(Schema):
    date = fields.Date(load_default=None, metadata={"description": "the bill's day (reconciliation)"})


class DiscrepancySchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "unknown_order, amount_differs, missing_here, missing_there"})
    source = fields.String(metadata={"description": "notification or reconciliation"})
    out_trade_no = fields.String(allow_none=True)
    intent_id = fields.Integer(allow_none=True)
    expected_fen = fields.Integer(allow_none=True)
    reported_fen = fields.Integer(allow_none=True)
    bill_date = fields.Date(allow_none=True)
    created_at = fields.DateTime()


class DiscrepancyListSchema(Schema):
    items = fields.List(fields.Nested(DiscrepancySchema))
