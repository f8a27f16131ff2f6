"""Data for the elderly-sos benchmarks: operators on duty at the district's SOS call centre
(reference data), and wearables of the call centre each worn by an enrolled person (86, one
contact with a phone), written straight to the database; the devices' HTTP Basic credentials.

``alarm_setup`` is the ``make bench`` rows': a wrk script in which each request is the next
wearable's press (round robin): the first press of each opens an alarm (a dispatch job offered
to every on-duty operator, its chain armed, the family told); a press within 2 minutes of the
last one merges into it (one alarm per emergency). With 300 wearables a round of a few
seconds is mostly new alarms; with 20 it is mostly repeated presses (a flood of presses and
device retries). The operators are seeded once per database.
"""
from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa

from bench.dispatch_setup import tokens_for
from bench.endpoints import BenchContext, Prepared, _lua_string, console_session

OPERATORS = 20
WEARABLES = 300


def seed(ctx: BenchContext, *, operators: int = OPERATORS, wearables: int = WEARABLES) -> tuple[list[int], list[str]]:
    """``operators`` on duty (their account ids) and ``wearables`` worn by enrolled people
    (their ``Authorization`` headers)."""
    from app import create_app
    from app.config import load_settings
    from auth.devices import create_device
    from auth.models import Account, Membership, Person
    from auth.organisations import Organisation
    from scenarios.elderly_sos import CONFIG
    from scenarios.elderly_sos.inactivity import watch
    from scenarios.elderly_sos.models import SosContact, SosDevice, SosEnrolment
    from scenarios.elderly_sos.places import CALL_CENTRE
    from scenarios.engines.dispatch.models import DispatchAgent

    app = create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))  # the keyring for encrypted columns
    tag = uuid.uuid4().hex[:6]
    ops: list[int] = []
    auths: list[str] = []
    try:
        with app.app_context():
            db, clock = app.extensions["db"], app.extensions["clock"]
            with db.transaction() as s:
                centre = s.scalar(sa.select(Organisation).where(Organisation.code == CALL_CENTRE))
                committee = s.scalar(sa.select(Organisation).where(Organisation.type == "neighbourhood_committee")
                                     .order_by(Organisation.id).limit(1))
                now = datetime.now(UTC)
                ops = list(s.scalars(sa.select(DispatchAgent.account_id).where(
                    DispatchAgent.scenario == CONFIG.slug, DispatchAgent.on_duty.is_(True))))
                for k in range(len(ops), operators):
                    op = Account(kind="staff", username=f"bench-sos-{tag}-op{k}", password_hash="-",  # noqa: S106
                                 status="active")
                    s.add(op)
                    s.flush()
                    s.add(Membership(account_id=op.id, organisation_id=centre.id, role="operator", status="active"))
                    s.add(DispatchAgent(scenario=CONFIG.slug, account_id=op.id, org_id=centre.id, on_duty=True,
                                        outside_area=False, available_since=now, details={}, updated_at=now))
                    ops.append(op.id)
                for n in range(wearables):
                    person = Person(real_name_level="verified", birth_date=date(1940, 3, 15))
                    s.add(person)
                    s.flush()
                    enrolment = SosEnrolment(person_id=person.id, committee_org_id=committee.id,
                                             enrolled_by_account_id=ops[0], hukou_shanghai=True, lives_alone=True,
                                             address=f"压测路{n}号", state="active", created_at=now, updated_at=now)
                    s.add(enrolment)
                    s.flush()
                    s.add(SosContact(enrolment_id=enrolment.id, position=1, relation="family", name="家属",
                                     phone=f"138{n:08d}", may_alarm=False))
                    device, secret = create_device(s, org=centre, kind="sensor", name=f"bench 手环 {tag}-{n}")
                    worn = SosDevice(device_id=device.id, kind="wearable", enrolment_id=enrolment.id, assigned_at=now)
                    s.add(worn)
                    s.flush()
                    watch(s, clock=clock, device=worn)
                    auths.append("Basic " + base64.b64encode(f"{device.uid}:{secret}".encode()).decode())
    finally:
        app.extensions["db"].dispose()
    return ops, auths


def operator_tokens(ctx: BenchContext, account_ids: list[int]) -> list[str]:
    from scenarios.elderly_sos.places import CALL_CENTRE

    return tokens_for(ctx, account_ids, CALL_CENTRE)


def alarm_setup(ctx: BenchContext, wearables: int = WEARABLES) -> Prepared:
    _ops, auths = seed(ctx, wearables=wearables)
    table = ",\n".join(f"  {_lua_string(a)}" for a in auths)
    return Prepared(lua=f"""
local auths = {{
{table}
}}
local body = {_lua_string(json.dumps({}))}
local i = 0
function init(args)
  i = math.random(#auths)
end
function request()
  i = i % #auths + 1
  return wrk.format("POST", nil, {{["Authorization"] = auths[i], ["Content-Type"] = "application/json"}}, body)
end
""")


BOARD_ALARMS = 200


def board_setup(ctx: BenchContext, alarms: int = BOARD_ALARMS) -> Prepared:
    """The console's SOS board as a demo operator sees it, with ``alarms`` open alarms (each a
    new wearable's press; the board shows at most 200, oldest first)."""
    import urllib.request

    from scenarios.elderly_sos.places import CALL_CENTRE

    _ops, auths = seed(ctx, operators=1, wearables=alarms)
    for auth in auths:
        request = urllib.request.Request(ctx.base_url + "/api/v1/elderly-sos/alarms", data=b"{}", method="POST",  # noqa: S310
                                         headers={"Authorization": auth, "Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 (our own server)
    return console_session(ctx, f"demo-{CALL_CENTRE}-operator1")
