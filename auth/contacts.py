"""How staff are reached: a work mobile (verified by an SMS code) and a 企业微信 (WeCom) user id,
with the name residents see (``张师傅``), one row per staff account.

Set by the staff member or by their organisation's manager or admin
(``auth.contact_routes``); shown masked to other staff and to residents, except a technician's
work phone to the resident of a ticket assigned to them while it is open (a work number is what
the resident must call). The mobile is personal data: encrypted at rest, looked up by a keyed
hash, never logged.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii

VERIFICATION_PURPOSES = ("staff_mobile", "password_reset")


class StaffContact(IdMixin, Base):
    __tablename__ = "staff_contacts"
    __table_args__ = (sa.UniqueConstraint("account_id"),)

    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    display_name: Mapped[str | None] = mapped_column(sa.String(20))
    mobile: Mapped[str | None] = mapped_column(pii.EncryptedText("staff.mobile"), info={"lookup_hash": "mobile_hash"})
    mobile_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    mobile_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wecom_userid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))

    def set_mobile(self, value: str | None) -> None:
        value = pii.normalise_mobile(value) if value else None
        self.mobile = value
        self.mobile_hash = pii.lookup_hash("staff.mobile", value) if value else None
        self.mobile_verified_at = None


class VerificationCode(IdMixin, Base):
    """A code sent by SMS: to verify a staff mobile, or to reset a staff password. Stored as a
    keyed hash; single use; expires; a few attempts."""

    __tablename__ = "verification_codes"
    __table_args__ = (
        sa.CheckConstraint("purpose IN ('staff_mobile', 'password_reset')", name="purpose_known"),
        sa.Index("ix_verification_codes_account_purpose", "account_id", "purpose"),
    )

    purpose: Mapped[str] = mapped_column(sa.String(20))
    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    target_hash: Mapped[str] = mapped_column(sa.String(64))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
