"""The dispatch engine's own test scenario (``dp-test``), registered only in tests.

Engine tests exercise the engine through it, not through the taxi: a resident with a verified
residence asks for help at their community (its centre is the origin); drivers of taxi
companies serve, two offered at once (a batch of 2) for 20 seconds, within 3 km then 6 km, up
to 6 offers and 4 rounds; after acceptance the stages are SOS-like (``arrived`` → on_scene,
``resolve`` → resolved), not the taxi's, to keep the engine honest about knowing no scenario.
The test app (``tests/conftest.py``) and the test worker processes build with it.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from marshmallow.validate import Length
from sqlalchemy.orm import Session

from app.api import Schema, fields
from app.clock import Clock
from app.errors import ApiError
from app.places.models import Community
from app.places.service import local_date
from auth.models import Residence
from auth.principal import Principal
from auth.residences import living
from scenarios.engines.dispatch.config import DispatchConfig, Origin, Stage, dispatch_scenario

SLUG = "dp-test"
BASE = f"/api/v1/{SLUG}"


class DpTestRequestSchema(Schema):
    note = fields.String(load_default=None, validate=Length(max=100))
    destination = fields.String(load_default=None, validate=Length(max=100),
                                metadata={"description": "private: stored encrypted"})


class DpTestResolveSchema(Schema):
    outcome = fields.String(required=True, validate=Length(min=1, max=100))


def origin(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Origin:
    """The caller's verified residence's community (422 ``outside_service_area`` without one)."""
    stmt = (sa.select(Community).join(Residence, Residence.community_id == Community.id)
            .where(living(principal.person_id or -1, local_date(clock))).order_by(Residence.id).limit(1))
    community = session.scalar(stmt)
    if community is None:
        raise ApiError("outside_service_area", errors={"community": ["没有已认证的住址。"]})
    return Origin(lat=community.lat, lon=community.lon, area=community.code, label=f"{community.name}门口")


CONFIG = DispatchConfig(
    slug=SLUG,
    title_zh="派单引擎测试",
    job_noun="jobs",
    agent_org_type="taxi_company",
    agent_roles=("driver",),
    origin=origin,
    request_schema=DpTestRequestSchema,
    private_fields=("destination",),
    stages=(
        Stage("arrived", "accepted", "on_scene", "On the scene.", stamp="arrived_at"),
        Stage("resolve", "on_scene", "resolved", "Resolved, with the outcome.", schema=DpTestResolveSchema),
    ),
    batch_size=2,
    offer_timeout=timedelta(seconds=20),
    radii_m=(3000, 6000),
    max_offers=6,
    max_rounds=4,
    notify_channel="log",
    templates={"offer": "dispatch_offer", "accepted": "dispatch_accepted", "unserved": "dispatch_unserved",
               "cancelled": "dispatch_cancelled"},
)

SCENARIO = dispatch_scenario(CONFIG, title_en="Dispatch engine test scenario", seed_refs=("test",),
                             roles=("resident", "taxi_company:driver", "taxi_company:manager"))
