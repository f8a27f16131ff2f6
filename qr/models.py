"""Tables of the signed-QR layer. None of them holds personal data.

``qr_subjects`` and ``qr_passes`` point at a holder only through an opaque
(``holder_type``, ``holder_id``) pair, e.g. ("person", 42): the QR layer never imports the
identity models, and the per-token pseudonym ``sub`` is all a token carries.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, UTCDateTime

PERSONAL_PURPOSE = "personal"
PLACE_CHECKIN_PURPOSE = "place_checkin"
HolderId = sa.BigInteger()


class QrSigningKey(IdMixin, Base):
    """An Ed25519 key. The private half is AES-256-GCM encrypted under KEY_ENCRYPTION_KEY
    (associated data: the kid) and wiped once the key no longer signs."""

    __tablename__ = "qr_signing_keys"
    __table_args__ = (
        sa.CheckConstraint("alg IN ('EdDSA')", name="alg_known"),
        sa.CheckConstraint("retired_at IS NULL OR retired_at >= active_from", name="retired_after_active"),
    )

    kid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    alg: Mapped[str] = mapped_column(sa.String(16), default="EdDSA")
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    private_key_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary(128))
    kek_id: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active_from: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QrUsedJti(Base):
    """A consumed single-use token; the primary key makes consumption atomic."""

    __tablename__ = "qr_used_jti"

    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class QrSubject(Base):
    """Per-token pseudonym of a personal code → its holder, kept until the token expires."""

    __tablename__ = "qr_subjects"

    sub: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder_type: Mapped[str] = mapped_column(sa.String(40))
    holder_id: Mapped[int] = mapped_column(HolderId)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class QrPass(IdMixin, Base):
    """A pass other scenarios issue: a purpose, a reference, single- or multi-use, a lifetime.

    Place codes are passes too (purpose ``place_checkin``, multi-use), so they can be
    revoked and reissued the same way.
    """

    __tablename__ = "qr_passes"
    __table_args__ = (
        sa.CheckConstraint("valid_until > valid_from", name="lifetime_positive"),
        sa.CheckConstraint(f"purpose <> '{PERSONAL_PURPOSE}'", name="purpose_not_personal"),
        sa.CheckConstraint("(holder_type IS NULL) = (holder_id IS NULL)", name="holder_complete"),
        sa.Index("ix_qr_passes_purpose_ref", "purpose", "ref"),
    )

    jti: Mapped[str] = mapped_column(sa.String(64), unique=True)
    sub: Mapped[str] = mapped_column(sa.String(64))
    purpose: Mapped[str] = mapped_column(sa.String(40))
    ref: Mapped[str] = mapped_column(sa.String(128))
    holder_type: Mapped[str | None] = mapped_column(sa.String(40))
    holder_id: Mapped[int | None] = mapped_column(HolderId)
    single_use: Mapped[bool] = mapped_column(sa.Boolean)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(200))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QrScan(IdMixin, Base):
    """One verification, accepted or not: what was scanned, by which kind of scanner, when."""

    __tablename__ = "qr_scans"
    __table_args__ = (
        sa.CheckConstraint("token_kind IN ('personal', 'pass', 'unknown')", name="token_kind_known"),
        sa.CheckConstraint("scanner_kind IN ('device', 'staff', 'resident', 'service')", name="scanner_kind_known"),
        sa.Index("ix_qr_scans_scanner", "scanner_kind", "scanner_id", "at"),
    )

    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    token_kind: Mapped[str] = mapped_column(sa.String(16))
    purpose: Mapped[str | None] = mapped_column(sa.String(40))
    ref: Mapped[str | None] = mapped_column(sa.String(128))
    scanner_kind: Mapped[str] = mapped_column(sa.String(16))
    scanner_id: Mapped[int | None] = mapped_column(sa.BigInteger())
    result: Mapped[str] = mapped_column(sa.String(40))  # "accepted" or an error code
