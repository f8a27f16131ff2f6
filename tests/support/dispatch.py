"""Fixtures (a pytest plugin, listed in ``tests/conftest.py``) and helpers of the dispatch tests.

``dp`` builds a small world on ``tests.support.factories.place_world``: alice lives (verified)
in ``world.community`` (the origin of her requests, at 30.74 N 121.34 E), carol nowhere; taxi
company A has drivers ``d1``…``d5`` and a manager, company B a driver ``e1`` and a manager; the
district has an administrator. ``dp.near(north_m, east_m)`` is a point that far from the origin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from app.clock import FrozenClock
from app.geo import EARTH_RADIUS_M
from app.worker import Worker
from auth.contacts import StaffContact
from auth.models import Account
from tests.engines.dispatch.scenario import BASE
from tests.support.factories import bearer, make_org, make_resident, make_staff, place_world, token_for
from tests.support.workflow import add_residence

DRIVERS_A = ("d1", "d2", "d3", "d4", "d5")


@dataclass
class DP:
    session: Any
    db: Any
    clock: FrozenClock
    client: Any
    world: Any
    origin: tuple[float, float]
    accounts: dict[str, Account] = field(default_factory=dict)
    orgs: dict[str, Any] = field(default_factory=dict)
    _tokens: dict[str, tuple[Any, str]] = field(default_factory=dict)
    base: str = BASE
    noun: str = "jobs"

    def token(self, name: str) -> dict[str, str]:
        now = self.clock.now()
        minted = self._tokens.get(name)
        if minted is None or not timedelta(0) <= now - minted[0] < timedelta(minutes=5):
            minted = (now, token_for(self.session, self.clock, self.accounts[name], self.orgs.get(name)))
            self.session.commit()
            self._tokens[name] = minted
        return bearer(minted[1])

    def near(self, north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
        lat, lon = self.origin
        dlat = math.degrees(north_m / EARTH_RADIUS_M)
        dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
        return lat + dlat, lon + dlon

    def call(self, method: str, who: str, path: str, body: dict[str, Any] | None = None, *, expect: int = 200,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": {**self.token(who), **(headers or {})}}
        if method in ("POST", "PUT"):
            kwargs["json"] = body or {}
        resp = self.client.open(f"{self.base}{path}", method=method, **kwargs)
        assert resp.status_code == expect, (method, path, who, resp.status_code, resp.get_json())
        return resp.get_json()

    def on_duty(self, who: str, north_m: float | None = 0.0, east_m: float = 0.0) -> None:
        self.call("PUT", who, "/agents/me/duty", {"on_duty": True})
        if north_m is not None:
            self.move(who, north_m, east_m)

    def move(self, who: str, north_m: float, east_m: float = 0.0, *, expect: int = 200, **extra: Any) -> dict:
        lat, lon = self.near(north_m, east_m)
        return self.call("PUT", who, "/agents/me/position", {"lat": lat, "lon": lon, **extra}, expect=expect)

    def request(self, who: str = "alice", expect: int = 201, **body: Any) -> dict[str, Any]:
        return self.call("POST", who, f"/{self.noun}", body, expect=expect)

    def act(self, who: str, job_id: int, action: str, body: dict[str, Any] | None = None, *,
            expect: int = 200) -> dict[str, Any]:
        return self.call("POST", who, f"/{self.noun}/{job_id}/{action}", body, expect=expect)

    def job(self, who: str, job_id: int, expect: int = 200) -> dict[str, Any]:
        return self.call("GET", who, f"/{self.noun}/{job_id}", expect=expect)

    def offers(self, who: str) -> list[int]:
        return [o["job_id"] for o in self.call("GET", who, "/agents/me/offers")["items"]]

    def tick(self, seconds: float = 0.0) -> int:
        """Move the clock on and run one worker pass (committed in the test's transaction)."""
        self.clock.advance(seconds=seconds)
        return Worker(self.db, self.clock, worker_id="dp-test", periodic_jobs={}).run_once()


def build(db, session, clock, client) -> DP:
    world = place_world(session)
    dp = DP(session=session, db=db, clock=clock, client=client, world=world,
            origin=(world.community.lat, world.community.lon))
    company_a = make_org(session, "taxi_company", name="金山出租A")
    company_b = make_org(session, "taxi_company", name="金山出租B")
    for i, name in enumerate(DRIVERS_A):
        dp.accounts[name] = make_staff(session, company_a, "driver")
        dp.orgs[name] = company_a
        session.add(StaffContact(account_id=dp.accounts[name].id, display_name=f"王师傅{i}",
                                 updated_at=clock.now()))
    for name, org, role in (("e1", company_b, "driver"), ("manager_a", company_a, "manager"),
                            ("manager_b", company_b, "manager"), ("admin", world.district, "admin"),
                            ("pc_manager", world.companies[0], "manager")):
        dp.accounts[name] = make_staff(session, org, role)
        dp.orgs[name] = org
    dp.accounts["alice"] = make_resident(session, name="李小花", phone="13912345678")
    add_residence(session, dp.accounts["alice"], world.community)
    dp.accounts["alice2"] = make_resident(session, name="周大")
    add_residence(session, dp.accounts["alice2"], world.community, room="1201")
    dp.accounts["carol"] = make_resident(session, name="陈某")
    session.commit()
    return dp


@pytest.fixture
def dp(ctx, db, session, clock, client, reset_rate_limits) -> DP:
    clock.set(clock.now().replace(year=2026, month=3, day=2, hour=2, minute=0, second=0, microsecond=0))
    return build(db, session, clock, client)
