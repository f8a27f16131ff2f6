"""Engine-wide HTTP API of the ledger: ``/api/v1/payments/<id>`` for every scenario's payments.

The payer reads and pays (the ``record`` provider books it at once); the payee organisation's
staff read and refund. Creating an intent is the selling scenario's business (its own route or
a hook: the resident never names an amount). Views build their answer, then commit.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema
from app.config import Settings
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth, require_staff
from auth.visibility import loaded, visible_object
from scenarios.engines.ledger import figures, payments, reconcile, settlement, wechatpay
from scenarios.engines.ledger.models import SUBJECT, LgPaymentIntent
from scenarios.engines.ledger.schemas import (
    DailyArgs,
    DailySchema,
    DiscrepancyArgs,
    DiscrepancyListSchema,
    PayEmptySchema,
    PaymentSchema,
    PayResultSchema,
    RefundCreateSchema,
    RefundSchema,
)
from scenarios.engines.ledger.setup import current_runtime
from scenarios.engines.ledger.visibility import is_payee_staff, is_payer, register_object_types

PAYMENT_FIELDS = tuple(PaymentSchema().fields)
REFUND_FIELDS = tuple(f for f in RefundSchema().fields if f != "payment")


def _view(intent: LgPaymentIntent) -> dict:
    """The payment's fields as they are now (read before the commit expires them)."""
    return {name: getattr(intent, name) for name in PAYMENT_FIELDS}


blp = Blueprint("payments", __name__, url_prefix="/api/v1/payments", description="Payments (支付) and refunds")


@blp.route("/<int:intent_id>")
class PaymentItem(MethodView):
    @visible_object(SUBJECT, "intent_id")
    @require_auth
    @blp.response(200, PaymentSchema)
    def get(self, intent_id: int):
        """A payment (its payer; the payee organisation's staff)."""
        return loaded(SUBJECT)


@blp.route("/<int:intent_id>/pay")
class PaymentPay(MethodView):
    @idempotent
    @visible_object(SUBJECT, "intent_id")
    @require_auth
    @blp.arguments(PayEmptySchema)
    @blp.response(200, PayResultSchema)
    @blp.alt_response(503, schema=ErrorSchema, description="`payment_provider_unavailable` (Retry-After): the "
                      "payment stays pending")
    @blp.alt_response(409, schema=ErrorSchema, description="`wechat_account_required`, `payment_not_payable` (paid "
                      "or closed: paying twice is impossible), `payment_expired`")
    @blp.alt_response(403, schema=ErrorSchema, description="Only the payer pays")
    def post(self, args, intent_id: int):
        """Pay (the payer). ``record`` provider: booked at once. ``wechatpay``: the intent goes pending
        and the answer carries ``request_payment``, the parameters of ``wx.requestPayment``; the payment
        is booked when WeChat Pay notifies (or the query job finds it paid)."""
        intent: LgPaymentIntent = loaded(SUBJECT)
        principal = current_principal()
        if not is_payer(principal, intent):
            raise ApiError("forbidden")
        session = get_session()
        now = current_clock().now()
        if intent.provider == "wechatpay":
            runtime = current_runtime()
            params = settlement.start_wechat_payment(session, intent, account_id=principal.account_id,
                                                     config=runtime.wechat_config, pay=runtime.wechat, now=now)
            return {**_view(intent), "request_payment": params}
        payments.pay_by_record(session, intent, now)
        answer = {**_view(intent), "request_payment": None}
        session.commit()
        return answer


@blp.route("/<int:intent_id>/refunds")
class PaymentRefunds(MethodView):
    @idempotent
    @visible_object(SUBJECT, "intent_id")
    @require_auth
    @blp.arguments(RefundCreateSchema)
    @blp.response(201, RefundSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="`refund_exceeds_paid` (detail.refundable_fen says what "
                      "is left; 0 when fully refunded), `payment_not_refundable` (never paid)")
    @blp.alt_response(403, schema=ErrorSchema, description="Only the payee organisation's staff refund")
    def post(self, args, intent_id: int):
        """Refund part or all of what is left (the payee organisation's staff). Concurrent refunds never
        add up to more than was paid. ``record``: the refund succeeds at once; ``wechatpay``: sent to
        WeChat Pay, ``pending`` until it succeeds (a failed call is sent again by the retry job)."""
        intent: LgPaymentIntent = loaded(SUBJECT)
        if not is_payee_staff(current_principal(), intent):
            raise ApiError("forbidden")
        session = get_session()
        now = current_clock().now()
        row = payments.refund(session, intent, amount_fen=args["amount_fen"], reason=args["reason"], now=now)
        if intent.provider == "record":
            payments.settle_refund(session, row, succeeded=True, now=now)
        else:
            session.commit()  # reserved first: a failed call leaves it pending for the retry job
            settlement.send_refund(session, row, current_runtime().wechat, now)
        session.refresh(row)
        answer = {**{c: getattr(row, c) for c in REFUND_FIELDS}, "payment": _view(intent)}
        session.commit()
        return answer


@blp.route("/notify/wechatpay")
class WeChatPayNotify(MethodView):
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorSchema, description="`notification_rejected`: forged, tampered, replayed")
    @blp.doc(security=[])
    def post(self):
        """WeChat Pay's payment and refund notifications (支付结果通知, 退款结果通知): verified with
        WeChat Pay's public key, decrypted, booked once however often they arrive. An unknown order or
        refund, or another amount than ours, is recorded as a discrepancy (answered 204: WeChat Pay need
        not retry it); REFUND.ABNORMAL marks the refund failed for the operator and tells the payer."""
        runtime = current_runtime()
        if runtime.wechat is None:
            raise ApiError("not_found")
        try:
            notice = wechatpay.notification(runtime.wechat, dict(request.headers), request.get_data())
        except wechatpay.NotificationRejected:
            raise ApiError("notification_rejected") from None
        session = get_session()
        settlement.book_notification(session, notice["resource"], current_clock().now())
        session.commit()
        return None


ledger_blp = Blueprint("ledger", __name__, url_prefix="/api/v1/ledger",
                       description="Operators' daily figures and the differences found (对账)")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@ledger_blp.route("/daily")
class Daily(MethodView):
    @require_staff
    @ledger_blp.arguments(DailyArgs, location="query")
    @ledger_blp.response(200, DailySchema)
    @ledger_blp.alt_response(422, schema=ErrorSchema, description="`validation_error`: dates reversed or a range "
                             "over 366 days")
    def get(self, args):
        """Your organisation's payments, refunds and net per day (Beijing time) and scenario;
        ``format=csv`` or ``xlsx`` for a file."""
        figures.check_range(args["date_from"], args["date_to"])
        items = figures.daily(get_session(), org_id=current_principal().org_id, date_from=args["date_from"],
                              date_to=args["date_to"])
        if args["format"] == "json":
            return {"items": items}
        return export(items, args)


def export(items: list[dict], args: dict) -> Response:
    """The daily figures as a CSV or XLSX download (``args``: ``DailyArgs`` loaded)."""
    fmt = args["format"]
    body = figures.to_csv(items) if fmt == "csv" else figures.to_xlsx(items)
    name = f"ledger-{args['date_from']:%Y%m%d}-{args['date_to']:%Y%m%d}.{fmt}"
    return Response(body, status=200, content_type=CONTENT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@ledger_blp.route("/discrepancies")
class Discrepancies(MethodView):
    @require_staff
    @ledger_blp.arguments(DiscrepancyArgs, location="query")
    @ledger_blp.response(200, DiscrepancyListSchema)
    def get(self, args):
        """Differences a notification or the reconciliation found (never fixed by themselves): the
        district's staff see all, an organisation's staff those of its payments (up to 500, newest first)."""
        return {"items": reconcile.listed(get_session(), principal=current_principal(), day=args["date"])}


def blueprints(settings: Settings) -> list[Blueprint]:
    register_object_types()
    return [blp, ledger_blp]
