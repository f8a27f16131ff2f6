"""PostgreSQL fast path of the ledger: a reported payment booked in one statement.

The plain path (``payments.mark_paid``: Core statements, portable) costs nine round trips for a
payer's first payment: the intent's compare-and-set, finding or creating the two accounts,
locking them, moving both balances, the transfer and its entries. WeChat Pay's notification is
a figure of issue 15 (0.3 of a bare ``/healthz``), so here the same work is one statement:

- ``paid``: the same compare-and-set (an intent of that order and amount, still payable or
  closed) to ``paid``;
- ``locked``: the pair's existing accounts locked in id order, as ``postings.post`` locks them
  (a refund of the same pair, payee → payer, waits for this one instead of deadlocking);
- ``payer`` / ``payee``: each account created with the movement as its balance, or its cached
  balance moved (``INSERT … ON CONFLICT DO UPDATE``: a payer account never has a floor, so the
  debit needs no check);
- ``transfer`` and ``entries``: the transfer and its two legs.

When the compare-and-set matches nothing (already paid, an unknown order, another amount) the
statement writes nothing and the caller takes the plain path, which says which and records a
discrepancy. ``tests/engines/ledger/test_fastpath.py`` books the same reports through both and
compares every row written and every answer.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from scenarios.engines.ledger.models import PAYABLE_STATES

_BOOK = """
WITH paid AS (
    UPDATE lg_payment_intents
       SET status = 'paid', provider_txn_id = :p_txn, paid_at = :p_paid_at, closed_at = NULL, updated_at = :p_now
     WHERE out_trade_no = :p_no AND amount_fen = :p_amount AND status IN ({states})
 RETURNING id, payer_person_id, payee_org_id, amount_fen, scenario, subject
), locked AS (
    SELECT a.id FROM lg_accounts a JOIN paid
        ON a.unit = 'CNY' AND ((a.kind = 'payer' AND a.owner_id = paid.payer_person_id)
                               OR (a.kind = 'organisation' AND a.owner_id = paid.payee_org_id))
     ORDER BY a.id FOR UPDATE OF a
), payer AS (
    INSERT INTO lg_accounts (kind, owner_id, unit, floor_zero, balance, created_at)
    SELECT 'payer', paid.payer_person_id, 'CNY', false, -paid.amount_fen, :p_now
      FROM paid, (SELECT count(*) FROM locked) AS l
        ON CONFLICT (kind, owner_id, unit) DO UPDATE SET balance = lg_accounts.balance + excluded.balance
 RETURNING id
), payee AS (
    INSERT INTO lg_accounts (kind, owner_id, unit, floor_zero, balance, created_at)
    SELECT 'organisation', paid.payee_org_id, 'CNY', false, paid.amount_fen, :p_now
      FROM paid, (SELECT count(*) FROM locked) AS l
        ON CONFLICT (kind, owner_id, unit) DO UPDATE SET balance = lg_accounts.balance + excluded.balance
 RETURNING id
), transfer AS (
    INSERT INTO lg_transfers (kind, amount, reference, scenario, created_at)
    SELECT 'payment', paid.amount_fen, 'intent:' || paid.id, paid.scenario, :p_now FROM paid
 RETURNING id, amount
), entries AS (
    INSERT INTO lg_entries (transfer_id, account_id, leg, amount, created_at)
    SELECT transfer.id, payer.id, 0, -transfer.amount, :p_now FROM transfer, payer
     UNION ALL
    SELECT transfer.id, payee.id, 1, transfer.amount, :p_now FROM transfer, payee
)
SELECT paid.id, paid.subject FROM paid
"""


@cache
def _book_statement() -> sa.TextClause:
    """Built once; parameters ``p_*``."""
    states = ", ".join(f"'{s}'" for s in (*PAYABLE_STATES, "closed"))
    return sa.text(_BOOK.format(states=states)).bindparams(
        sa.bindparam("p_now", type_=UTCDateTime()), sa.bindparam("p_paid_at", type_=UTCDateTime()))


def book_payment(session: Session, *, out_trade_no: str, amount_fen: int, provider_txn_id: str, now: datetime,
                 paid_at: datetime) -> tuple[int, str | None] | None:
    """Book the payment as ``payments.mark_paid`` does when its compare-and-set wins: (intent id,
    subject), the seller's hook still to be called; None when it does not win (nothing written)."""
    row = session.execute(_book_statement(), {"p_no": out_trade_no, "p_amount": amount_fen, "p_txn": provider_txn_id,
                                              "p_now": now, "p_paid_at": paid_at}).first()
    return None if row is None else (row.id, row.subject)
