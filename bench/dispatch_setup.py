"""Data for the dispatch benchmarks (taxi): a fleet of bench drivers on duty around the pilot
communities' pick-up points, and residents of those communities with tokens.

Everything is written straight to the bench database in a few statements (the bench measures
the endpoints, not the set-up) and tokens are minted in process with the server's settings.
The fleet's positions are dated ``FRESH_AHEAD`` into the future, so they stay fresh through a
run of several minutes without anybody reporting (the position endpoint's own benchmark moves
one driver). With ``REDIS_URL`` the taxi's geo index is emptied (the bench database is new, the
shared Redis is not: members of an earlier run's database would be checked and refused) and the
fleet put in it, as their position reports would.
"""
from __future__ import annotations

import atexit
import math
import random
import shutil
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.endpoints import BenchContext, Prepared, _lua_string, json_post_lua, per_thread_lines_lua

FLEET = 500
FRESH_AHEAD = timedelta(minutes=30)
SPREAD_M = 4000
COMPANY_CODE = "310116-taxi-bench"


def _app(ctx: BenchContext) -> Any:
    from app import create_app
    from app.config import load_settings

    return create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))


def _offset(lat: float, north_m: float, east_m: float) -> tuple[float, float]:
    return north_m / 111_195.0, east_m / (111_195.0 * math.cos(math.radians(lat)))


def fleet(ctx: BenchContext, n: int = FLEET, *, seed: int = 17) -> list[int]:
    """``n`` bench drivers of a bench taxi company, on duty within ``SPREAD_M`` of the pick-up
    points (created once per database); their account ids."""
    from app.db import Database
    from auth.models import Account, Membership
    from auth.organisations import Organisation
    from scenarios.engines.dispatch.models import DispatchAgent
    from scenarios.taxi import CONFIG
    from scenarios.taxi.pilot import PILOT

    db = Database(ctx.database_url)
    rng = random.Random(seed)
    try:
        with db.transaction() as s:
            org = s.scalar(sa.select(Organisation).where(Organisation.code == COMPANY_CODE))
            if org is None:
                org = Organisation(code=COMPANY_CODE, name="压测出租", type="taxi_company", active=True, attributes={})
                s.add(org)
                s.flush()
            have = list(s.scalars(sa.select(DispatchAgent.account_id).where(DispatchAgent.org_id == org.id)))
            now = datetime.now(UTC)
            for i in range(len(have), n):
                account = Account(kind="staff", username=f"bench-driver-{i:05d}", password_hash="-",  # noqa: S106
                                  status="active")  # never signs in: tokens are minted
                s.add(account)
                s.flush()
                s.add(Membership(account_id=account.id, organisation_id=org.id, role="driver", status="active"))
                point = PILOT[i % len(PILOT)]
                dlat, dlon = _offset(point.lat, rng.uniform(-SPREAD_M, SPREAD_M), rng.uniform(-SPREAD_M, SPREAD_M))
                s.add(DispatchAgent(scenario=CONFIG.slug, account_id=account.id, org_id=org.id, on_duty=True,
                                    lat=point.lat + dlat, lon=point.lon + dlon, position_at=now + FRESH_AHEAD,
                                    outside_area=False, available_since=now, details={"plate": f"沪BX{i:05d}"},
                                    updated_at=now))
                have.append(account.id)
            _index_fleet(ctx, s, org.id)
            return have[:n]
    finally:
        db.dispose()


def _index_fleet(ctx: BenchContext, session: Any, org_id: int) -> None:
    """The taxi's Redis geo index holds this database's fleet and nothing else (module docstring)."""
    from scenarios.engines.dispatch.models import DispatchAgent
    from scenarios.engines.dispatch.nearby import GeoIndex
    from scenarios.taxi import CONFIG

    url = ctx.env.get("REDIS_URL")
    if not url:
        return
    index = GeoIndex(url)
    index.clear(CONFIG.slug)
    session.flush()
    for agent in session.scalars(sa.select(DispatchAgent).where(DispatchAgent.org_id == org_id)):
        index.put(CONFIG.slug, agent.id, agent.lat, agent.lon, agent.position_at)
    index.client.close()


def residents(ctx: BenchContext, n: int) -> list[int]:
    """``n`` residents (dev accounts) with verified residences in the pilot communities."""
    from app.db import Database
    from app.places.models import Building, Community
    from auth.models import Account, Person, Residence
    from scenarios.taxi.pilot import PILOT

    db = Database(ctx.database_url)
    tag = uuid.uuid4().hex[:6]
    try:
        with db.transaction() as s:
            places = s.execute(sa.select(Community.id, sa.func.min(Building.id))
                               .join(Building, Building.community_id == Community.id)
                               .where(Community.code.in_([p.community for p in PILOT]))
                               .group_by(Community.id)).all()
            ids = []
            for i in range(n):
                person = Person(real_name_level="none")
                s.add(person)
                s.flush()
                account = Account(kind="dev", openid=f"bench-rider-{tag}-{i}", person_id=person.id, status="active")
                community_id, building_id = places[i % len(places)]
                s.add_all([account, Residence(person_id=person.id, community_id=community_id, building_id=building_id,
                                              room="101", valid_from=date(2020, 1, 1), status="verified")])
                s.flush()
                ids.append(account.id)
            return ids
    finally:
        db.dispose()


def tokens_for(ctx: BenchContext, account_ids: list[int], org_code: str | None = None) -> list[str]:
    """Access tokens minted in process (no login round trips, no sign-in throttling)."""
    from auth.models import Account
    from auth.organisations import Organisation
    from auth.tokens import issue_pair

    app = _app(ctx)
    out: list[str] = []
    try:
        with app.app_context():
            db, clock = app.extensions["db"], app.extensions["clock"]
            with db.transaction() as s:
                org = s.scalar(sa.select(Organisation).where(Organisation.code == org_code)) if org_code else None
                for account_id in account_ids:
                    out.append(issue_pair(s, clock=clock, account=s.get(Account, account_id), org=org).access_token)
    finally:
        app.extensions["db"].dispose()
    return out


def position_setup(ctx: BenchContext) -> Prepared:
    """One bench driver reports a position near a pick-up point on every request."""
    from scenarios.taxi.pilot import PILOT

    driver = fleet(ctx)[0]
    token = tokens_for(ctx, [driver], COMPANY_CODE)[0]
    point = PILOT[0]
    return Prepared(lua=json_post_lua({"lat": point.lat + 0.002, "lon": point.lon},
                                      {"Authorization": f"Bearer {token}"}, method="PUT"))


RIDE_LUA = per_thread_lines_lua("TOKENS_FILE", "tokens", """
local tokens = {{}}
counter = 0

function init(args)
  for line in io.lines(TOKENS_FILE) do tokens[#tokens + 1] = line end
end

function request()
  local i = base + tid + counter * NTHREADS + 1
  counter = counter + 1
  local token = tokens[i] or tokens[#tokens]
  return wrk.format(nil, nil, {{["Authorization"] = "Bearer " .. token,
                               ["Content-Type"] = "application/json"}}, '{{"passengers":1}}')
end

""")

RIDE_RATE_CAP = 400
"""Rides a second the set-up provides residents for (each resident has one open ride at a time)."""


def ride_setup(ctx: BenchContext) -> Prepared:
    """Every request is a new resident calling a taxi (one open ride each), with the fleet on duty."""
    env = ctx.env

    def number(name: str, default: int) -> int:
        try:
            return int(env.get(name, default))
        except ValueError:
            return default

    seconds = number("BENCH_WARMUP", 1) + number("BENCH_ROUNDS", 3) * number("BENCH_DURATION", 5)
    fleet(ctx)
    riders = residents(ctx, number("BENCH_TAXI_RIDERS", seconds * RIDE_RATE_CAP))
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-taxi-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    tokens_file, offset_file = folder / "tokens.txt", folder / "offset.txt"
    tokens_file.write_text("\n".join(tokens_for(ctx, riders)) + "\n", encoding="ascii")
    offset_file.write_text("0", encoding="ascii")
    lua = RIDE_LUA.format(tokens=_lua_string(str(tokens_file)), offset=_lua_string(str(offset_file)),
                          nthreads=number("BENCH_THREADS", 2))
    return Prepared(lua=lua)
