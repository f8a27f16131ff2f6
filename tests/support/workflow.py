"""Fixtures (a pytest plugin, listed in ``tests/conftest.py``) and helpers of the workflow tests.

``wf`` builds a small world on top of ``tests.support.factories.place_world``: two property
companies (each with a manager and a technician) managing one community each, 区房管局 with
a supervisor, a district administrator, a housing office manager (fallback owner of an
unmanaged community), and residents with verified residences (alice in company A's
community, bob in company B's, carol nowhere). ``wf.token(name)`` gives a bearer header.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock
from app.notify.models import OutboxMessage
from app.places.models import Building, Community
from app.places.service import managing_organisation
from app.timers import Timer
from app.worker import Worker
from auth.models import Account, Membership, Person, Residence
from auth.principal import Principal
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.models import Ticket, TicketEvent
from tests.engines.workflow.scenario import BASE, CONFIG  # the engine's own test scenario
from tests.support.factories import bearer, make_resident, make_staff, place_world, token_for


@dataclass
class WF:
    session: Any
    clock: Any
    world: Any
    accounts: dict[str, Account] = field(default_factory=dict)
    orgs: dict[str, Any] = field(default_factory=dict)
    residences: dict[str, Residence] = field(default_factory=dict)
    _tokens: dict[str, tuple[Any, str]] = field(default_factory=dict)

    def token(self, name: str) -> dict[str, str]:
        """A bearer header, minted again when the test clock has moved (access tokens are short)."""
        now = self.clock.now()
        minted = self._tokens.get(name)
        if minted is None or not timedelta(0) <= now - minted[0] < timedelta(minutes=5):
            minted = (now, token_for(self.session, self.clock, self.accounts[name], self.orgs.get(name)))
            self.session.commit()
            self._tokens[name] = minted
        return bearer(minted[1])

    def id(self, name: str) -> int:
        return self.accounts[name].id


def add_residence(session, account: Account, community, *, building: str = "1", room: str = "302",
                  status: str = "verified", valid_from: date = date(2020, 1, 1),
                  valid_to: date | None = None) -> Residence:
    b = session.scalar(sa.select(Building).where(Building.community_id == community.id, Building.number == building))
    r = Residence(person_id=account.person_id, community_id=community.id, building_id=b.id, room=room,
                  valid_from=valid_from, valid_to=valid_to, status=status)
    session.add(r)
    session.flush()
    return r


def build_world(session, clock) -> WF:
    world = place_world(session)
    wf = WF(session=session, clock=clock, world=world)
    a, b = world.companies
    district = world.district
    staff = {
        "manager_a": (a, "manager"), "tech_a": (a, "technician"), "tech_a2": (a, "technician"),
        "manager_b": (b, "manager"), "tech_b": (b, "technician"),
        "supervisor": (world.bureau, "supervisor"), "bureau_staff": (world.bureau, "staff"),
        "admin": (district, "admin"), "housing_manager": (world.housing_office, "manager"),
    }
    for name, (org, role) in staff.items():
        wf.accounts[name] = make_staff(session, org, role)
        wf.orgs[name] = org
    for name in ("alice", "alice2", "bob", "carol"):
        wf.accounts[name] = make_resident(session, name=f"测试{name}", phone="13912345678")
    wf.residences["alice"] = add_residence(session, wf.accounts["alice"], world.community, room="302")
    wf.residences["alice2"] = add_residence(session, wf.accounts["alice2"], world.community, room="1201")
    wf.residences["bob"] = add_residence(session, wf.accounts["bob"], world.community2, room="101")
    session.commit()
    return wf


@pytest.fixture
def wf(app, session, clock) -> WF:
    return build_world(session, clock)


def report(client, wf: WF, who: str = "alice", *, category: str = "水电", text: str = "厨房水管漏水",
           expect: int = 201, headers: dict[str, str] | None = None, base: str = BASE, **extra: Any) -> dict[str, Any]:
    resp = client.post(f"{base}/tickets", json={"category": category, "text": text, **extra},
                       headers={**wf.token(who), **(headers or {})})
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def act(client, wf: WF, who: str, ticket_id: int, action: str, body: dict[str, Any] | None = None, *,
        expect: int = 200, headers: dict[str, str] | None = None, base: str = BASE) -> dict[str, Any]:
    resp = client.post(f"{base}/tickets/{ticket_id}/{action}", json=body or {},
                       headers={**wf.token(who), **(headers or {})})
    assert resp.status_code == expect, (action, resp.get_json())
    return resp.get_json()


def get(client, wf: WF, who: str, path: str, *, expect: int = 200, base: str = BASE, **params: Any) -> dict[str, Any]:
    resp = client.get(path if path.startswith("/") else f"{base}/{path}", headers=wf.token(who),
                      query_string=params)
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def outbox(session, ticket_id: int, template: str | None = None) -> list[tuple[str, str, str]]:
    """(template, recipient kind, recipient id) of the ticket's notifications, in order."""
    session.expire_all()
    stmt = sa.select(OutboxMessage).where(OutboxMessage.event_key.like(f"wf:{ticket_id}:%"))
    if template:
        stmt = stmt.where(OutboxMessage.template == template)
    return [(m.template, m.recipient_kind, m.recipient_id) for m in session.scalars(stmt.order_by(OutboxMessage.id))]


def events(session, ticket_id: int, action: str | None = None) -> list[TicketEvent]:
    session.expire_all()
    stmt = sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if action:
        stmt = stmt.where(TicketEvent.action == action)
    return list(session.scalars(stmt.order_by(TicketEvent.id)))


def ticket_row(session, ticket_id: int) -> Ticket:
    session.expire_all()
    return session.get(Ticket, ticket_id)


def timers_of(session, ticket_id: int) -> dict[tuple[str, int], tuple[str, Any]]:
    session.expire_all()
    rows = session.scalars(sa.select(Timer).where(Timer.subject_type == "wf_ticket",
                                                  Timer.subject_id == str(ticket_id)))
    return {(t.kind, t.level): (t.state, t.due_at) for t in rows}


@dataclass
class CommittedWorld:
    manager: Principal
    resident: Principal
    community_code: str


def build_committed(db, *, on: date) -> CommittedWorld:
    """A manager and a resident on the reference places (committed tests must add no reference rows)."""
    with db.transaction() as s:
        community = s.scalar(sa.select(Community).order_by(Community.code).limit(1))
        company = managing_organisation(s, community, on)
        manager = Account(kind="staff", username=f"race-{uuid.uuid4().hex[:10]}", password_hash="-", status="active")
        person = Person(real_name_level="none")
        s.add_all([manager, person])
        s.flush()
        s.add(Membership(account_id=manager.id, organisation_id=company.id, role="manager", status="active"))
        resident = Account(kind="dev", openid=f"race-{uuid.uuid4().hex[:10]}", person_id=person.id, status="active")
        s.add(resident)
        building = s.scalar(sa.select(Building).where(Building.community_id == community.id).limit(1))
        s.flush()
        s.add(Residence(person_id=person.id, community_id=community.id, building_id=building.id, room="101",
                        valid_from=date(2020, 1, 1), status="verified"))
        return CommittedWorld(
            Principal("staff", account_id=manager.id, org_id=company.id, org_code=company.code,
                      org_type=company.type, role="manager"),
            Principal("resident", account_id=resident.id, person_id=person.id),
            community.code)


def file_tickets(db, world: CommittedWorld, n: int, created_at: datetime) -> list[int]:
    """``n`` tickets filed at ``created_at`` (committed); their new-ticket notifications set aside."""
    clock = FrozenClock(created_at)
    with db.transaction() as s:
        ids = [svc.create(s, clock=clock, principal=world.resident, config=CONFIG, data={
            "category": "水电", "text": f"漏水 {i}", "community_code": world.community_code}).ticket.id
            for i in range(n)]
        # The new-ticket notifications are not what these tests are about: out of the way.
        s.execute(sa.update(Timer).where(Timer.kind == "notify.deliver").values(state="fired"))
    return ids


def run_worker(db, clock) -> int:
    return Worker(db, clock, worker_id="wf-test", periodic_jobs={}).run_once()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
