"""The QR routes: personal codes and their images for residents, verification for devices and staff."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.config import ConfigError
from auth.devices import create_device
from qr.admission import Admission, parse_rules
from qr.models import QrScan, QrSubject
from qr.passes import issue_pass
from qr.service import issue_personal, verify
from qr.tokens import QrError
from tests.support.database import backend
from tests.support.factories import (
    basic,
    bearer,
    count,
    id_number,
    make_org,
    make_resident,
    make_staff,
    mobile,
    token_for,
)
from tests.support.qr import make_keyring, parts, read_qr

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


@pytest.fixture
def people(session, clock):
    """A venue operator with a sentinel, a gate and a sensor; a property company; residents."""
    venue = make_org(session, "venue_operator")
    company = make_org(session, "property_company")
    phone, id_no = mobile(), id_number()
    zhang = make_resident(session, name="张三丰", id_no=id_no, phone=phone, level="verified")
    li = make_resident(session, name="李四")
    devices = {kind: create_device(session, org=venue, kind=kind, name=f"测试{kind}") for kind in
               ("sentinel", "gate", "sensor")}
    venue_staff = make_staff(session, venue, "staff")
    company_staff = make_staff(session, company, "technician")
    session.commit()
    return {
        "venue": venue, "company": company, "zhang": zhang, "li": li, "phone": phone, "id_no": id_no,
        "devices": devices,
        "device_auth": {k: basic(d.uid, s) for k, (d, s) in devices.items()},
        "resident": bearer(token_for(session, clock, zhang)),
        "li_auth": bearer(token_for(session, clock, li)),
        "venue_staff": bearer(token_for(session, clock, venue_staff, venue)),
        "venue_staff_id": venue_staff.id,
        "company_staff": bearer(token_for(session, clock, company_staff, company)),
    }


def personal_for(session, clock, keyring, account) -> str:
    code = issue_personal(session, holder_type="person", holder_id=account.person_id, clock=clock, keyring=keyring)
    session.commit()
    return code.token


def venue_pass(session, clock, keyring, *, purpose="venue_booking", holder=None) -> str:
    _, token = issue_pass(session, purpose=purpose, ref="booking:42", single_use=True,
                          holder_type="person" if holder else None, holder_id=holder.person_id if holder else None,
                          valid_until=clock.now() + timedelta(hours=2), clock=clock, keyring=keyring)
    session.commit()
    return token


def scans(session, **where) -> list[QrScan]:
    session.expire_all()
    return list(session.scalars(sa.select(QrScan).filter_by(**where).order_by(QrScan.id)))


# ---------------------------------------------------------------- personal codes


def test_personal_code_for_a_resident(client, session, clock, keyring, people):
    r = client.post("/api/v1/qr/personal", headers=people["resident"])
    assert r.status_code == 200, r.get_json()
    assert r.headers["Cache-Control"] == "no-store"  # a live code: no cache keeps it
    body = r.get_json()
    assert set(body) == {"token", "expires_at", "refresh_after"}
    claims = parts(body["token"])[1]
    assert claims["exp"] - claims["iat"] == 60 and claims["pur"] == "personal"
    assert body["expires_at"].endswith("+08:00")
    subject = session.get(QrSubject, claims["sub"])
    assert (subject.holder_type, subject.holder_id) == ("person", people["zhang"].person_id)
    # the code verifies once, to its holder
    result = verify(session, body["token"], clock=clock, allowed_purposes={"personal"}, keyring=keyring)
    assert result.holder.id == people["zhang"].person_id
    # no personal data in the token
    raw = json.dumps(parts(body["token"]))
    for secret in (people["phone"], people["id_no"], "张三丰", str(people["zhang"].openid)):
        assert secret not in raw


def test_personal_code_lifetime_comes_from_settings(app, client, db, session, clock, people, settings_override):
    settings_override(QR_PERSONAL_TTL_SECONDS="90")
    kr = make_keyring(app, db, clock)
    from qr.keys import init_keys

    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
    app.extensions["qr_keyring"] = kr
    try:
        body = client.post("/api/v1/qr/personal", headers=people["resident"]).get_json()
        claims = parts(body["token"])[1]
        assert claims["exp"] - claims["iat"] == 90
    finally:
        app.extensions.pop("qr_keyring", None)


def test_personal_code_only_for_residents(client, keyring, people):
    assert client.post("/api/v1/qr/personal").status_code == 401
    assert client.post("/api/v1/qr/personal", headers=people["venue_staff"]).status_code == 403
    assert client.post("/api/v1/qr/personal", headers=people["device_auth"]["sentinel"]).status_code == 403
    assert client.get("/api/v1/qr/personal/image").status_code == 401
    assert client.get("/api/v1/qr/personal/image", headers=people["venue_staff"]).status_code == 403


def test_personal_code_without_a_signing_key_is_503(app, client, db, clock, people):
    app.extensions["qr_keyring"] = make_keyring(app, db, clock)  # no key in the database
    try:
        r = client.post("/api/v1/qr/personal", headers=people["resident"])
        assert r.status_code == 503 and r.get_json()["code"] == "qr_no_signing_key"
    finally:
        app.extensions.pop("qr_keyring", None)


def test_personal_image_png_and_svg(client, session, clock, keyring, people):
    r = client.get("/api/v1/qr/personal/image", headers=people["resident"])
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-QR-Expires-At"].endswith("+08:00")
    decoded = [x.text for x in read_qr(r.data)]
    assert len(decoded) == 1
    result = verify(session, decoded[0], clock=clock, allowed_purposes={"personal"}, keyring=keyring)
    assert result.holder.id == people["zhang"].person_id
    svg = client.get("/api/v1/qr/personal/image?format=svg", headers=people["resident"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    assert svg.headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/qr/personal/image?format=gif", headers=people["resident"]).status_code == 422
    # each image is a fresh code
    again = client.get("/api/v1/qr/personal/image", headers=people["resident"])
    assert again.data != r.data


def test_issuing_personal_codes_is_limited_per_resident(client, keyring, people, settings_override):
    settings_override(RATELIMIT_QR_PERSONAL="3/minute")
    for _ in range(2):
        assert client.post("/api/v1/qr/personal", headers=people["resident"]).status_code == 200
    assert client.get("/api/v1/qr/personal/image", headers=people["resident"]).status_code == 200  # shared
    r = client.post("/api/v1/qr/personal", headers=people["resident"])
    assert r.status_code == 429 and r.get_json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) > 0
    assert client.post("/api/v1/qr/personal", headers=people["li_auth"]).status_code == 200  # another resident


def test_the_default_personal_limit_is_generous(client, keyring, people):
    """Two codes a minute is what a shown code needs; far more must pass."""
    for _ in range(25):
        assert client.post("/api/v1/qr/personal", headers=people["resident"]).status_code == 200


# ---------------------------------------------------------------- verify


def post_verify(client, headers, token, **kw):
    return client.post("/api/v1/qr/verify", json={"token": token}, headers={**headers, **kw})


def test_sentinel_verifies_a_personal_code_and_learns_only_the_masked_name(client, session, clock, keyring,
                                                                            people):
    token = personal_for(session, clock, keyring, people["zhang"])
    r = post_verify(client, people["device_auth"]["sentinel"], token)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"result", "kind", "purpose", "ref", "expires_at", "holder"}
    assert body["result"] == "accepted" and body["kind"] == "personal" and body["purpose"] == "personal"
    assert body["ref"] is None
    assert body["holder"] == {"masked_name": "张**", "real_name_level": "verified"}
    text = r.get_data(as_text=True)
    person_id = people["zhang"].person_id
    for secret in (people["phone"], people["id_no"], "张三丰", people["phone"][-4:] + '"', people["id_no"][-6:]):
        assert secret not in text
    assert "person" not in json.dumps(body["holder"]) and f'"{person_id}"' not in text
    assert all(v != person_id for v in body.values() if isinstance(v, int))
    device, _ = people["devices"]["sentinel"]
    (scan,) = scans(session, scanner_kind="device", scanner_id=device.id)
    assert scan.result == "accepted" and scan.purpose == "personal" and scan.token_kind == "personal"


def test_a_replayed_code_is_refused_and_the_rejection_recorded(client, session, clock, keyring, people):
    token = personal_for(session, clock, keyring, people["zhang"])
    assert post_verify(client, people["device_auth"]["sentinel"], token).status_code == 200
    r = post_verify(client, people["device_auth"]["gate"], token)
    assert r.status_code == 409 and r.get_json()["code"] == "qr_replayed"
    gate, _ = people["devices"]["gate"]
    (scan,) = scans(session, scanner_kind="device", scanner_id=gate.id)
    assert scan.result == "qr_replayed" and scan.purpose == "personal"


def test_rejections_are_recorded_even_for_garbage(client, session, keyring, people):
    r = post_verify(client, people["device_auth"]["sentinel"], "not-a-code")
    assert r.status_code == 422 and r.get_json()["code"] == "qr_malformed"
    device, _ = people["devices"]["sentinel"]
    (scan,) = scans(session, scanner_kind="device", scanner_id=device.id)
    assert scan.result == "qr_malformed" and scan.token_kind == "unknown"


def test_what_a_device_admits_depends_on_its_kind(client, session, clock, keyring, people):
    booking = venue_pass(session, clock, keyring, holder=people["li"])
    r = post_verify(client, people["device_auth"]["sentinel"], booking)
    assert r.status_code == 422 and r.get_json()["code"] == "qr_wrong_purpose"
    device, _ = people["devices"]["sentinel"]
    assert [s.result for s in scans(session, scanner_kind="device", scanner_id=device.id)] == ["qr_wrong_purpose"]
    ok = post_verify(client, people["device_auth"]["gate"], booking)  # a venue gate admits venue bookings
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    assert (body["kind"], body["purpose"], body["ref"]) == ("pass", "venue_booking", "booking:42")
    assert body["holder"] == {"masked_name": "李*", "real_name_level": "none"}
    # a sensor admits nothing at all
    r = post_verify(client, people["device_auth"]["sensor"], personal_for(session, clock, keyring, people["li"]))
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"


def test_staff_admit_what_their_organisation_s_devices_admit(client, session, clock, keyring, people):
    r = post_verify(client, people["venue_staff"], venue_pass(session, clock, keyring))
    assert r.status_code == 200 and r.get_json()["holder"] is None
    (scan,) = scans(session, scanner_kind="staff", scanner_id=people["venue_staff_id"])
    assert scan.result == "accepted"
    r = post_verify(client, people["company_staff"], venue_pass(session, clock, keyring))
    assert r.status_code == 422 and r.get_json()["code"] == "qr_wrong_purpose"
    r = post_verify(client, people["company_staff"], personal_for(session, clock, keyring, people["zhang"]))
    assert r.status_code == 200 and r.get_json()["holder"]["masked_name"] == "张**"


def test_verify_is_for_devices_and_staff_only(client, session, clock, keyring, people):
    token = personal_for(session, clock, keyring, people["zhang"])
    assert post_verify(client, {}, token).status_code == 401
    r = post_verify(client, people["resident"], token)
    assert r.status_code == 403
    bad = basic(people["devices"]["sentinel"][0].uid, "wrong")
    assert post_verify(client, bad, token).get_json()["code"] == "device_credentials_invalid"
    device, _ = people["devices"]["sentinel"]
    device.status = "disabled"
    session.commit()
    r = post_verify(client, people["device_auth"]["sentinel"], token)
    assert r.status_code == 403 and r.get_json()["code"] == "device_disabled"
    assert count(session, QrScan) == 0  # nobody got as far as a scan
    ok = post_verify(client, people["device_auth"]["gate"], token)
    assert ok.status_code == 200  # the code was not consumed by the refused calls


def test_a_retried_verify_with_an_idempotency_key_replays_the_answer(client, session, clock, keyring, people):
    token = personal_for(session, clock, keyring, people["zhang"])
    first = post_verify(client, people["device_auth"]["sentinel"], token, **{"Idempotency-Key": "scan-000001"})
    retry = post_verify(client, people["device_auth"]["sentinel"], token, **{"Idempotency-Key": "scan-000001"})
    assert first.status_code == retry.status_code == 200
    assert retry.get_json() == first.get_json() and retry.headers["Idempotent-Replayed"] == "true"
    again = post_verify(client, people["device_auth"]["sentinel"], token)
    assert again.status_code == 409


def test_devices_are_not_throttled_in_normal_use(client, session, clock, keyring, people):
    tokens = [personal_for(session, clock, keyring, people["zhang"]) for _ in range(60)]
    statuses = {post_verify(client, people["device_auth"]["gate"], t).status_code for t in tokens}
    assert statuses == {200}


def test_verify_is_never_limited_even_with_a_default_limit(client, session, clock, keyring, people,
                                                          settings_override):
    settings_override(RATELIMIT_DEFAULT="2/minute")
    tokens = [personal_for(session, clock, keyring, people["zhang"]) for _ in range(4)]
    codes = [post_verify(client, people["device_auth"]["gate"], t).status_code for t in tokens]
    assert codes == [200] * 4
    # while another route of the same device is limited by the default
    whoami = [client.get("/api/v1/auth/device", headers=people["device_auth"]["gate"]).status_code
              for _ in range(3)]
    assert whoami == [200, 200, 429]


def test_admission_configuration(app, client, session, clock, keyring, people, settings_override):
    settings_override(QR_ADMISSION=json.dumps({"*/sentinel": [], "venue_operator/sensor": ["personal"]}))
    app.extensions.pop("qr_admission", None)
    try:
        token = personal_for(session, clock, keyring, people["zhang"])
        assert post_verify(client, people["device_auth"]["sentinel"], token).status_code == 403
        assert post_verify(client, people["device_auth"]["sensor"], token).status_code == 200
    finally:
        app.extensions.pop("qr_admission", None)


def test_admission_rules():
    rules = Admission({("*", "sentinel"): frozenset({"personal"}), ("school", "gate"): frozenset({"campus_safety"}),
                       ("school", "*"): frozenset({"skills_exam"})})
    assert rules.for_device("venue_operator", "sentinel") == {"personal"}
    assert rules.for_device("school", "gate") == {"campus_safety"}  # the most specific rule wins
    assert rules.for_device("school", "kiosk") == {"skills_exam"}
    assert rules.for_device("hospital", "gate") == frozenset()
    assert rules.for_staff("school") == {"personal", "campus_safety", "skills_exam"}
    assert rules.for_staff("hospital") == {"personal"}
    for bad in ("[1]", "{", '{"school": ["x"]}', '{"school/toaster": ["x"]}', '{"school/gate": "x"}',
                '{"school/gate": ["place_checkin"]}', '{"school/gate": ["Bad Purpose"]}'):
        with pytest.raises(ConfigError):
            parse_rules(bad)
    assert parse_rules('{"*/gate": ["parking"]}') == {("*", "gate"): frozenset({"parking"})}


def test_an_erased_person_s_live_code_stops_working(client, session, clock, keyring, people):
    token = personal_for(session, clock, keyring, people["zhang"])
    assert client.delete("/api/v1/me", headers=people["resident"]).status_code in (200, 204)
    r = post_verify(client, people["device_auth"]["sentinel"], token)
    assert r.status_code == 409 and r.get_json()["code"] == "qr_revoked"


@pytest.mark.skipif(backend() != "postgresql", reason="synchronous_commit is PostgreSQL's")
def test_relaxed_durability_is_only_for_the_transactions_that_ask(migrated_db, clock, keyring):
    from sqlalchemy.orm import Session

    from qr.models import QrUsedJti

    holder = 987_654_321  # real transactions on their own connection: rows are removed below
    s = Session(bind=migrated_db.engine, expire_on_commit=False)

    def setting() -> str:
        return s.execute(sa.text("SHOW synchronous_commit")).scalar_one()

    def code(relaxed: bool = False):
        return issue_personal(s, holder_type="person", holder_id=holder, clock=clock, keyring=keyring,
                              relaxed=relaxed)

    try:
        code()
        assert setting() == "on"
        s.commit()
        code(relaxed=True)
        assert setting() == "off"  # this transaction only
        s.commit()
        assert setting() == "on"
        plain, relaxed = code().token, code().token
        s.commit()
        verify(s, plain, clock=clock, allowed_purposes={"personal"}, keyring=keyring)
        assert setting() == "on"
        s.commit()
        verify(s, relaxed, clock=clock, allowed_purposes={"personal"}, keyring=keyring, relaxed=True)
        assert setting() == "off"
        s.commit()
        with pytest.raises(QrError) as exc:  # a rejection relaxes too, and is still recorded
            verify(s, "junk", clock=clock, allowed_purposes={"personal"}, keyring=keyring, relaxed=True)
        assert exc.value.code == "qr_malformed" and setting() == "off"
        s.commit()
        assert s.scalar(sa.select(sa.func.count()).select_from(QrScan).where(QrScan.result == "qr_malformed"))
    finally:
        s.rollback()
        subs = [r.sub for r in s.scalars(sa.select(QrSubject).where(QrSubject.holder_id == holder))]
        s.execute(sa.delete(QrSubject).where(QrSubject.holder_id == holder))
        s.execute(sa.delete(QrScan).where(QrScan.at == clock.now()))
        s.execute(sa.delete(QrUsedJti).where(QrUsedJti.used_at == clock.now()))
        s.commit()
        s.close()
        assert subs
