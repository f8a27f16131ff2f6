"""Data for parcel-locker's registration benchmark: one locker of the demo operator with
100,000 cells, and a wrk script in which each request is that locker's
``POST /api/v1/parcel-locker/parcels`` into a random cell for the demo resident's phone (so the
recipient is found and told, as in life). A cell drawn twice answers 409 ``cell_occupied``:
after a few thousand parcels a few per cent of requests (the run reports them as non-2xx)."""
from __future__ import annotations

import base64
import json

import sqlalchemy as sa

from bench.endpoints import BenchContext, Prepared, _lua_string

OPERATOR = "310116-locker-01"
CELLS = 100_000
PHONE = "13900001001"  # demo-resident-1's (scenarios/parcel_locker/demo.py)


def store_setup(ctx: BenchContext) -> Prepared:
    from app.clock import SystemClock
    from app.db import Database
    from auth.devices import create_device
    from auth.organisations import Organisation
    from scenarios.parcel_locker.models import Cell
    from scenarios.parcel_locker.service import add_locker

    db = Database(ctx.database_url)
    try:
        with db.transaction() as s:
            org = s.scalar(sa.select(Organisation).where(Organisation.code == OPERATOR))
            device, secret = create_device(s, org=org, kind="locker", name="压测快件箱")
            locker = add_locker(s, clock=SystemClock(), operator_id=org.id, device=device, name="压测快件箱",
                                community_id=None, cells=[{"label": "C000000", "size": "S"}])
            s.execute(sa.insert(Cell), [{"locker_id": locker.id, "label": f"C{i:06d}", "size": "M"}
                                        for i in range(1, CELLS)])
    finally:
        db.dispose()
    auth = "Basic " + base64.b64encode(f"{device.uid}:{secret}".encode()).decode()
    return Prepared(lua=_lua(auth))


def _lua(auth: str) -> str:
    head = json.dumps({"recipient_phone": PHONE, "tracking_no": "BENCH0000001", "courier": "压测快递"},
                      ensure_ascii=False)[:-1]
    return f"""
local auth = {_lua_string(auth)}
local head = {_lua_string(head)}
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end
function request()
  local body = head .. string.format(', "cell": "C%06d"}}', math.random(0, {CELLS - 1}))
  return wrk.format("POST", nil, {{["Authorization"] = auth, ["Content-Type"] = "application/json"}}, body)
end
"""
