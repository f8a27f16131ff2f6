"""rural-rental's retention (three years, README "Your data"): stays after the departure (or the
tenancy's end), decided requests, tenancies over, and houses no longer let go; what is inside
its period, pending, or still let stays. One ``enforce_retention`` pass frees a house."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.privacy.retention import enforce_retention, schedule
from scenarios.rural_rental.models import RrHouse, RrInspection, RrRoom, RrStay, RrTenancy, RrViolation
from tests.scenarios.rural_rental.world import build

pytestmark = pytest.mark.usefixtures("ctx")

NOW = datetime(2030, 6, 1, 4, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=3 * 365) - timedelta(days=2)
RECENT = NOW - timedelta(days=3 * 365) + timedelta(days=2)


def _house(session, w, number: int, *, created_at: datetime) -> RrHouse:
    landlord = w.accounts["landlord"]
    house = RrHouse(village_id=w.world.village.id, house_number=number, landlord_account_id=landlord.id,
                    landlord_person_id=landlord.person_id, address=f"{number}号", lat=30.8, lon=121.3,
                    state="approved", created_at=created_at)
    session.add(house)
    session.flush()
    room = RrRoom(house_id=house.id, label="A", area_m2=12, rent_fen=80000, occupancy_limit=2)
    session.add(room)
    session.flush()
    return house


def _tenancy(session, house: RrHouse, *, ends_on: date, state: str = "ended") -> RrTenancy:
    room_id = session.scalar(sa.select(RrRoom.id).where(RrRoom.house_id == house.id))
    tenancy = RrTenancy(room_id=room_id, house_id=house.id, village_id=house.village_id, tenant_person_ids=[],
                        persons=1, starts_on=ends_on - timedelta(days=180), ends_on=ends_on, state=state,
                        created_at=OLD - timedelta(days=200))
    session.add(tenancy)
    session.flush()
    return tenancy


@pytest.fixture
def lettings(app, session, clock):
    clock.set(NOW)
    w = build(session)
    tenant = w.accounts["tenant1"].person_id
    gone = _house(session, w, 101, created_at=OLD)  # let once, long ago: everything goes
    t_gone = _tenancy(session, gone, ends_on=OLD.date())
    session.add(RrStay(tenancy_id=t_gone.id, person_id=tenant, arrived_at=OLD - timedelta(days=100), left_at=OLD,
                       via="landlord"))
    unchecked = _house(session, w, 102, created_at=OLD)  # nobody recorded the departure; the tenancy ended
    t_unchecked = _tenancy(session, unchecked, ends_on=OLD.date())
    session.add(RrStay(tenancy_id=t_unchecked.id, person_id=tenant, arrived_at=OLD - timedelta(days=100),
                       via="landlord"))
    recent = _house(session, w, 103, created_at=OLD)  # the tenant left within three years: all stays
    t_recent = _tenancy(session, recent, ends_on=RECENT.date())
    session.add(RrStay(tenancy_id=t_recent.id, person_id=tenant, arrived_at=OLD, left_at=RECENT, via="landlord"))
    inspected = _house(session, w, 104, created_at=OLD)  # never let, but inspected lately: still registered
    session.add(RrInspection(house_id=inspected.id, committee_org_id=w.orgs["committee_a"].id,
                             inspector_account_id=w.accounts["committee_a"].id, passed=True, next_on=NOW.date(),
                             inspected_at=RECENT))
    violated = _house(session, w, 105, created_at=OLD)  # an open violation holds it
    session.add(RrViolation(house_id=violated.id, village_id=violated.village_id, kind="other", note="未整改",
                            found_on=OLD.date(), recorded_by_account_id=w.accounts["committee_a"].id,
                            recorded_at=OLD))
    _house(session, w, 106, created_at=RECENT)  # registered within three years
    session.commit()
    return w


def test_one_pass_deletes_exactly_what_is_past_three_years(lettings, session, clock):
    enforce_retention(session, clock)
    session.commit()
    houses = sorted(session.scalars(sa.select(RrHouse.house_number)))
    assert houses == [103, 104, 105, 106]
    assert [s.left_at for s in session.scalars(sa.select(RrStay))] == [RECENT]
    assert [t.ends_on for t in session.scalars(sa.select(RrTenancy))] == [RECENT.date()]
    enforce_retention(session, clock)  # again: nothing more
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(RrHouse)) == 4


def test_a_pending_tenancy_is_never_purged(lettings, session, clock):
    house = session.scalar(sa.select(RrHouse).where(RrHouse.house_number == 106))
    _tenancy(session, house, ends_on=OLD.date(), state="pending")
    session.commit()
    enforce_retention(session, clock)
    session.commit()
    assert session.scalar(sa.select(RrTenancy.state).where(RrTenancy.house_id == house.id)) == "pending"


def test_no_entry_is_left_undecided(app):
    entries = {k.table: k for k in schedule()}
    for table in ("rr_houses", "rr_stays", "rr_tenancies", "rr_rental_requests", "ap_applications"):
        assert entries[table].keep == timedelta(days=3 * 365), table
        assert "待定" not in entries[table].basis_zh and entries[table].purge is not None


def test_the_export_holds_the_tenancies_of_a_landlord_and_of_a_tenant_without_other_tenants(lettings, session, clock):
    from app.privacy.parts import PARTS, Subject

    part = PARTS["rural-rental"]
    for who, expected in (("landlord", 3), ("tenant1", 3), ("tenant2", 0)):
        account = lettings.accounts[who]
        rows = part.collect(session, Subject(account.person_id, (account.id,), clock))["rental_tenancies"]
        assert len(rows) == expected, who
        assert all("tenant_person_ids" not in r and r["persons"] == 1 for r in rows)
