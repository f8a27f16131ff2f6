"""The permission layer across two organisations of each kind: 404 when not visible, 403
when visible but not allowed."""
from __future__ import annotations

import pytest

from app.errors import ApiError
from auth.permissions import can_see, reach, require_role_in
from auth.principal import Principal
from tests.support.factories import place_world

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def staff(org, role: str) -> Principal:
    return Principal("staff", account_id=1, org_id=org.id, org_code=org.code, org_type=org.type, role=role)


def outcome(principal, org, roles, session, **kw) -> int:
    try:
        require_role_in(principal, org, roles, session=session, **kw)
        return 200
    except ApiError as err:
        return err.status


@pytest.fixture
def world(session):
    w = place_world(session)
    session.commit()
    return w


def test_members_see_their_own_organisation_only(session, world):
    for kind in ("companies", "committees", "village_committees", "towns"):
        a, b = getattr(world, kind)
        role = {"companies": "manager", "committees": "committee", "village_committees": "committee",
                "towns": "admin"}[kind]
        p = staff(a, role)
        assert reach(p, a, session=session) == "member"
        assert outcome(p, a, {role}, session) == 200
        assert outcome(p, b, {role}, session) == 404, kind  # the sibling is invisible
        assert outcome(p, a, {"someone-else"}, session) == 403, kind


def test_supervisor_link(session, world):
    supervisor = staff(world.bureau, "supervisor")
    for company in world.companies:
        assert reach(supervisor, company, session=session) == "supervisor"
        assert outcome(supervisor, company, {"manager", "supervisor"}, session) == 200
        assert outcome(supervisor, company, {"manager"}, session) == 403
        assert outcome(supervisor, company, {"manager", "supervisor"}, session, via={"member"}) == 403
    # The bureau supervises companies, not committees.
    assert outcome(supervisor, world.committees[0], {"supervisor"}, session) == 404


def test_jurisdiction_tree(session, world):
    town = staff(world.towns[0], "admin")
    assert reach(town, world.committees[0], session=session) == "ancestor"
    assert reach(town, world.village_committees[0], session=session) == "ancestor"
    assert reach(town, world.housing_office, session=session) == "ancestor"
    assert outcome(town, world.committees[1], {"admin"}, session) == 404  # another town's committee
    assert outcome(town, world.village_committees[1], {"admin"}, session) == 404
    assert outcome(town, world.companies[0], {"admin"}, session) == 404  # companies are not under towns


def test_district_admin_sees_everything(session, world):
    admin = staff(world.district, "admin")
    assert admin.is_district_admin
    for org in (*world.companies, *world.committees, *world.village_committees, world.bureau, world.housing_office):
        assert can_see(admin, org, session=session)
        assert outcome(admin, org, {"admin"}, session) == 200
    district_staff = staff(world.district, "staff")
    assert not district_staff.is_district_admin
    assert outcome(district_staff, world.companies[0], {"admin"}, session) == 403


def test_residents_devices_and_anonymous_reach_nothing(session, world):
    for p in (Principal("resident", account_id=1, person_id=1),
              Principal("device", org_id=world.companies[0].id, device_id=1),
              Principal("anonymous")):
        assert reach(p, world.companies[0], session=session) is None
        assert outcome(p, world.companies[0], {"manager"}, session) == 404


def test_several_owning_organisations(session, world):
    """A community is in the charge of its company and its committee: either may act."""
    owners = [world.companies[0], world.committees[0]]
    assert outcome(staff(world.committees[0], "committee"), owners, {"committee", "manager"}, session) == 200
    assert outcome(staff(world.companies[0], "manager"), owners, {"committee", "manager"}, session) == 200
    assert outcome(staff(world.companies[0], "technician"), owners, {"committee", "manager"}, session) == 403
    assert outcome(staff(world.companies[1], "manager"), owners, {"committee", "manager"}, session) == 404


def test_cycles_in_the_tree_end(session, world):
    a, b = world.towns
    a.parent_id, b.parent_id = b.id, a.id
    session.flush()
    assert outcome(staff(world.companies[0], "manager"), world.committees[0], {"manager"}, session) == 404
