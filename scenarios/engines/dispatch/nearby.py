"""The nearest available agents: Redis GEOSEARCH when ``REDIS_URL`` is set, else the database.

The database is the source of truth; Redis is an index of it. Each scenario has a geo set
(``dispatch:<slug>:geo``) of the agents that may take a job (on duty, free, inside the
district), a sorted set of when each was last seen (``dispatch:<slug>:seen``) and, for
scenarios whose agents hold one offer at a time, a sorted set of the agents holding a pending
offer, scored by its expiry (``dispatch:<slug>:held``; written when a round makes offers,
removed when an offer is answered or withdrawn, and an entry past its expiry counts for
nothing). A search is one script (``SEARCH_SCRIPT``, one round trip): it prunes the members
not seen within the scenario's ``position_max_age`` and the expired holds, then asks
``GEOSEARCH … BYRADIUS r m ASC COUNT n WITHDIST`` (never ``ANY``, which would return some n
within the radius rather than the nearest n), skipping held members and asking for more until
it has n or the radius is exhausted. Without the holds, a busy hour (most drivers near a
pick-up point holding someone's offer) made every search walk the whole radius through the
database. The candidates are then checked against the database (on duty, free, fresh, inside,
no pending offer, not offered this job before) and measured from the database's position with
the same haversine the database path uses, so both paths rank the same
(``tests/engines/dispatch/test_nearby.py``). A hold written by a round whose transaction then
rolls back hides that agent from Redis searches until the offer would have expired; the
database path is unaffected.

Without Redis, or when Redis fails mid-run (the failure is logged, without positions, and
Redis is left alone for ``RETRY_AFTER`` seconds in this process), the database answers: a
bounding box on the on-duty index, then the exact distance in Python, nearest first (ties by
agent id). Agents of scenarios without positions (call-centre operators) are offered by
availability alone: longest available first.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import bounding_box, haversine_m
from scenarios.engines.dispatch.config import DispatchConfig
from scenarios.engines.dispatch.models import DispatchAgent, DispatchOffer

log = logging.getLogger("scenarios.engines.dispatch")

EXTENSION = "dispatch_geo"
RETRY_AFTER = 5.0
RADIUS_SLACK = 1.001
"""Redis measures with its own earth radius: ask a hair wider, then cut with ours."""

SEARCH_SCRIPT = """
-- KEYS: geo, seen, held. ARGV: lon, lat, radius (m), count, stale before, now (epoch seconds).
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
for i = 1, #stale, 1000 do
  local chunk = {unpack(stale, i, math.min(i + 999, #stale))}
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('ZREM', KEYS[2], unpack(chunk))
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
local want = tonumber(ARGV[4])
local asked = want
while true do
  local found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm',
                           'ASC', 'COUNT', asked, 'WITHDIST')
  local free = {}
  for _, member in ipairs(found) do
    if not redis.call('ZSCORE', KEYS[3], member[1]) then
      free[#free + 1] = member
      if #free == want then return free end
    end
  end
  if #found < asked then return free end
  asked = asked * 4
end
"""
"""The search (module docstring): pruning, then the nearest ``count`` members not held, in one call."""


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    distance_m: float | None
    account_id: int | None = None  # read with the agent: offering tells the account, no second query


class GeoIndex:
    """The Redis side: one client per app; ``available`` is False while Redis is failing."""

    def __init__(self, url: str) -> None:
        import redis

        self.errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.down_until = 0.0
        self._search = self.client.register_script(SEARCH_SCRIPT)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, what: str, exc: BaseException) -> None:
        self.down_until = time.monotonic() + RETRY_AFTER
        log.warning("dispatch geo index: Redis %s failed (%s); the database answers for %.0f s",
                    what, type(exc).__name__, RETRY_AFTER)

    @staticmethod
    def keys(scenario: str) -> tuple[str, str]:
        return f"dispatch:{scenario}:geo", f"dispatch:{scenario}:seen"

    @staticmethod
    def held_key(scenario: str) -> str:
        return f"dispatch:{scenario}:held"

    def put(self, scenario: str, agent_id: int, lat: float, lon: float, seen: datetime) -> None:
        if not self.available:
            return
        geo, seen_key = self.keys(scenario)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.geoadd(geo, (lon, lat, str(agent_id)))
            pipe.zadd(seen_key, {str(agent_id): seen.timestamp()})
            pipe.execute()
        except self.errors as exc:
            self.failed("write", exc)

    def drop(self, scenario: str, agent_id: int) -> None:
        if not self.available:
            return
        geo, seen_key = self.keys(scenario)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.zrem(geo, str(agent_id))
            pipe.zrem(seen_key, str(agent_id))
            pipe.execute()
        except self.errors as exc:
            self.failed("write", exc)

    def hold(self, scenario: str, until: dict[int, datetime]) -> None:
        """These agents hold a pending offer until the given times: searches skip them meanwhile."""
        if not self.available or not until:
            return
        try:
            self.client.zadd(self.held_key(scenario), {str(a): at.timestamp() for a, at in until.items()}, gt=True)
        except self.errors as exc:
            self.failed("write", exc)

    def release(self, scenario: str, agent_ids: list[int]) -> None:
        """Their offers were answered or withdrawn: searchable again."""
        if not self.available or not agent_ids:
            return
        try:
            self.client.zrem(self.held_key(scenario), *map(str, agent_ids))
        except self.errors as exc:
            self.failed("write", exc)

    def search(self, scenario: str, lat: float, lon: float, radius_m: float, count: int,
               stale_before: datetime, now: datetime | None = None) -> list[tuple[int, float]] | None:
        """Up to ``count`` members not holding an offer at ``now``, nearest first, stale ones
        pruned first (one round trip: ``SEARCH_SCRIPT``); None when Redis fails."""
        if not self.available:
            return None
        geo, seen_key = self.keys(scenario)
        now_s = (now or datetime.now(UTC)).timestamp()
        try:
            found = self._search(keys=[geo, seen_key, self.held_key(scenario)],
                                 args=[repr(lon), repr(lat), repr(radius_m * RADIUS_SLACK + 1), count,
                                       repr(stale_before.timestamp()), repr(now_s)])
        except self.errors as exc:
            self.failed("search", exc)
            return None
        return [(int(member), float(dist)) for member, dist in found]

    def clear(self, scenario: str) -> None:
        self.client.delete(*self.keys(scenario), self.held_key(scenario))


def setup(app: Any) -> None:
    """The engine's ``setup``: the app's geo index when ``REDIS_URL`` is set and ``DISPATCH_GEO``
    is ``redis`` (the default; ``db`` under ``APP_ENV=test``, where parallel test databases would
    share one Redis: the tests that mean Redis start their own)."""
    settings = app.extensions["settings"]
    url = settings.redis_url
    default = "db" if getattr(settings, "app_env", "") == "test" else "redis"
    use = (settings.get("DISPATCH_GEO", default) or default).strip().lower()
    app.extensions[EXTENSION] = GeoIndex(url) if url and use != "db" else None


def geo_index() -> GeoIndex | None:
    from flask import current_app, has_app_context

    return current_app.extensions.get(EXTENSION) if has_app_context() else None


# ---------------------------------------------------------------- the search


def _available(config: DispatchConfig, now: datetime, job_id: int | None, org_id: int | None = None) -> list[Any]:
    """Conditions of an agent that may be offered ``job_id`` now (``org_id``: acting for it only)."""
    conds: list[Any] = [DispatchAgent.scenario == config.slug, DispatchAgent.on_duty.is_(True),
                        DispatchAgent.job_id.is_(None)]
    if org_id is not None:
        conds.append(DispatchAgent.org_id == org_id)
    if not config.keep_offers:  # one open offer at a time; a call centre's operators hold many
        pending = sa.select(DispatchOffer.id).where(DispatchOffer.agent_id == DispatchAgent.id,
                                                    DispatchOffer.state == "pending", DispatchOffer.expires_at > now)
        conds.append(~pending.exists())
    if job_id is not None:
        offered = sa.select(DispatchOffer.id).where(DispatchOffer.agent_id == DispatchAgent.id,
                                                    DispatchOffer.job_id == job_id)
        conds.append(~offered.exists())
    if config.positions:
        conds += [DispatchAgent.outside_area.is_(False), DispatchAgent.lat.is_not(None),
                  DispatchAgent.position_at >= now - config.position_max_age]
    return conds


def _ranked(rows: list[Any], lat: float, lon: float, radius_m: float, limit: int) -> list[Candidate]:
    measured = [(haversine_m(lat, lon, r.lat, r.lon), r.id, r.account_id) for r in rows]
    measured = sorted(m for m in measured if m[0] <= radius_m)
    return [Candidate(i, d, a) for d, i, a in measured[:limit]]


def nearest_from_db(session: Session, config: DispatchConfig, *, lat: float, lon: float, radius_m: float,
                    limit: int, now: datetime, job_id: int | None = None,
                    org_id: int | None = None) -> list[Candidate]:
    """The database path: a bounding box on the on-duty index, then the exact distance."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    rows = session.execute(
        sa.select(DispatchAgent.id, DispatchAgent.lat, DispatchAgent.lon, DispatchAgent.account_id)
        .where(*_available(config, now, job_id, org_id), DispatchAgent.lat.between(min_lat, max_lat),
               DispatchAgent.lon.between(min_lon, max_lon))).all()
    return _ranked(rows, lat, lon, radius_m, limit)


def nearest_from_redis(session: Session, index: GeoIndex, config: DispatchConfig, *, lat: float, lon: float,
                       radius_m: float, limit: int, now: datetime,
                       job_id: int | None = None, org_id: int | None = None) -> list[Candidate] | None:
    """The Redis path (None when Redis fails): GEOSEARCH, then the database's word on each."""
    count = limit * 2 + 8
    while True:
        found = index.search(config.slug, lat, lon, radius_m, count, now - config.position_max_age, now)
        if found is None:
            return None
        ids = [agent_id for agent_id, _ in found]
        conds = _available(config, now, job_id, org_id)
        rows = session.execute(sa.select(DispatchAgent.id, DispatchAgent.lat, DispatchAgent.lon,
                                         DispatchAgent.account_id)
                               .where(DispatchAgent.id.in_(ids), *conds)).all() if ids else []
        ranked = _ranked(rows, lat, lon, radius_m, limit)
        if len(ranked) >= limit or len(found) < count:
            return ranked
        count *= 4  # too many of the nearest were taken: look further down the list


def by_availability(session: Session, config: DispatchConfig, *, limit: int, now: datetime,
                    job_id: int | None = None, org_id: int | None = None) -> list[Candidate]:
    """Agents without positions: longest available first."""
    rows = session.execute(sa.select(DispatchAgent.id, DispatchAgent.account_id)
                           .where(*_available(config, now, job_id, org_id))
                           .order_by(DispatchAgent.available_since, DispatchAgent.id).limit(limit)).all()
    return [Candidate(i, None, a) for i, a in rows]


def nearest(session: Session, config: DispatchConfig, *, lat: float, lon: float, radius_m: float, limit: int,
            now: datetime, job_id: int | None = None, index: GeoIndex | bool | None = True,
            org_id: int | None = None) -> list[Candidate]:
    """The ``limit`` nearest available agents within ``radius_m`` (``index``: True for the app's,
    None for the database alone; ``org_id``: only agents acting for that organisation)."""
    if limit <= 0:
        return []
    if not config.positions:
        return by_availability(session, config, limit=limit, now=now, job_id=job_id, org_id=org_id)
    if index is True:
        index = geo_index()
    if isinstance(index, GeoIndex):
        found = nearest_from_redis(session, index, config, lat=lat, lon=lon, radius_m=radius_m, limit=limit,
                                   now=now, job_id=job_id, org_id=org_id)
        if found is not None:
            return found
    return nearest_from_db(session, config, lat=lat, lon=lon, radius_m=radius_m, limit=limit, now=now,
                           job_id=job_id, org_id=org_id)


def index_agent(config: DispatchConfig, agent: DispatchAgent) -> None:
    """Put the agent in the Redis index when it may take jobs, take it out otherwise."""
    index = geo_index()
    if index is None or not config.positions:
        return
    if agent.on_duty and agent.job_id is None and not agent.outside_area and agent.lat is not None:
        index.put(config.slug, agent.id, agent.lat, agent.lon, agent.position_at)
    else:
        index.drop(config.slug, agent.id)


def holds_offers(config: DispatchConfig) -> bool:
    """Searches skip agents holding an offer only where an agent holds one at a time."""
    return config.positions and not config.keep_offers


def hold_offered(config: DispatchConfig, until: dict[int, datetime]) -> None:
    """A round offered these agents until the given times: out of Redis searches meanwhile."""
    index = geo_index()
    if index is not None and holds_offers(config):
        index.hold(config.slug, until)


def release_offered(config: DispatchConfig, agent_ids: list[int]) -> None:
    """Their offers were answered or withdrawn: back in Redis searches (if otherwise available)."""
    index = geo_index()
    if index is not None and holds_offers(config):
        index.release(config.slug, agent_ids)
