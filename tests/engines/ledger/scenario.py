"""The ledger engine's own test scenario (``lg-test``): it sells tickets through
``purposes.charge`` and records every hook the ledger calls in ``test_ledger_hooks`` (a table
the tests create with plain SQL), so a test in any process — the app, gunicorn's workers, the
query job — can count how often each hook fired for a payment. Registered only in tests
(``tests/support/ledger_wsgi.py`` mounts it for gunicorn)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.scenario import Scenario
from scenarios.engines.ledger import purposes
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund

SLUG = "lg-test"
HOOKS_TABLE = "test_ledger_hooks"
CREATE_HOOKS = (f"CREATE TABLE IF NOT EXISTS {HOOKS_TABLE} (intent_id BIGINT NOT NULL, hook VARCHAR(20) NOT NULL, "
                "status VARCHAR(20) NOT NULL, amount BIGINT NOT NULL, pid INTEGER NOT NULL)")
DROP_HOOKS = f"DROP TABLE IF EXISTS {HOOKS_TABLE}"


def _record(session: Session, intent: LgPaymentIntent, hook: str, amount: int) -> None:
    session.execute(sa.text(f"INSERT INTO {HOOKS_TABLE} (intent_id, hook, status, amount, pid) "
                            "VALUES (:i, :h, :s, :a, :p)"),
                    {"i": intent.id, "h": hook, "s": intent.status, "a": amount, "p": os.getpid()})


def _paid(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    _record(session, intent, "paid", intent.amount_fen)


def _closed(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    _record(session, intent, "closed", 0)


def _refunded(session: Session, intent: LgPaymentIntent, refund: LgRefund, now: datetime) -> None:
    _record(session, intent, "refunded", refund.amount_fen)


TICKET = purposes.register(purposes.PaymentPurpose(kind="lgt_ticket", on_paid=_paid, on_closed=_closed,
                                                   on_refunded=_refunded))


def sell(session: Session, *, ticket_no: int, payer_person_id: int, payee_org_id: int, amount_fen: int,
         now: datetime, provider: str | None = None, expires_in: timedelta = timedelta(minutes=15)) -> LgPaymentIntent:
    """A ticket's payment, as a scenario's own route would create it."""
    return purposes.charge(session, TICKET, subject_id=ticket_no, scenario=SLUG, payer_person_id=payer_person_id,
                           payee_org_id=payee_org_id, amount_fen=amount_fen, description=f"测试门票 {ticket_no}",
                           now=now, expires_in=expires_in, provider=provider)


def hooks(session: Session, intent_id: int) -> list[tuple[str, str, int]]:
    """(hook, the intent's status then, amount) per call, in order."""
    rows = session.execute(sa.text(f"SELECT hook, status, amount FROM {HOOKS_TABLE} WHERE intent_id = :i"),
                           {"i": intent_id}).all()
    return [tuple(r) for r in rows]


SCENARIO = Scenario(slug=SLUG, title_zh="账本引擎测试", title_en="Ledger engine test scenario", seed_refs=("test",),
                    engines=("ledger",), roles=("resident",), jobs=("tests.engines.ledger.scenario",))
