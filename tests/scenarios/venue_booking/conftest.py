"""Fixtures of venue-booking's tests: the QR keyring at a Monday 10:00, two venue operators with
gates, a property company's manager and a resident (``w``)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auth.devices import create_device
from qr.keys import init_keys
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for
from tests.support.qr import make_keyring

MONDAY_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def keyring(app, db, clock):
    clock.set(MONDAY_10)
    kr = make_keyring(app, db, clock)
    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
    app.extensions["qr_keyring"] = kr
    yield kr
    app.extensions.pop("qr_keyring", None)


@pytest.fixture
def w(session, clock, keyring):
    a, b = make_org(session, "venue_operator"), make_org(session, "venue_operator")
    company = make_org(session, "property_company")
    h = {"manager_a": bearer(token_for(session, clock, make_staff(session, a, "manager"), a)),
         "company": bearer(token_for(session, clock, make_staff(session, company, "manager"), company))}
    for key, org in (("a", a), ("b", b)):
        device, secret = create_device(session, org=org, kind="gate", name="闸机")
        h[f"gate_{key}"] = basic(device.uid, secret)
    alice = make_resident(session, name="王丽")
    h["alice"] = bearer(token_for(session, clock, alice))
    session.commit()
    return {"h": h, "alice": alice, "a": a}
