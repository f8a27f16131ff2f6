"""Accounts and persons, relations, residences, memberships, devices, tokens and audit.

An ``Account`` is a way to log in; a ``Person`` is a human with personal data. A person
may have several accounts or none (a child; a parent over 80 without a phone). Name, ID
number and phone are encrypted at rest (``auth.pii.EncryptedText``) with keyed hashes for
lookups; set them with ``Person.set_*`` so the hash follows the value.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, utcnow
from auth import pii
from auth.organisations import Organisation

REAL_NAME_LEVELS = ("none", "basic", "verified")
ACCOUNT_KINDS = ("wechat", "suishenban", "staff", "dev")
RESIDENT_ACCOUNT_KINDS = ("wechat", "suishenban", "dev")
ACCOUNT_STATUSES = ("active", "disabled", "deleted")
RELATION_KINDS = ("guardian", "proxy", "family")
RELATION_STATUSES = ("pending", "confirmed", "declined")
# Who confirmed or declined a relation: the person it is about (an adult with an account, in
# their app), their committee, or staff who saw the ID card in person.
RELATION_DECIDERS = ("subject", "committee", "in_person")
RESIDENCE_STATUSES = ("claimed", "verified", "rejected", "ended")
MEMBERSHIP_STATUSES = ("active", "disabled")
DEVICE_STATUSES = ("active", "disabled")
DEVICE_KINDS = ("sentinel", "gate", "scanner", "locker", "charger", "sensor", "kiosk", "camera", "meter")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Person(IdMixin, TimestampMixin, Base):
    __tablename__ = "persons"
    __table_args__ = (
        sa.CheckConstraint(_in("real_name_level", REAL_NAME_LEVELS), name="real_name_level_known"),
        sa.UniqueConstraint("id_number_hash"),
    )

    name: Mapped[str | None] = mapped_column(pii.EncryptedText("person.name"))
    id_number: Mapped[str | None] = mapped_column(
        pii.EncryptedText("person.id_number"), info={"lookup_hash": "id_number_hash"})
    id_number_hash: Mapped[str | None] = mapped_column(sa.String(64))
    phone: Mapped[str | None] = mapped_column(pii.EncryptedText("person.phone"), info={"lookup_hash": "phone_hash"})
    phone_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # An ID number the person typed (PATCH /me) that another person already holds: kept and
    # shown (masked) like one that was free, so the answer does not tell that it was taken;
    # it identifies nobody (a 随申办 verification sets ``id_number``).
    claimed_id_number: Mapped[str | None] = mapped_column(pii.EncryptedText("person.claimed_id_number"))
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    real_name_level: Mapped[str] = mapped_column(sa.String(16), default="none")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    accounts: Mapped[list[Account]] = relationship(back_populates="person")

    def set_id_number(self, value: str | None) -> None:
        value = pii.normalise_id_number(value) if value else None
        self.id_number = value
        self.id_number_hash = pii.lookup_hash("person.id_number", value) if value else None
        if value:
            self.birth_date = pii.id_number_birth_date(value)

    def set_phone(self, value: str | None) -> None:
        value = pii.normalise_mobile(value) if value else None
        self.phone = value
        self.phone_hash = pii.lookup_hash("person.phone", value) if value else None

    @staticmethod
    def id_number_lookup(value: str) -> str:
        return pii.lookup_hash("person.id_number", pii.normalise_id_number(value))

    @staticmethod
    def phone_lookup(value: str) -> str:
        return pii.lookup_hash("person.phone", pii.normalise_mobile(value))

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None


class Account(IdMixin, TimestampMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("status", ACCOUNT_STATUSES), name="status_known"),
        sa.CheckConstraint("kind <> 'staff' OR username IS NOT NULL OR status = 'deleted'", name="staff_username"),
        sa.UniqueConstraint("kind", "openid", name="uq_accounts_kind_openid"),
        sa.UniqueConstraint("subject"),
        sa.UniqueConstraint("username"),
    )

    kind: Mapped[str] = mapped_column(sa.String(16))
    person_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    openid: Mapped[str | None] = mapped_column(sa.String(128))
    unionid: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    subject: Mapped[str | None] = mapped_column(sa.String(128))  # 随申办 user id
    username: Mapped[str | None] = mapped_column(sa.String(64))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    wechat_session_key: Mapped[str | None] = mapped_column(pii.EncryptedText("account.wechat_session_key"))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person | None] = relationship(back_populates="accounts")
    memberships: Mapped[list[Membership]] = relationship(back_populates="account")

    @property
    def is_resident(self) -> bool:
        return self.kind in RESIDENT_ACCOUNT_KINDS


class PersonRelation(IdMixin, Base):
    """``from_person`` may act for ``to_person`` within ``allows`` (就诊人, guardian...), once
    ``confirmed`` (see ``auth.relations``)."""

    __tablename__ = "person_relations"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", RELATION_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("status", RELATION_STATUSES), name="status_known"),
        sa.CheckConstraint(f"decided_via IS NULL OR {_in('decided_via', RELATION_DECIDERS)}",
                           name="decided_via_known"),
        sa.CheckConstraint("from_person_id <> to_person_id", name="not_self"),
        sa.UniqueConstraint("from_person_id", "to_person_id", "kind"),
    )

    from_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    to_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    allows: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    # The name the requester typed: what they are shown back (masked), whether or not it is the
    # name on record (the answer must not tell); committee staff compare it.
    claimed_name: Mapped[str | None] = mapped_column(pii.EncryptedText("relation.claimed_name"))
    decided_via: Mapped[str | None] = mapped_column(sa.String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    decided_by_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    from_person: Mapped[Person] = relationship(foreign_keys=[from_person_id])
    to_person: Mapped[Person] = relationship(foreign_keys=[to_person_id])


class Residence(IdMixin, TimestampMixin, Base):
    """A person lives in a room of a community or a house of a village, from a date to a date."""

    __tablename__ = "residences"
    __table_args__ = (
        sa.CheckConstraint(_in("status", RESIDENCE_STATUSES), name="status_known"),
        sa.CheckConstraint(
            "(community_id IS NOT NULL AND building_id IS NOT NULL AND room IS NOT NULL"
            " AND village_id IS NULL AND house_number IS NULL)"
            " OR (village_id IS NOT NULL AND house_number IS NOT NULL"
            " AND community_id IS NULL AND building_id IS NULL AND room IS NULL)",
            name="one_place",
        ),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="dates_ordered"),
        sa.Index("ix_residences_community_status", "community_id", "status"),
        sa.Index("ix_residences_village_status", "village_id", "status"),
    )

    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("communities.id"))
    building_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("buildings.id"))
    room: Mapped[str | None] = mapped_column(sa.String(8))
    village_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("villages.id"))
    house_number: Mapped[int | None] = mapped_column(sa.Integer)
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default="claimed")
    reviewed_by_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    reviewed_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(sa.String(300))

    person: Mapped[Person] = relationship()
    reviewed_by_org: Mapped[Organisation | None] = relationship()


class Membership(IdMixin, TimestampMixin, Base):
    """A staff account's role in one organisation (validated against ``auth.roles``)."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.CheckConstraint(_in("status", MEMBERSHIP_STATUSES), name="status_known"),
        sa.UniqueConstraint("account_id", "organisation_id"),
    )

    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")

    account: Mapped[Account] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()


class Device(IdMixin, TimestampMixin, Base):
    """A scanner, gate or sensor of an organisation; HTTP Basic with (uid, secret)."""

    __tablename__ = "devices"
    __table_args__ = (
        sa.CheckConstraint(_in("status", DEVICE_STATUSES), name="status_known"),
        sa.CheckConstraint(_in("kind", DEVICE_KINDS), name="kind_known"),
        sa.UniqueConstraint("uid"),
    )

    uid: Mapped[str] = mapped_column(sa.String(40))
    organisation_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(100))
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()


class RefreshToken(IdMixin, Base):
    """One refresh token (stored as its SHA-256); a login's rotations share ``family_id``."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (sa.UniqueConstraint("token_hash"),)

    family_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))


class AuditEntry(IdMixin, Base):
    """A staff member read personal data unmasked: who, for which organisation, whom, what, why."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_subject_at", "subject_person_id", "at"),)

    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"), index=True)
    acting_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    subject_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    action: Mapped[str] = mapped_column(sa.String(40), default="read_unmasked")
    fields: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    reason: Mapped[str] = mapped_column(sa.String(300))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "fields": list(self.fields), "reason": self.reason}


class AuthChange(Base):
    """SQLite's change counter of what authentication reads (``auth.cache``): triggers on
    accounts, memberships, refresh tokens, devices and organisations bump it in the changing
    transaction. One row (id 1). PostgreSQL notifies listeners instead and leaves it alone."""

    __tablename__ = "auth_changes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(sa.BigInteger, default=0)
