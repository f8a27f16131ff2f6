"""The ledger's fast path (scenarios/engines/ledger/fastpath.py) writes and answers what the plain
path does: the same payments are reported through both on PostgreSQL — a payer's first payment,
a second one to the same payee, a report arriving twice, another amount, an unknown order, a
payment after the intent closed, a payment of an intent whose payee already had refunds — and the
intents, accounts, transfers, entries, discrepancies and hooks are compared (by what they are,
not by their ids). On SQLite only the plain path exists."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.db import FAST_PATHS, fast_paths_apply
from scenarios.engines.ledger import payments, postings
from scenarios.engines.ledger.models import LgAccount, LgDiscrepancy, LgEntry, LgPaymentIntent, LgTransfer
from tests.engines.ledger import scenario as lgt
from tests.support.database import backend
from tests.support.factories import make_org, make_resident

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="fast paths are PostgreSQL's")


def _world(app, session, clock, tag: str) -> dict[str, Any]:
    with app.app_context():
        org = make_org(session, "venue_operator", name=f"收款{tag}")
        payers = [make_resident(session, name=f"付款人{tag}{k}") for k in range(2)]
        session.flush()
    intents = [lgt.sell(session, ticket_no=k, payer_person_id=payers[k % 2].person_id, payee_org_id=org.id,
                        amount_fen=1000 + k, now=clock.now(), provider="wechatpay") for k in range(4)]
    for intent in intents[:3]:
        payments.mark_pending(session, intent, clock.now())
    return {"org": org.id, "payers": [p.person_id for p in payers], "intents": intents}


def _txn(value: str | None) -> str | None:
    """A transaction id without its run's prefix (they are unique: each run has its own)."""
    return None if value is None else value.partition("-")[2]


def _rows(session, world) -> dict[str, Any]:
    """Everything written for this world, ids replaced by what they stand for."""
    ids = [i.id for i in world["intents"]]
    owners = {("organisation", world["org"]): "payee", **{("payer", p): f"payer{k}" for k, p in
                                                          enumerate(world["payers"])}}
    accounts = {a.id: (owners[(a.kind, a.owner_id)], a.unit, a.floor_zero, a.balance)
                for a in session.scalars(sa.select(LgAccount).where(sa.or_(
                    sa.and_(LgAccount.kind == "organisation", LgAccount.owner_id == world["org"]),
                    sa.and_(LgAccount.kind == "payer", LgAccount.owner_id.in_(world["payers"])))))}
    position = {intent_id: k for k, intent_id in enumerate(ids)}
    refs = {f"intent:{i}": f"intent#{position[i]}" for i in ids}
    transfers = {t.id: (t.kind, t.amount, refs.get(t.reference, t.reference), t.scenario, t.created_at)
                 for t in session.scalars(sa.select(LgTransfer).where(LgTransfer.reference.in_(list(refs))))}
    entries = sorted((transfers[e.transfer_id], accounts[e.account_id][0], e.leg, e.amount, e.created_at)
                     for e in session.scalars(sa.select(LgEntry).where(LgEntry.transfer_id.in_(list(transfers)))))
    skip = {"id", "payer_person_id", "payee_org_id", "out_trade_no", "subject", "description"}
    intents = [{**{c.key: getattr(i, c.key) for c in LgPaymentIntent.__table__.columns if c.key not in skip},
                "provider_txn_id": _txn(i.provider_txn_id)}
               for i in session.scalars(sa.select(LgPaymentIntent).where(LgPaymentIntent.id.in_(ids))
                                        .order_by(LgPaymentIntent.id))]
    found = [(d.kind, position.get(d.intent_id), d.expected_fen, d.reported_fen, _txn(d.details.get("transaction_id")))
             for d in session.scalars(sa.select(LgDiscrepancy).where(LgDiscrepancy.intent_id.in_(ids))
                                      .order_by(LgDiscrepancy.id))]
    hooks = [[h for h in lgt.hooks(session, i)] for i in ids]
    return {"accounts": sorted(accounts.values()), "transfers": sorted(transfers.values()), "entries": entries,
            "intents": intents, "discrepancies": found, "hooks": hooks}


def _run(app, session, clock, fast: bool) -> list[Any]:
    start = clock.now()
    session.info[FAST_PATHS] = fast
    try:
        assert fast_paths_apply(session) is fast
        world = _world(app, session, clock, "fast" if fast else "plain")
        numbers = [i.out_trade_no for i in world["intents"]]
        answers = []

        def report(k: int, amount: int, txn: str) -> None:
            clock.advance(seconds=7)
            settled = payments.mark_paid(session, out_trade_no=numbers[k], amount_fen=amount, provider_txn_id=txn,
                                         now=clock.now(), paid_at=clock.now() - timedelta(seconds=3))
            answers.append((settled.outcome, None if settled.intent_id is None else
                            [i.id for i in world["intents"]].index(settled.intent_id)))

        report(0, 1000, f"{fast}-t0")  # the payer's first payment: both accounts created
        report(0, 1000, f"{fast}-t0")  # reported again: booked once
        report(1, 1001, f"{fast}-t1")  # another payer, the same payee
        report(2, 9999, f"{fast}-t2x")  # another amount: a discrepancy, nothing booked
        report(2, 1002, f"{fast}-t2")  # the first payer again
        clock.advance(minutes=16)
        payments.close_expired(session, clock.now())  # the fourth (never pressed pay) closes
        report(3, 1003, f"{fast}-t3")  # paid after it closed: booked (the money moved)
        session.flush()
        answers.append(_rows(session, world))
        assert postings.verify(session) == {"accounts": [], "transfers": []}
    finally:
        session.info.pop(FAST_PATHS, None)
        clock.set(start)
    return answers


def test_a_reported_payment_writes_and_answers_as_the_plain_path(app, session, clock):
    session.execute(sa.text(lgt.CREATE_HOOKS))
    plain = _run(app, session, clock, False)
    fast = _run(app, session, clock, True)
    assert plain == fast
    assert plain[:6] == [("booked", 0), ("already", 0), ("booked", 1), ("discrepancy", 2), ("booked", 2),
                         ("booked", 3)]
