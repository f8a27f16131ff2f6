"""The permission layer across two organisations of each kind: 404 when not visible, 403
when visible but not allowed."""
from __future__ import annotations

import pytest

from app.errors import ApiError
from auth.permissions import MAX_DEPTH, can_see, org_by_code, reach, require_org_role, require_role_in
from auth.principal import Principal
from tests.support.factories import make_org, place_world

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


def test_ancestors_are_followed_to_the_depth_bound_and_no_further(session, world):
    """A chain of organisations: the one ``MAX_DEPTH - 1`` levels above still reaches the
    bottom as an ancestor (the chain holds ``MAX_DEPTH`` organisations), the next one up does not."""
    chain = [world.district]
    for _ in range(MAX_DEPTH + 1):  # towns all the way: the top one is no district
        chain.append(make_org(session, "town", parent=chain[-1]))
    bottom = chain[-1]
    assert reach(staff(chain[-2], "admin"), bottom, session=session) == "ancestor"  # the parent
    assert reach(staff(chain[-MAX_DEPTH], "admin"), bottom, session=session) == "ancestor"
    assert reach(staff(chain[-MAX_DEPTH - 1], "admin"), bottom, session=session) is None


def test_a_supervisor_of_an_ancestor_reaches_below_it(session, world):
    """The supervisor link holds for an organisation's ancestors too (the bureau supervises a
    company, and so a branch under it), and for them only: not for a sibling's children."""
    branch = make_org(session, "property_company", parent=world.companies[0])
    other_bureau = make_org(session, "bureau", parent=world.district)
    assert reach(staff(world.bureau, "supervisor"), branch, session=session) == "supervisor"
    assert reach(staff(other_bureau, "supervisor"), branch, session=session) is None


def test_a_staff_principal_without_an_organisation_reaches_nothing(session, world):
    p = Principal("staff", account_id=1, org_id=None, org_code=None, org_type="district", role="admin")
    assert reach(p, world.companies[0], session=session) is None


def test_org_routes_find_active_organisations_by_code_only(session, world):
    """``/orgs/<code>/…``: an unknown or deactivated code is 404 (even for the district);
    a visible one without the role is 403; with it, the organisation itself."""
    company = world.companies[0]
    admin, manager = staff(world.district, "admin"), staff(company, "manager")
    assert org_by_code(session, company.code).id == company.id
    assert require_org_role(session, manager, company.code, {"manager"}).id == company.id
    with pytest.raises(ApiError) as forbidden:
        require_org_role(session, manager, company.code, {"admin"})
    assert forbidden.value.code == "forbidden"
    with pytest.raises(ApiError) as hidden:
        require_org_role(session, manager, world.companies[1].code, {"manager"})
    assert hidden.value.code == "not_found"
    with pytest.raises(ApiError) as via:
        require_org_role(session, admin, company.code, {"admin"}, via={"member"})
    assert via.value.code == "forbidden"
    company.active = False
    session.flush()
    for code in (company.code, "no-such-org"):
        with pytest.raises(ApiError) as gone:
            org_by_code(session, code)
        assert gone.value.code == "not_found"
        with pytest.raises(ApiError) as gone:
            require_org_role(session, admin, code, {"admin"})
        assert gone.value.code == "not_found"


def test_a_detached_organisation_is_checked_through_the_session_passed(session, world):
    """An organisation loaded elsewhere (a cache, another session): the ``session=`` passed is
    the one that walks its ancestors."""
    committee = world.committees[0]
    session.refresh(committee)
    session.expunge(committee)
    assert can_see(staff(world.towns[0], "admin"), committee, session=session)
    assert not can_see(staff(world.towns[1], "admin"), committee, session=session)
