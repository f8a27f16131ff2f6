"""Engine-wide HTTP API of the ledger: ``/api/v1/payments/<id>`` for every scenario's payments.

The payer reads and pays (the ``record`` provider books it at once); the payee organisation's
staff read and refund. Creating an intent is the selling scenario's business (its own route or
a hook: the resident never names an amount). Views build their answer, then commit.
"""
from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint, ErrorSchema
from app.config import Settings
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth
from auth.visibility import loaded, visible_object
from scenarios.engines.ledger import payments
from scenarios.engines.ledger.models import SUBJECT, LgPaymentIntent
from scenarios.engines.ledger.schemas import PayEmptySchema, PaymentSchema, RefundCreateSchema, RefundSchema
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
    @blp.response(200, PaymentSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="`payment_not_payable` (paid or closed: paying twice is "
                      "impossible), `payment_expired`")
    @blp.alt_response(403, schema=ErrorSchema, description="Only the payer pays")
    def post(self, args, intent_id: int):
        """Pay (the payer). With the ``record`` provider the payment is booked at once."""
        intent: LgPaymentIntent = loaded(SUBJECT)
        if not is_payer(current_principal(), intent):
            raise ApiError("forbidden")
        session = get_session()
        payments.pay_by_record(session, intent, current_clock().now())
        answer = _view(intent)
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
        add up to more than was paid. With the ``record`` provider the refund succeeds at once."""
        intent: LgPaymentIntent = loaded(SUBJECT)
        if not is_payee_staff(current_principal(), intent):
            raise ApiError("forbidden")
        session = get_session()
        now = current_clock().now()
        row = payments.refund(session, intent, amount_fen=args["amount_fen"], reason=args["reason"], now=now)
        if intent.provider == "record":
            payments.settle_refund(session, row, succeeded=True, now=now)
            session.refresh(row)
        answer = {**{c: getattr(row, c) for c in REFUND_FIELDS}, "payment": _view(intent)}
        session.commit()
        return answer


def blueprints(settings: Settings) -> list[Blueprint]:
    register_object_types()
    return [blp]
