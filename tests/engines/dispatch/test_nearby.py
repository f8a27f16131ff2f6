"""The search for the nearest available agents: Redis (GEOSEARCH) and the database rank the same;
Redis stopped in the middle of a run leaves the database answering; stale members are pruned;
the API keeps the geo set in step with duty, positions and jobs.

Each test starts its own ``redis-server`` on a free port (the shared one must not be stopped).
"""
from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from auth.models import Account
from scenarios.engines.dispatch.models import DispatchAgent
from scenarios.engines.dispatch.nearby import EXTENSION, GeoIndex, nearest, nearest_from_db, nearest_from_redis
from tests.engines.dispatch.scenario import CONFIG
from tests.support.factories import uid

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_server() -> Iterator[tuple[subprocess.Popen, str]]:
    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    index = GeoIndex(url)
    while True:
        try:
            index.client.ping()
            break
        except Exception:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield proc, url
    finally:
        proc.kill()
        proc.wait(10)


def scatter(dp, n: int, seed: int) -> list[DispatchAgent]:
    """``n`` agents within 5 km of the origin; some off duty, busy, stale or outside the district."""
    rng = random.Random(seed)
    now = dp.clock.now()
    company = dp.orgs["d1"]
    agents = []
    for i in range(n):
        lat, lon = dp.near(rng.uniform(-5000, 5000), rng.uniform(-5000, 5000))
        kind = rng.random()
        agent = DispatchAgent(scenario=CONFIG.slug, account_id=dp.accounts["d1"].id if i == 0 else None,
                              org_id=company.id, on_duty=kind > 0.1, job_id=999_000 + i if 0.1 < kind < 0.2 else None,
                              lat=lat, lon=lon, outside_area=0.2 < kind < 0.25,
                              position_at=now - timedelta(seconds=120 if 0.25 < kind < 0.3 else rng.uniform(0, 50)),
                              available_since=now, details={}, updated_at=now)
        agents.append(agent)
    return agents


def add_agents(dp, agents: list[DispatchAgent]) -> None:
    """Their staff accounts (no password: they never sign in), then the agents."""
    for agent in agents:
        if agent.account_id is None:
            account = Account(kind="staff", username=uid("agent"), password_hash="-", status="active")
            dp.session.add(account)
            dp.session.flush()
            agent.account_id = account.id
        dp.session.add(agent)
    dp.session.flush()


def index_all(index: GeoIndex, agents: list[DispatchAgent]) -> None:
    """Everything into Redis, even the unavailable: the database's word must still decide."""
    for a in agents:
        index.put(CONFIG.slug, a.id, a.lat, a.lon, a.position_at)


def test_redis_and_the_database_rank_the_same(dp, redis_server):
    _, url = redis_server
    agents = scatter(dp, 300, seed=7)
    add_agents(dp, agents)
    index = GeoIndex(url)
    index_all(index, agents)
    rng = random.Random(11)
    now = dp.clock.now()
    compared = 0
    for _ in range(40):
        lat, lon = dp.near(rng.uniform(-3000, 3000), rng.uniform(-3000, 3000))
        for radius, limit in ((3000, 5), (1500, 20), (6000, 3)):
            from_db = nearest_from_db(dp.session, CONFIG, lat=lat, lon=lon, radius_m=radius, limit=limit, now=now)
            from_redis = nearest_from_redis(dp.session, index, CONFIG, lat=lat, lon=lon, radius_m=radius,
                                            limit=limit, now=now)
            assert from_redis == from_db
            compared += len(from_db)
    assert compared > 300  # the searches found agents (an empty world would compare equal too)
    # The unavailable were in Redis but never answered.
    unavailable = {a.id for a in agents if not a.on_duty or a.job_id or a.outside_area
                   or a.position_at < now - CONFIG.position_max_age}
    assert unavailable
    found = nearest_from_redis(dp.session, index, CONFIG, lat=dp.origin[0], lon=dp.origin[1], radius_m=10_000,
                               limit=300, now=now)
    assert not {c.agent_id for c in found} & unavailable
    assert [c.distance_m for c in found] == sorted(c.distance_m for c in found)


def test_stale_members_are_pruned_from_the_geo_set(dp, redis_server):
    _, url = redis_server
    agents = scatter(dp, 40, seed=3)
    add_agents(dp, agents)
    index = GeoIndex(url)
    index_all(index, agents)
    now = dp.clock.now()
    nearest_from_redis(dp.session, index, CONFIG, lat=dp.origin[0], lon=dp.origin[1], radius_m=3000, limit=5, now=now)
    geo, seen = index.keys(CONFIG.slug)
    members = {int(m) for m in index.client.zrange(geo, 0, -1)}
    stale = {a.id for a in agents if a.position_at < now - CONFIG.position_max_age}
    assert stale and not members & stale
    assert members == {a.id for a in agents} - stale
    assert index.client.zcard(seen) == len(members)


def test_redis_stopped_mid_run_leaves_the_database_answering(dp, redis_server, caplog):
    proc, url = redis_server
    agents = scatter(dp, 200, seed=5)
    add_agents(dp, agents)
    index = GeoIndex(url)
    index_all(index, agents)
    now = dp.clock.now()
    rng = random.Random(2)
    points = [dp.near(rng.uniform(-2000, 2000), rng.uniform(-2000, 2000)) for _ in range(20)]
    expected = [nearest_from_db(dp.session, CONFIG, lat=lat, lon=lon, radius_m=3000, limit=5, now=now)
                for lat, lon in points]
    caplog.set_level("WARNING", logger="scenarios.engines.dispatch")
    answers = []
    for n, (lat, lon) in enumerate(points):
        if n == 10:
            proc.kill()
            proc.wait(10)
        answers.append(nearest(dp.session, CONFIG, lat=lat, lon=lon, radius_m=3000, limit=5, now=now, index=index))
    assert answers == expected
    assert not index.available  # the process leaves Redis alone for a while
    warnings = [r.getMessage() for r in caplog.records if r.name == "scenarios.engines.dispatch"]
    assert len(warnings) == 1 and "Redis search failed" in warnings[0]
    assert not any(f"{lat:.3f}" in w for w in warnings for lat, _ in points)  # no positions in the log


def test_the_api_keeps_the_geo_set_in_step(dp, redis_server, app):
    _, url = redis_server
    index = GeoIndex(url)
    previous = app.extensions.get(EXTENSION)
    app.extensions[EXTENSION] = index
    geo, _ = index.keys(CONFIG.slug)

    def members() -> set[str]:
        return {m.decode() for m in index.client.zrange(geo, 0, -1)}

    try:
        dp.on_duty("d1", 100)
        dp.on_duty("d2", 200)
        dp.on_duty("d3", None)  # on duty without a position yet: not in the set
        ids = {n: str(dp.session.query(DispatchAgent.id).filter_by(account_id=dp.accounts[n].id).scalar())
               for n in ("d1", "d2", "d3")}
        assert members() == {ids["d1"], ids["d2"]}
        job = dp.request()["id"]
        dp.act("d1", job, "accept")
        assert members() == {ids["d2"]}  # serving: out
        dp.call("PUT", "d2", "/agents/me/position", {"lat": 30.60, "lon": 122.5})  # left Jinshan: out
        assert members() == set()
        dp.move("d2", 200)
        dp.act("d1", job, "arrived")
        dp.act("d1", job, "resolve", {"outcome": "好"})
        assert members() == {ids["d1"], ids["d2"]}  # free again, at the last position
        dp.call("PUT", "d2", "/agents/me/duty", {"on_duty": False})
        assert members() == {ids["d1"]}
    finally:
        app.extensions[EXTENSION] = previous


def test_stale_members_nearest_of_all_do_not_shorten_the_answer(dp, redis_server):
    """The stale members are read in the search's round trip: when they were the nearest, the
    search is asked again after pruning, so the answer still has ``count`` fresh members."""
    _, url = redis_server
    now = dp.clock.now()
    company = dp.orgs["d1"]

    def agent(north_m: float, age_s: float) -> DispatchAgent:
        lat, lon = dp.near(north_m, 0)
        return DispatchAgent(scenario=CONFIG.slug, account_id=None, org_id=company.id, on_duty=True, lat=lat, lon=lon,
                             outside_area=False, position_at=now - timedelta(seconds=age_s), available_since=now,
                             details={}, updated_at=now)

    stale = [agent(10 + i, 600) for i in range(6)]
    fresh = [agent(500 + 100 * i, 5) for i in range(8)]
    add_agents(dp, stale + fresh)
    index = GeoIndex(url)
    index_all(index, stale + fresh)
    found = index.search(CONFIG.slug, dp.origin[0], dp.origin[1], 3000, 5, now - CONFIG.position_max_age)
    assert [member for member, _ in found] == [a.id for a in fresh[:5]]


def test_restricted_to_one_organisation_both_paths_agree(dp, redis_server):
    """``org_id`` (elderly-sos's visits: the person's committee): only that organisation's agents,
    even when another's are nearer, and Redis and the database still rank the same."""
    _, url = redis_server
    agents = scatter(dp, 120, seed=5)
    other = dp.orgs["e1"]
    for agent in agents[::2]:
        agent.org_id = other.id
    add_agents(dp, agents)
    index = GeoIndex(url)
    index_all(index, agents)
    now = dp.clock.now()
    mine = {a.id for a in agents if a.org_id == dp.orgs["d1"].id}
    for radius, limit in ((3000, 5), (6000, 40)):
        from_db = nearest_from_db(dp.session, CONFIG, lat=dp.origin[0], lon=dp.origin[1], radius_m=radius,
                                  limit=limit, now=now, org_id=dp.orgs["d1"].id)
        from_redis = nearest_from_redis(dp.session, index, CONFIG, lat=dp.origin[0], lon=dp.origin[1],
                                        radius_m=radius, limit=limit, now=now, org_id=dp.orgs["d1"].id)
        assert from_db and from_redis == from_db and {c.agent_id for c in from_db} <= mine
        everyone = nearest_from_db(dp.session, CONFIG, lat=dp.origin[0], lon=dp.origin[1], radius_m=radius,
                                   limit=limit, now=now)
        assert {c.agent_id for c in everyone} - mine  # the other company's were nearer: the filter did work


def test_agents_holding_an_offer_are_skipped_until_it_expires(dp, redis_server):
    """The held set (one pending offer at a time): the search passes over held members, still
    answers ``count`` of the others nearest first, and forgets a hold once its expiry is past."""
    _, url = redis_server
    now = dp.clock.now()
    company = dp.orgs["d1"]
    line = []
    for i in range(10):
        lat, lon = dp.near(100 + 100 * i, 0)
        line.append(DispatchAgent(scenario=CONFIG.slug, account_id=None, org_id=company.id, on_duty=True, lat=lat,
                                  lon=lon, outside_area=False, position_at=now, available_since=now, details={},
                                  updated_at=now))
    add_agents(dp, line)
    index = GeoIndex(url)
    index_all(index, line)
    stale_before = now - CONFIG.position_max_age
    index.hold(CONFIG.slug, {a.id: now + timedelta(seconds=20) for a in line[:6]})
    found = index.search(CONFIG.slug, dp.origin[0], dp.origin[1], 3000, 3, stale_before, now)
    assert [member for member, _ in found] == [a.id for a in line[6:9]]
    found = index.search(CONFIG.slug, dp.origin[0], dp.origin[1], 3000, 8, stale_before, now)
    assert [member for member, _ in found] == [a.id for a in line[6:]]  # the radius ran out first
    later = now + timedelta(seconds=20)  # the holds' expiry: an offer expiring now is no longer pending
    found = index.search(CONFIG.slug, dp.origin[0], dp.origin[1], 3000, 3, stale_before, later)
    assert [member for member, _ in found] == [a.id for a in line[:3]]
    assert index.client.zcard(index.held_key(CONFIG.slug)) == 0


def test_the_api_holds_offered_agents_and_releases_them_when_answered(dp, redis_server, app):
    """A round holds the agents it offered; declining, another's acceptance, the winner's own
    acceptance and the requester's cancelling release them, and after each step Redis and the
    database still agree on who may be offered a new job."""
    _, url = redis_server
    index = GeoIndex(url)
    previous = app.extensions.get(EXTENSION)
    app.extensions[EXTENSION] = index
    held_key = index.held_key(CONFIG.slug)

    def held() -> dict[str, float]:
        return {m.decode(): s for m, s in index.client.zrange(held_key, 0, -1, withscores=True)}

    def paths_agree() -> list[int]:
        dp.session.expire_all()
        now = dp.clock.now()
        from_db = nearest_from_db(dp.session, CONFIG, lat=dp.origin[0], lon=dp.origin[1], radius_m=3000, limit=5,
                                  now=now)
        from_redis = nearest_from_redis(dp.session, index, CONFIG, lat=dp.origin[0], lon=dp.origin[1],
                                        radius_m=3000, limit=5, now=now)
        assert from_redis == from_db
        return [c.agent_id for c in from_db]

    try:
        for n, name in enumerate(("d1", "d2", "d3", "d4")):
            dp.on_duty(name, 100 * (n + 1))
        ids = {n: dp.session.query(DispatchAgent.id).filter_by(account_id=dp.accounts[n].id).scalar()
               for n in ("d1", "d2", "d3", "d4")}
        first = dp.request()
        expires = dp.clock.now() + CONFIG.offer_timeout
        assert held() == {str(ids["d1"]): expires.timestamp(), str(ids["d2"]): expires.timestamp()}
        assert paths_agree() == [ids["d3"], ids["d4"]]
        dp.act("d1", first["id"], "decline")
        assert set(held()) == {str(ids["d2"])}
        assert paths_agree() == [ids["d1"], ids["d3"], ids["d4"]]
        second = dp.request("alice2")  # d1 and d3, the nearest not holding an offer
        assert set(held()) == {str(ids["d2"]), str(ids["d1"]), str(ids["d3"])}
        dp.act("d1", second["id"], "accept")  # d3's offer of it is withdrawn; d1 is serving
        assert set(held()) == {str(ids["d2"])}
        assert paths_agree() == [ids["d3"], ids["d4"]]
        dp.act("alice", first["id"], "cancel", {"reason": "不用了"})
        assert held() == {}
        assert paths_agree() == [ids["d2"], ids["d3"], ids["d4"]]
    finally:
        app.extensions[EXTENSION] = previous


def test_standing_down_releases_the_agents_holds(dp, redis_server, app):
    """A member disabled while holding an offer (``stand_down``) is out of the held set too, so
    going back on duty within the offer's time does not hide them from Redis searches."""
    from scenarios.engines.dispatch.agents import stand_down

    _, url = redis_server
    index = GeoIndex(url)
    previous = app.extensions.get(EXTENSION)
    app.extensions[EXTENSION] = index
    try:
        dp.on_duty("d1", 100)
        dp.request()
        agent_id = dp.session.query(DispatchAgent.id).filter_by(account_id=dp.accounts["d1"].id).scalar()
        assert index.client.zscore(index.held_key(CONFIG.slug), str(agent_id)) is not None
        stand_down(dp.session, account_id=dp.accounts["d1"].id, org_id=dp.orgs["d1"].id, now=dp.clock.now())
        assert index.client.zscore(index.held_key(CONFIG.slug), str(agent_id)) is None
    finally:
        app.extensions[EXTENSION] = previous
