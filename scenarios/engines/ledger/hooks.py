"""The registry of payment purposes and the calls of their hooks (``purposes.py`` is what a
scenario uses; ``payments.py`` calls ``fire_*`` from the compare-and-set that won)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund

IntentHook = Callable[[Session, LgPaymentIntent, datetime], None]
RefundHook = Callable[[Session, LgPaymentIntent, LgRefund, datetime], None]


@dataclass(frozen=True)
class PaymentPurpose:
    """A kind of thing sold (``kind``: letters, digits, ``_``; the seller's table name is a good
    choice) and what to do when its payment changes state. Every hook is optional."""

    kind: str
    on_paid: IntentHook | None = None
    on_closed: IntentHook | None = None
    on_refunded: RefundHook | None = None

    def __post_init__(self) -> None:
        if not self.kind or not self.kind.replace("_", "").isalnum() or len(self.kind) > 40:
            raise ValueError(f"payment purpose kind {self.kind!r}: letters, digits and '_', at most 40")

    def subject(self, subject_id: int | str) -> str:
        return f"{self.kind}:{subject_id}"


PURPOSES: dict[str, PaymentPurpose] = {}


def _qualname(func: Callable[..., object] | None) -> str | None:
    return None if func is None else f"{func.__module__}.{func.__qualname__}"


def register(purpose: PaymentPurpose) -> PaymentPurpose:
    """Register ``purpose`` under its kind (again with the same hooks: a no-op; other hooks: ValueError)."""
    existing = PURPOSES.get(purpose.kind)
    if existing is not None and any(_qualname(getattr(existing, h)) != _qualname(getattr(purpose, h))
                                    for h in ("on_paid", "on_closed", "on_refunded")):
        raise ValueError(f"payment purpose {purpose.kind!r} is already registered with other hooks")
    PURPOSES[purpose.kind] = purpose
    return purpose


def purpose_for(subject: str | None) -> PaymentPurpose | None:
    """The purpose registered for an intent's ``subject`` (``"<kind>:<id>"``), if any."""
    kind = (subject or "").partition(":")[0]
    return PURPOSES.get(kind) if kind else None


def _loaded(session: Session, intent_id: int) -> LgPaymentIntent:
    """The intent as the database has it now (the state changes are Core updates)."""
    return session.get(LgPaymentIntent, intent_id, populate_existing=True)


def fire_paid(session: Session, subject: str | None, intent_id: int, now: datetime) -> None:
    purpose = purpose_for(subject)
    if purpose is not None and purpose.on_paid is not None:
        purpose.on_paid(session, _loaded(session, intent_id), now)


def fire_closed(session: Session, subject: str | None, intent_id: int, now: datetime) -> None:
    purpose = purpose_for(subject)
    if purpose is not None and purpose.on_closed is not None:
        purpose.on_closed(session, _loaded(session, intent_id), now)


def fire_refunded(session: Session, intent: LgPaymentIntent, refund: LgRefund, now: datetime) -> None:
    purpose = purpose_for(intent.subject)
    if purpose is not None and purpose.on_refunded is not None:
        session.refresh(intent)
        purpose.on_refunded(session, intent, refund, now)
