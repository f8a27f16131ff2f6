"""The listing engine's own test scenario (``ls-test``), registered only in tests.

Entries are "stalls" (摊位) or "rooms" with a positive price; ``details`` name the moderating
organisation by code (``org``) and a number of ``seats`` (1–20); the moderating organisation's
managers publish and reject. The test app (``tests/conftest.py``) builds with it.
"""
from __future__ import annotations

import sqlalchemy as sa
from marshmallow.validate import Length, Range
from sqlalchemy.orm import Session

from app.api import Schema, fields
from app.errors import ApiError
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.listing.config import ListingConfig, listing_scenario

SLUG = "ls-test"
BASE = f"/api/v1/{SLUG}"


class LsTestDetailsSchema(Schema):
    org = fields.String(required=True, validate=Length(min=1, max=40))
    seats = fields.Integer(required=True, validate=Range(min=1, max=20))


def moderator_for(session: Session, *, principal: Principal, data: dict) -> int:
    org_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == data["details"]["org"]))
    if org_id is None:
        raise ApiError("validation_error", errors={"details.org": ["没有这个组织"]})
    return org_id


CONFIG = ListingConfig(slug=SLUG, title_zh="信息发布引擎测试", categories=("stall", "room"),
                       moderator_for=moderator_for, details_schema=LsTestDetailsSchema,
                       moderator_roles=("manager", "admin"), price_required=True)

SCENARIO = listing_scenario(CONFIG, title_en="Listing engine test scenario", seed_refs=("test",),
                            roles=("resident", "property_company:manager"))
