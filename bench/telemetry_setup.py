"""Data for the telemetry engine's benchmark: 150 sensors of one organisation, each bound to a
tank of the engine's test scenario (``tm-test``, mounted by ``tests.support.telemetry_wsgi``),
and a wrk script in which each request is the next sensor's ``PUT /devices/me/state`` (its own
HTTP Basic credentials, a level, no ``at``: now) — 150 devices reporting, round robin."""
from __future__ import annotations

import base64
import json

import sqlalchemy as sa

from bench.endpoints import BenchContext, Prepared, _lua_string

OWNER = "310116-bureau-sports"
PATH = "/api/v1/tm-test/devices/me/state"
BODY = {"kind": "level", "value": {"level_l": 500.0}}


def put_setup(ctx: BenchContext) -> Prepared:
    from app.clock import SystemClock
    from app.db import Database
    from auth.devices import create_device
    from auth.organisations import Organisation
    from scenarios.engines.telemetry import service as svc
    from tests.engines.telemetry.scenario import CONFIG
    from tests.support.telemetry_wsgi import TANK_COUNT, tanks

    if ctx.env.get("BENCH_APP") != "tests.support.telemetry_wsgi:app":
        raise RuntimeError("run with BENCH_APP=tests.support.telemetry_wsgi:app (the engine's test scenario)")
    db = Database(ctx.database_url)
    auths = []
    try:
        with db.transaction() as s:
            org = s.scalar(sa.select(Organisation).where(Organisation.code == OWNER))
            tanks(org.id)
            for i in range(1, TANK_COUNT + 1):
                device, secret = create_device(s, org=org, kind="sensor", name=f"bench 液位计 {i}")
                svc.bind(s, config=CONFIG, kind="level", device_id=device.id, subject_id=i, clock=SystemClock())
                auths.append("Basic " + base64.b64encode(f"{device.uid}:{secret}".encode()).decode())
    finally:
        db.dispose()
    return Prepared(lua=_lua(auths))


def _lua(auths: list[str]) -> str:
    table = ",\n".join(f"  {_lua_string(a)}" for a in auths)
    return f"""
local auths = {{
{table}
}}
local body = {_lua_string(json.dumps(BODY))}
local i = 0
function init(args)
  i = math.random(#auths)
end
function request()
  i = i % #auths + 1
  return wrk.format("PUT", nil, {{["Authorization"] = auths[i], ["Content-Type"] = "application/json"}}, body)
end
"""
