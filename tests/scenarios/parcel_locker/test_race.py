"""Races on PostgreSQL through gunicorn (3 workers × 4 threads), real HTTP clients:
- 24 couriers (the locker itself and the operator's API, interleaved) store parcels into the
  same cell at once: exactly one is stored, 23 get 409 ``cell_occupied``, never a 5xx — the
  partial unique index decides, whatever each transaction read first;
- 12 lockers' scans of one pickup pass at once: one opens the cell, 11 get 409 ``qr_replayed``."""
from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from auth.devices import create_device
from auth.organisations import Organisation
from qr.keys import init_keys
from scenarios.parcel_locker import service as svc
from scenarios.parcel_locker.models import Parcel
from tests.support.database import backend
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, mobile, token_for
from tests.support.gunicorn import post_json
from tests.support.qr import make_keyring

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")

N = 24


def _world(db, app):
    """An operator with a locker (cell A01), its staff and the locker's credentials; a resident."""
    clock = SystemClock()
    stand_in = Flask("parcel-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        init_keys(s, kek=make_keyring(app, db, clock)._kek, clock=clock)
        org = make_org(s, "locker_operator")
        device, secret = create_device(s, org=org, kind="locker", name="竞争快件箱")
        svc.add_locker(s, clock=clock, operator_id=org.id, device=device, name="竞争快件箱", community_id=None,
                       cells=[{"label": "A01", "size": "S"}])
        staff = [bearer(token_for(s, clock, make_staff(s, org, "staff"), org)) for _ in range(N // 2)]
        phone = mobile()
        resident = bearer(token_for(s, clock, make_resident(s, name="收件人", phone=phone)))
        org_id = s.scalar(sa.select(Organisation.id).where(Organisation.id == org.id))
    if (own := app.extensions.get("qr_keyring")) is not None:
        own.reload()
    return org_id, device.uid, basic(device.uid, secret), staff, resident, phone


def _race(calls) -> Counter:
    go = threading.Barrier(len(calls))
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def one(url, body, headers) -> None:
        go.wait()
        status, answer = post_json(url, body, headers)
        with lock:
            answers.append((status, answer.get("code") if status >= 400 else None))

    threads = [threading.Thread(target=one, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == len(calls)
    return Counter(answers)


def test_couriers_racing_for_one_cell_store_one_parcel(committed_db, _app, gunicorn):
    org_id, uid, locker, staff, _, _ = _world(committed_db, _app)
    url = f"{gunicorn}/api/v1/parcel-locker/parcels"
    calls = []
    for i in range(N):
        body = {"cell": "A01", "recipient_phone": mobile(), "tracking_no": f"RACE{i:06d}"}
        calls.append((url, {**body, "locker": uid}, staff[i // 2]) if i % 2 else (url, body, locker))
    answers = _race(calls)
    assert answers == Counter({(201, None): 1, (409, "cell_occupied"): N - 1}), answers
    with committed_db.transaction(write=False) as s:
        assert s.scalars(sa.select(Parcel.status).where(Parcel.operator_id == org_id)).all() == ["stored"]


def test_one_pass_scanned_at_once_opens_the_cell_once(committed_db, _app, gunicorn):
    _, _, locker, _, resident, phone = _world(committed_db, _app)
    base = f"{gunicorn}/api/v1/parcel-locker"
    status, parcel = post_json(f"{base}/parcels", {"cell": "A01", "recipient_phone": phone, "tracking_no": "RACE1"},
                               locker)
    assert status == 201, parcel
    request = urllib.request.Request(f"{gunicorn}/api/v1/me/parcels", headers=resident)  # noqa: S310 (ours)
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
        token = json.loads(resp.read())["items"][0]["pickup_pass"]["token"]
    answers = _race([(f"{base}/pickups", {"token": token, "cell": "A01"}, locker) for _ in range(12)])
    assert answers == Counter({(200, None): 1, (409, "qr_replayed"): 11}), answers
    with committed_db.transaction(write=False) as s:
        assert s.scalar(sa.select(Parcel.status).where(Parcel.id == parcel["id"])) == "picked_up"
