"""Organisations of Jinshan as a tree with jurisdiction and supervision.

``parent`` is jurisdiction (district → town → neighbourhood/village committee);
``supervisor`` is oversight across the tree (区房管局 supervises property companies).
``code`` is a stable ASCII identifier used in URLs, commands and tokens; the district's
is its administrative code ``310116``.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, BigId, IdMixin, TimestampMixin

ORG_TYPES: dict[str, str] = {
    "district": "区政府",
    "town": "镇",
    "subdistrict": "街道",
    "industrial_zone": "工业区",
    "neighbourhood_committee": "居委会",
    "village_committee": "村委会",
    "bureau": "区委办局",
    "housing_office": "房管办 (town housing office)",
    "property_company": "物业公司",
    "hospital": "医院",
    "community_health_centre": "社区卫生服务中心",
    "venue_operator": "场所运营方",
    "parking_operator": "停车场运营方",
    "charging_operator": "充电运营方",
    "taxi_company": "出租车公司",
    "call_centre": "呼叫中心",
    "school": "学校",
    "employer": "企业",
    "merchant": "商户",
    "cultural_centre": "文化中心",
    "locker_operator": "快件箱运营方",
}

TOWN_LEVEL_TYPES = ("town", "subdistrict", "industrial_zone")


class Organisation(IdMixin, TimestampMixin, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        sa.CheckConstraint(
            "type IN (" + ", ".join(f"'{t}'" for t in ORG_TYPES) + ")", name="type_known"
        ),
    )

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(40), index=True)
    parent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    generated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    parent: Mapped[Organisation | None] = relationship(
        remote_side="Organisation.id", foreign_keys=[parent_id]
    )
    supervisor: Mapped[Organisation | None] = relationship(
        remote_side="Organisation.id", foreign_keys=[supervisor_id]
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.code} {self.type}>"
