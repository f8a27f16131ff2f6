"""Tables of the ledger engine.

- ``lg_accounts``: one per owner and kind (a payer, an organisation; later a person's points
  or coupons of one kind). ``balance`` is a cache of the sum of the account's entries, moved
  only together with them (postings.py) and checked against them (``postings.verify``);
  ``floor_zero`` accounts (points) may never go below 0: the conditional update refuses it and
  the check constraint is the database's last word under any concurrency.
- ``lg_transfers``: one movement of ``amount`` from one account to another, for a reason
  (``kind``, ``reference``: e.g. ``intent:12``).
- ``lg_entries``: the two legs of a transfer, leg 0 the debit (negative) and leg 1 the credit
  (positive), same magnitude. Append-only: on PostgreSQL a trigger refuses UPDATE and DELETE.
- ``lg_payment_intents``: what a scenario sells to a payer for a payee organisation;
  ``created`` → ``pending`` (handed to the provider) → ``paid`` → ``partially_refunded`` /
  ``refunded``, or ``closed`` when it expires unpaid. ``refunded_fen`` never exceeds
  ``amount_fen`` (check constraint; refunds move it by a conditional update).
- ``lg_refunds``: one refund request of an intent.
- ``lg_discrepancies``: what a notification or the reconciliation found that does not match
  the ledger, listed for the operator and the district, never silently fixed.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

ACCOUNT_KINDS = ("payer", "organisation", "provider", "points", "coupon")
TRANSFER_KINDS = ("payment", "refund", "points", "adjustment")
INTENT_STATES = ("created", "pending", "paid", "partially_refunded", "refunded", "closed")
PAYABLE_STATES = ("created", "pending")
REFUNDABLE_STATES = ("paid", "partially_refunded")
REFUND_STATES = ("pending", "succeeded", "failed")
PROVIDERS = ("record", "wechatpay")
DISCREPANCY_KINDS = ("unknown_order", "amount_differs", "missing_here", "missing_there", "refund_abnormal")
MAX_FEN = 2**63 - 1
SUBJECT = "lg_payment_intent"
"""The visibility registry's name of a payment intent."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class LgAccount(IdMixin, Base):
    __tablename__ = "lg_accounts"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind_known"),
        sa.CheckConstraint("NOT floor_zero OR balance >= 0", name="balance_floor"),
        sa.UniqueConstraint("kind", "owner_id", "unit", name="uq_lg_accounts_owner"),
    )

    kind: Mapped[str] = mapped_column(sa.String(16))
    owner_id: Mapped[int] = mapped_column(BigId)
    """A person's id (payer, points), an organisation's id, or 0 for a provider's clearing account."""
    unit: Mapped[str] = mapped_column(sa.String(24), default="CNY")
    """``CNY`` (fen) or the points / coupon kind counted."""
    floor_zero: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LgTransfer(IdMixin, Base):
    __tablename__ = "lg_transfers"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", TRANSFER_KINDS), name="kind_known"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.Index("ix_lg_transfers_reference", "reference"),
        sa.Index("ix_lg_transfers_created_at", "created_at"),
    )

    kind: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    reference: Mapped[str] = mapped_column(sa.String(60))
    scenario: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LgEntry(IdMixin, Base):
    __tablename__ = "lg_entries"
    __table_args__ = (
        sa.CheckConstraint("(leg = 0 AND amount < 0) OR (leg = 1 AND amount > 0)", name="leg_sign"),
        sa.UniqueConstraint("transfer_id", "leg", name="uq_lg_entries_transfer_leg"),
        sa.Index("ix_lg_entries_account", "account_id", "id"),
    )

    transfer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("lg_transfers.id"))
    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("lg_accounts.id"))
    leg: Mapped[int] = mapped_column(sa.SmallInteger)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION lg_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only (%)', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TABLES = ("lg_entries", "lg_transfers")


def append_only_trigger(table: str) -> str:
    return (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION lg_append_only()")


for _table in (LgTransfer.__table__, LgEntry.__table__):
    if _table.name == "lg_transfers":
        sa.event.listen(_table, "after_create", sa.DDL(APPEND_ONLY_FUNCTION).execute_if(dialect="postgresql"))
    sa.event.listen(_table, "after_create", sa.DDL(append_only_trigger(_table.name)).execute_if(dialect="postgresql"))


class LgPaymentIntent(IdMixin, Base):
    __tablename__ = "lg_payment_intents"
    __table_args__ = (
        sa.CheckConstraint(_in("status", INTENT_STATES), name="status_known"),
        sa.CheckConstraint(_in("provider", PROVIDERS), name="provider_known"),
        sa.CheckConstraint("currency = 'CNY'", name="currency_cny"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunds_within_paid"),
        sa.Index("ix_lg_payment_intents_scenario_created", "scenario", "created_at"),
        sa.Index("ix_lg_payment_intents_payer", "payer_person_id", "id"),
        sa.Index("ix_lg_payment_intents_open", "status", "expires_at"),
        sa.Index("ix_lg_payment_intents_subject", "subject"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str | None] = mapped_column(sa.String(60))
    """What is sold, e.g. ``bk_booking:12`` (the scenario's own reference)."""
    payer_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    payee_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    description: Mapped[str] = mapped_column(sa.String(127))
    status: Mapped[str] = mapped_column(sa.String(20), default="created")
    provider: Mapped[str] = mapped_column(sa.String(16))
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    provider_txn_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fee_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    """The provider's fee (手续费) on the payment, from its trade bill at reconciliation; None
    until reconciled (and for the ``record`` provider)."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def subject_type(self) -> str | None:
        """The kind of what is sold (``subject`` is ``"<kind>:<id>"``; see purposes.py)."""
        return self.subject.partition(":")[0] or None if self.subject else None

    @property
    def subject_id(self) -> str | None:
        return self.subject.partition(":")[2] or None if self.subject else None


class LgRefund(IdMixin, Base):
    __tablename__ = "lg_refunds"
    __table_args__ = (
        sa.CheckConstraint(_in("status", REFUND_STATES), name="status_known"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index("ix_lg_refunds_intent", "intent_id"),
    )

    intent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("lg_payment_intents.id"))
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str | None] = mapped_column(sa.String(80))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    fee_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    """The fee (手续费) of the refund's line in the provider's trade bill, as billed: negative, the
    part of the payment's fee returned; None until reconciled (and for the ``record`` provider)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LgDiscrepancy(IdMixin, Base):
    __tablename__ = "lg_discrepancies"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", DISCREPANCY_KINDS), name="kind_known"),
        sa.Index("ix_lg_discrepancies_day", "bill_date"),
    )

    kind: Mapped[str] = mapped_column(sa.String(20))
    source: Mapped[str] = mapped_column(sa.String(20))
    """``notification`` or ``reconciliation``."""
    out_trade_no: Mapped[str | None] = mapped_column(sa.String(64))
    intent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("lg_payment_intents.id"))
    expected_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    reported_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    bill_date: Mapped[date | None] = mapped_column(sa.Date)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
