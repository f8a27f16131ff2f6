"""Addresses a staff account has signed in from: failures from elsewhere never hold them back.

OWASP's answer to lock-out by strangers: a sign-in from an address that has succeeded before
for this account is throttled only by its own failures (``auth.signin_throttle``), not by
those of other addresses against the account, nor by the address's failures against other
accounts. The list lives in the database (the source of truth, shared by every process),
stores keyed hashes only (an address is personal data) and forgets an address
``KNOWN_ADDRESS_DAYS`` (default 90) after its last successful sign-in.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime, insert_for
from auth.signin_throttle import address_hash

DEFAULT_DAYS = 90
MAX_PER_ACCOUNT = 20


class KnownAddress(IdMixin, Base):
    """One address (its keyed hash) an account signed in from, and when it last did."""

    __tablename__ = "staff_known_addresses"
    __table_args__ = (sa.UniqueConstraint("account_id", "address_hash"),)

    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    address_hash: Mapped[str] = mapped_column(sa.String(32))
    last_success_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _days() -> int:
    raw = current_app.extensions["settings"].get("KNOWN_ADDRESS_DAYS")
    return int(raw) if raw else DEFAULT_DAYS


def is_known(session: Session, account_id: int | None, address: str, *, now: datetime) -> bool:
    """Whether the account signed in from ``address`` within the last ``KNOWN_ADDRESS_DAYS``.
    Callers ask for unknown names too (``account_id`` None): the same query, the same time."""
    found = session.scalar(sa.select(KnownAddress.id).where(
        KnownAddress.account_id == (account_id if account_id is not None else -1),
        KnownAddress.address_hash == address_hash(address),
        KnownAddress.last_success_at >= now - timedelta(days=_days())))
    return found is not None


def remember(session: Session, account_id: int, address: str, *, now: datetime) -> None:
    """Record a successful sign-in from ``address``; drop the account's expired addresses and
    keep its ``MAX_PER_ACCOUNT`` most recent ones."""
    table = KnownAddress.__table__
    stmt = insert_for(session, table).values(account_id=account_id, address_hash=address_hash(address),
                                             last_success_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["account_id", "address_hash"],
                                               set_={"last_success_at": now}))
    keep = (sa.select(KnownAddress.id).where(KnownAddress.account_id == account_id)
            .order_by(KnownAddress.last_success_at.desc()).limit(MAX_PER_ACCOUNT))
    session.execute(sa.delete(KnownAddress).where(
        KnownAddress.account_id == account_id,
        sa.or_(KnownAddress.last_success_at < now - timedelta(days=_days()), KnownAddress.id.not_in(keep))))
