"""Who sees a payment intent (registered with ``auth.visibility``): its payer and staff of the
payee organisation. Nobody else, the district included (a payment is between the two)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.visibility import register
from scenarios.engines.ledger.models import SUBJECT, LgPaymentIntent


def _intent(session: Session, key: Any) -> LgPaymentIntent | None:
    return session.get(LgPaymentIntent, key) if isinstance(key, int) and 0 < key < 2**63 else None


def sees_intent(session: Session, principal: Principal, intent: LgPaymentIntent) -> bool:
    if principal.is_resident:
        return principal.person_id == intent.payer_person_id
    if principal.is_staff:
        return principal.org_id == intent.payee_org_id
    return False


def is_payer(principal: Principal, intent: LgPaymentIntent) -> bool:
    return principal.is_resident and principal.person_id == intent.payer_person_id


def is_payee_staff(principal: Principal, intent: LgPaymentIntent) -> bool:
    return principal.is_staff and principal.org_id == intent.payee_org_id


def register_object_types() -> None:
    register(SUBJECT, load=_intent, visible=sees_intent,
             description="a payment intent (its payer; the payee organisation's staff)")
