"""Tables of the listing engine.

- ``ls_entries``: one catalogue entry of a scenario (a rental room, a second-hand stall, a
  job). ``search_text`` is the lower-cased title, text and address that text search matches
  (a trigram GIN index on PostgreSQL serves ``LIKE '%…%'``, Chinese included, without a word
  segmenter). ``place`` is a place code the scenario sets (a village), a search filter.
  ``rank`` orders search first (a scenario's recommendation: green-card houses).
  Every state change is a compare-and-set on the expected state.
- ``ls_events``: the entry's history (who moved it from which state to which, and why).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

STATES = ("draft", "submitted", "published", "withdrawn", "rejected")
SUBJECT = "ls_entry"
"""The visibility registry's (and moderation's) name of an entry."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class LsEntry(IdMixin, Base):
    __tablename__ = "ls_entries"
    __table_args__ = (
        sa.CheckConstraint(_in("state", STATES), name="state_known"),
        sa.CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_not_negative"),
        sa.Index("ix_ls_entries_search", "scenario", "state", "category", "price_fen"),
        sa.Index("ix_ls_entries_position", "scenario", "lat", "lon"),
        sa.Index("ix_ls_entries_place", "scenario", "place", "state", "price_fen"),
        sa.Index("ix_ls_entries_moderator", "moderator_org_id", "state"),
        sa.Index("ix_ls_entries_owner", "owner_account_id"),
        sa.Index("ix_ls_entries_text_trgm", "search_text", postgresql_using="gin",
                 postgresql_ops={"search_text": "gin_trgm_ops"}),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    owner_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    owner_person_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    moderator_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    category: Mapped[str] = mapped_column(sa.String(40))
    place: Mapped[str | None] = mapped_column(sa.String(64))
    """A place code the scenario files the entry under (a village's), searched by equality."""
    title: Mapped[str] = mapped_column(sa.String(100))
    text: Mapped[str] = mapped_column(sa.String(2000), default="")
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    price_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    photos: Mapped[list] = mapped_column(sa.JSON, default=list)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    search_text: Mapped[str] = mapped_column(sa.String(2400), default="")
    rank: Mapped[int] = mapped_column(sa.Integer, default=0)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LsEvent(IdMixin, Base):
    __tablename__ = "ls_events"
    __table_args__ = (sa.Index("ix_ls_events_entry", "entry_id", "id"),)

    entry_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("ls_entries.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(24))
    from_state: Mapped[str | None] = mapped_column(sa.String(16))
    to_state: Mapped[str] = mapped_column(sa.String(16))
    account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
