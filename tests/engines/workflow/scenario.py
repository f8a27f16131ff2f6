"""The workflow engine's own test scenario (``wf-test``), registered only in tests.

Engine tests exercise the engine through it, not through property repair: a resident with a
verified residence in a community files a report there; the community's managing
organisation (its property company, else the town's housing office) owns it; response within
30 minutes, resolution within a day, 24/7; managers dispatch, technicians are assigned. The
test app (``tests/conftest.py``) and the test worker processes build with it
(``create_app(extra_scenarios=(SCENARIO,))``).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.api import Schema, fields
from app.clock import Clock
from app.errors import ApiError
from app.places.models import Community
from app.places.service import local_date, managing_organisation
from auth.models import Residence
from auth.principal import Principal
from auth.residences import living
from scenarios.engines.workflow.config import Placement, SlaDefault, WorkflowConfig, workflow_scenario

SLUG = "wf-test"
BASE = f"/api/v1/{SLUG}"
CATEGORIES = ("水电", "门窗", "电梯", "公共设施", "管道疏通", "其他")


class WfTestLocationSchema(Schema):
    community_code = fields.String(metadata={"description": "a community where you have a verified residence"})


class WfTestDetailsSchema(Schema):
    public_area = fields.Boolean(load_default=False)


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    """The caller's one verified residence (in ``community_code`` when given); its community's
    managing organisation today owns the ticket."""
    on = local_date(clock)
    stmt = (sa.select(Residence, Community).join(Community, Community.id == Residence.community_id)
            .where(living(principal.person_id or -1, on)).order_by(Residence.id))
    rows = session.execute(stmt).all()
    if data.get("community_code"):
        rows = [r for r in rows if r[1].code == data["community_code"]]
    if not rows:
        raise ApiError("no_residence", errors={"community_code": ["没有已认证的住址。"]})
    residence, community = rows[0]
    return Placement(org=managing_organisation(session, community, on), community_id=community.id,
                     building_id=residence.building_id, room=residence.room, address=community.address,
                     subject_person_id=principal.person_id, loaded=(community,))


CONFIG = WorkflowConfig(
    slug=SLUG,
    title_zh="工单引擎测试",
    number_prefix="WT",
    categories=CATEGORIES,
    locate=locate,
    location_schema=WfTestLocationSchema,
    details_schema=WfTestDetailsSchema,
    default_sla=SlaDefault(response_minutes=30, resolution_minutes=24 * 60, calendar="24x7"),
    dispatcher_roles=("manager",),
    handler_roles=("manager", "technician", "staff"),
    assignee_roles=("technician", "staff"),
    manager_roles=("manager",),
    supervisor_roles=("supervisor",),
    # The engine's own notice names, written to the log: these tests are about who is told and
    # when; how each person is reached (WeCom, WeChat, SMS) is tested with the real scenarios.
    notify_channel="log",
)

SCENARIO = workflow_scenario(
    CONFIG, title_en="Workflow engine test scenario", seed_refs=("test",),
    roles=("resident", "property_company:manager", "property_company:technician", "housing_office:manager",
           "housing_office:staff", "bureau:supervisor"))
