"""Posting movements: two entries in one transaction, the cached balances moved with them.

A movement of ``amount`` from account A to account B is one ``lg_transfers`` row and two
``lg_entries`` rows (A: ``-amount``, leg 0; B: ``+amount``, leg 1), written in the caller's
transaction with the two balance updates, so either all of it is committed or none. The
debited account's balance moves by one conditional ``UPDATE … WHERE NOT floor_zero OR balance
>= amount``: on PostgreSQL a concurrent debit of the same account waits for the row lock and
re-evaluates the condition on the committed balance, so two debits racing for the last points
cannot both pass; the check constraint ``balance_floor`` would refuse it even if this code were
wrong. Balances are derived from the entries (``derived_balance``); ``verify`` lists the accounts
whose cached balance disagrees, for a test and the periodic check.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import insert_for
from app.errors import ApiError
from scenarios.engines.ledger.models import MAX_FEN, LgAccount, LgEntry, LgTransfer

ACCOUNTS = LgAccount.__table__
ENTRIES = LgEntry.__table__
TRANSFERS = LgTransfer.__table__
FLOOR_ZERO_KINDS = frozenset({"points", "coupon"})


def check_amount(amount: object, field: str = "amount_fen") -> int:
    """A positive whole amount that fits 64 bits, or 422 ``amount_invalid`` naming ``field``."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_FEN:
        raise ApiError("amount_invalid", errors={field: ["必须是 1 到 2^63-1 之间的整数（分）"]})
    return amount


def account(session: Session, kind: str, owner_id: int, *, unit: str = "CNY", now: datetime) -> int:
    """The id of the ``kind`` account of ``owner_id`` in ``unit``, created when missing (two
    transactions creating it at once end with one row)."""
    key = (ACCOUNTS.c.kind == kind, ACCOUNTS.c.owner_id == owner_id, ACCOUNTS.c.unit == unit)
    found = session.execute(sa.select(ACCOUNTS.c.id).where(*key)).scalar()
    if found is not None:
        return found
    created = session.execute(insert_for(session, ACCOUNTS)
                              .values(kind=kind, owner_id=owner_id, unit=unit, floor_zero=kind in FLOOR_ZERO_KINDS,
                                      balance=0, created_at=now)
                              .on_conflict_do_nothing(index_elements=["kind", "owner_id", "unit"])
                              .returning(ACCOUNTS.c.id)).scalar()
    if created is not None:
        return created
    return session.execute(sa.select(ACCOUNTS.c.id).where(*key)).scalar_one()  # another transaction created it


@dataclass(frozen=True)
class Posted:
    transfer_id: int
    amount: int


def post(session: Session, *, kind: str, debit: int, credit: int, amount: int, reference: str,
         now: datetime, scenario: str | None = None) -> Posted:
    """Move ``amount`` from account ``debit`` to account ``credit``: 409 ``insufficient_balance``
    (nothing written) when ``debit`` may not go below zero and would."""
    check_amount(amount, "amount")
    if debit == credit:
        raise ValueError("a transfer needs two different accounts")
    # Both rows locked in id order first: a payment (payer → payee) and a refund (payee → payer)
    # at once would otherwise each hold one and wait for the other (PostgreSQL aborts one).
    session.execute(sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.id.in_((debit, credit)))
                    .order_by(ACCOUNTS.c.id).with_for_update())
    moved = session.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.id == debit, sa.or_(~ACCOUNTS.c.floor_zero, ACCOUNTS.c.balance >= amount))
        .values(balance=ACCOUNTS.c.balance - amount))
    if moved.rowcount != 1:
        raise ApiError("insufficient_balance")
    session.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == credit).values(balance=ACCOUNTS.c.balance + amount))
    transfer_id = session.execute(
        sa.insert(TRANSFERS).values(kind=kind, amount=amount, reference=reference, scenario=scenario,
                                    created_at=now).returning(TRANSFERS.c.id)).scalar_one()
    session.execute(sa.insert(ENTRIES), [
        {"transfer_id": transfer_id, "account_id": debit, "leg": 0, "amount": -amount, "created_at": now},
        {"transfer_id": transfer_id, "account_id": credit, "leg": 1, "amount": amount, "created_at": now},
    ])
    return Posted(transfer_id, amount)


def derived_balance(session: Session, account_id: int) -> int:
    """The account's balance as its entries say."""
    return int(session.execute(sa.select(sa.func.coalesce(sa.func.sum(ENTRIES.c.amount), 0))
                               .where(ENTRIES.c.account_id == account_id)).scalar_one())


def cached_balance(session: Session, account_id: int) -> int:
    return int(session.execute(sa.select(ACCOUNTS.c.balance).where(ACCOUNTS.c.id == account_id)).scalar_one())


def verify(session: Session) -> dict[str, list]:
    """What disagrees: ``accounts`` whose cached balance differs from their entries'
    sum (id, cached, derived) and ``transfers`` whose legs do not sum to 0 or do not match the
    transfer's amount. Empty lists when the ledger is sound."""
    sums = (sa.select(ENTRIES.c.account_id, sa.func.sum(ENTRIES.c.amount).label("total"))
            .group_by(ENTRIES.c.account_id).subquery())
    derived = sa.func.coalesce(sums.c.total, 0)
    accounts = session.execute(
        sa.select(ACCOUNTS.c.id, ACCOUNTS.c.balance, derived)
        .select_from(ACCOUNTS.outerjoin(sums, sums.c.account_id == ACCOUNTS.c.id))
        .where(ACCOUNTS.c.balance != derived)).all()
    legs = (sa.select(ENTRIES.c.transfer_id, sa.func.sum(ENTRIES.c.amount).label("net"),
                      sa.func.max(ENTRIES.c.amount).label("credit"), sa.func.count().label("n"))
            .group_by(ENTRIES.c.transfer_id).subquery())
    transfers = session.execute(
        sa.select(TRANSFERS.c.id).select_from(TRANSFERS.outerjoin(legs, legs.c.transfer_id == TRANSFERS.c.id))
        .where(sa.or_(legs.c.n.is_(None), legs.c.n != 2, legs.c.net != 0, legs.c.credit != TRANSFERS.c.amount))
    ).scalars().all()
    return {"accounts": [tuple(r) for r in accounts], "transfers": list(transfers)}
