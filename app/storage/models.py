"""One row per upload; the bytes live on disk under their content hash (shared by equal uploads)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Upload(IdMixin, Base):
    """An image someone uploaded, already cleaned (oriented, metadata stripped).

    ``public_id`` is what clients see (random, so ids cannot be enumerated); ``sha256`` and
    ``thumb_sha256`` name the files.
    """

    __tablename__ = "uploads"
    __table_args__ = (
        sa.CheckConstraint(_one_of("content_type", CONTENT_TYPES), name="content_type_known"),
        sa.CheckConstraint(_one_of("thumb_content_type", CONTENT_TYPES), name="thumb_content_type_known"),
        sa.CheckConstraint("width > 0 AND height > 0 AND bytes > 0", name="sizes_positive"),
    )

    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    owner_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    bytes: Mapped[int] = mapped_column(sa.Integer)
    thumb_sha256: Mapped[str] = mapped_column(sa.String(64))
    thumb_content_type: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Upload {self.public_id} {self.content_type} {self.width}x{self.height}>"
