"""Setup hooks of the booking endpoints in ``bench.endpoints`` (venue-booking on its demo data).

- ``availability_setup``: a resident's token for one demo court's 7-day availability.
- ``gate_setup``: a gate of the demo centre admits residents by their personal codes (一码通行):
  each resident has a booking for four there now and four fresh codes; each code is sent once.
- ``contention_setup``: 64 connections book over 20 slots of one class whose capacity no run
  exhausts, so every request books. Each booking needs a person with room under the
  scenario's limits (2 a day, 4 open), so the residents and their tokens are made here, in
  this process, straight into the bench database (``BENCH_BOOKERS``; default enough for 1,500
  bookings/s over the whole run), and request ``k`` is person ``k // 4``'s ``k % 4``-th booking,
  on four different days. The wrk script hands each request the next (token, slot) line; an
  offset file carries the position across wrk runs, so no line is sent twice.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path

from bench.endpoints import BenchContext, Prepared, _lua_string, per_thread_lines_lua
from bench.qr_setup import _int, resident_token

DEMO_COURT = "001-bd1"  # scenarios/venue_booking/demo.py: 石化街道's first badminton court
OWNER = "310116-venue-sports-001"
SLOTS, DAYS, PER_PERSON = 20, 5, 4
BOOKING_RATE_CAP = 1500
BOOKINGS_PER_SLOT_CAP = 1_000_000


def availability_setup(ctx: BenchContext) -> Prepared:
    return Prepared(headers={"Authorization": f"Bearer {resident_token(ctx)}"})


def _world(ctx: BenchContext, bookers: int, price_fen: int | None = None) -> tuple[list[int], list[str]]:
    """A class of the demo centre with 20 slots (4 a day on 5 days from tomorrow) and ``bookers``
    residents with access tokens; ``price_fen``: a paid class (each booking a hold with a payment)."""
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from app.fields import CST
    from auth.models import Account, Person
    from auth.organisations import Organisation
    from auth.tokens import issue_pair
    from scenarios.engines.booking.models import BkResource, BkSlot

    tag = "paid-" if price_fen else ""
    app = create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        now = clock.now()
        with db.transaction() as s:
            owner = s.scalar(sa.select(Organisation).where(Organisation.code == OWNER))
            resource = BkResource(scenario="venue-booking", code=f"bench-{tag}{int(now.timestamp())}", name="压测课程",
                                  kind="capacity", owner_org_id=owner.id, address="金山区", capacity=1, slot_minutes=60,
                                  calendar="every_day", active=True, attributes={}, price_fen=price_fen, created_at=now)
            s.add(resource)
            s.flush()
            first = now.astimezone(CST).date() + timedelta(days=1)
            slots = []
            for n in range(SLOTS):
                start = datetime.combine(first + timedelta(days=n // (SLOTS // DAYS)), time(8 + n % (SLOTS // DAYS)),
                                         CST)
                slot = BkSlot(resource_id=resource.id, scenario="venue-booking", starts_at=start,
                              ends_at=start + timedelta(hours=1), capacity=BOOKINGS_PER_SLOT_CAP, booked=0, held=0,
                              status="open")
                s.add(slot)
                slots.append(slot)
            s.flush()
            slot_ids = [slot.id for slot in slots]
        tokens: list[str] = []
        while len(tokens) < bookers:
            with db.transaction() as s:
                for _ in range(min(1000, bookers - len(tokens))):
                    account = Account(kind="dev", openid=f"bench-booker-{tag}{len(tokens)}-{int(now.timestamp())}",
                                      person=Person(name="压测", real_name_level="basic"), status="active")
                    s.add(account)
                    s.flush()
                    tokens.append(issue_pair(s, clock=clock, account=account).access_token)
    app.extensions["db"].dispose()
    return slot_ids, tokens


def contention_setup(ctx: BenchContext, price_fen: int | None = None) -> Prepared:
    env = ctx.env
    seconds = _int(env, "BENCH_WARMUP", 1) + _int(env, "BENCH_ROUNDS", 3) * _int(env, "BENCH_DURATION", 5)
    bookers = _int(env, "BENCH_BOOKERS", seconds * BOOKING_RATE_CAP // PER_PERSON + 1)
    slot_ids, tokens = _world(ctx, bookers, price_fen)
    per_day = SLOTS // DAYS
    lines = []
    for p, token in enumerate(tokens):
        for j in range(PER_PERSON):  # four bookings of one person on four different days
            lines.append(f"{token} {slot_ids[((p + j) % DAYS) * per_day + p % per_day]}")
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-booking-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    lines_file, offset_file = folder / "bookings.txt", folder / "offset.txt"
    lines_file.write_text("\n".join(lines) + "\n", encoding="ascii")
    offset_file.write_text("0", encoding="ascii")
    return Prepared(lua=BOOK_LUA.format(lines=_lua_string(str(lines_file)), offset=_lua_string(str(offset_file)),
                                        nthreads=_int(env, "BENCH_THREADS", 2)))


BOOK_LUA = per_thread_lines_lua("LINES_FILE", "lines", """
local tokens, slots = {{}}, {{}}
counter = 0

function init(args)
  for line in io.lines(LINES_FILE) do
    local token, slot = line:match("^(%S+) (%d+)$")
    tokens[#tokens + 1] = token
    slots[#slots + 1] = slot
  end
end

function request()
  local i = base + tid + counter * NTHREADS + 1
  counter = counter + 1
  if i > #tokens then i = #tokens end
  local headers = {{}}
  headers["Authorization"] = "Bearer " .. tokens[i]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, headers, '{{"slot_id":' .. slots[i] .. '}}')
end

""")


# ---------------------------------------------------------------- the gate, by personal code

ADMITS = 4  # the scenario's places per booking: one booking admits four scans


def _gate_device(ctx: BenchContext) -> tuple[str, str]:
    import json
    import subprocess

    from bench.qr_setup import BIN, ROOT

    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "devices", "create", "--org", OWNER, "--kind", "gate",
                           "--name", "bench gate"], cwd=ROOT, env=dict(ctx.env), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flask devices create failed: {done.stderr.strip() or done.stdout.strip()}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["device_id"], out["secret"]


def _gate_world(ctx: BenchContext, people: int, lifetime_seconds: int) -> list[str]:
    """``people`` residents, each with a booking for four at the demo centre now, and four
    personal codes each (interleaved, so consecutive scans are different people's)."""
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from auth.models import Account, Person
    from auth.organisations import Organisation
    from qr.service import issue_personal
    from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot

    env = {**ctx.env, "QR_PERSONAL_TTL_SECONDS": str(lifetime_seconds), "LOG_LEVEL": "WARNING"}
    app = create_app(load_settings(env))
    per_person: list[list[str]] = []
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        now = clock.now()
        with db.transaction() as s:
            owner = s.scalar(sa.select(Organisation).where(Organisation.code == OWNER))
            resource = BkResource(scenario="venue-booking", code=f"bench-gate-{int(now.timestamp())}", name="压测场馆",
                                  kind="capacity", owner_org_id=owner.id, address="金山区", capacity=1, slot_minutes=60,
                                  calendar="every_day", active=True, attributes={}, created_at=now)
            s.add(resource)
            s.flush()
            slot = BkSlot(resource_id=resource.id, scenario="venue-booking", starts_at=now - timedelta(minutes=10),
                          ends_at=now + timedelta(seconds=lifetime_seconds), capacity=ADMITS * people,
                          booked=ADMITS * people, held=0, status="open")
            s.add(slot)
            s.flush()
            resource_id, slot_id = resource.id, slot.id
        while len(per_person) < people:
            with db.transaction() as s:
                for _ in range(min(500, people - len(per_person))):
                    person = Person(name="压测", real_name_level="basic")
                    s.add(Account(kind="dev", openid=f"bench-gate-{len(per_person)}-{int(now.timestamp())}",
                                  person=person, status="active"))
                    s.flush()
                    s.add(BkBooking(scenario="venue-booking", resource_id=resource_id, slot_id=slot_id,
                                    person_id=person.id, booker_person_id=person.id, units=ADMITS, places=ADMITS,
                                    whole_unit=False, status="confirmed", checked_in=0, created_at=now,
                                    updated_at=now, confirmed_at=now))
                    per_person.append([issue_personal(s, holder_type="person", holder_id=person.id,
                                                      clock=clock).token for _ in range(ADMITS)])
    app.extensions["db"].dispose()
    return [codes[k] for k in range(ADMITS) for codes in per_person]


def gate_setup(ctx: BenchContext) -> Prepared:
    import base64

    from bench.qr_setup import TOKEN_RATE_CAP, VERIFY_LUA

    env = ctx.env
    seconds = _int(env, "BENCH_WARMUP", 1) + _int(env, "BENCH_ROUNDS", 3) * _int(env, "BENCH_DURATION", 5)
    count = _int(env, "BENCH_QR_TOKENS", seconds * TOKEN_RATE_CAP)
    uid, secret = _gate_device(ctx)
    tokens = _gate_world(ctx, count // ADMITS + 1, lifetime_seconds=max(600, 20 * seconds + 600))
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-gate-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    tokens_file, offset_file = folder / "tokens.txt", folder / "offset.txt"
    tokens_file.write_text("\n".join(tokens) + "\n", encoding="ascii")
    offset_file.write_text("0", encoding="ascii")
    lua = VERIFY_LUA.format(tokens=_lua_string(str(tokens_file)), offset=_lua_string(str(offset_file)),
                            nthreads=_int(env, "BENCH_THREADS", 2))
    return Prepared(headers={"Authorization": "Basic " + base64.b64encode(f"{uid}:{secret}".encode()).decode()},
                    lua=lua)
