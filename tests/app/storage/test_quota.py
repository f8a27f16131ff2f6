"""The daily upload quota: per account, per Beijing day, 429 with our body, an upload that
fails gives its slot back, past days purged, and at the boundary concurrent uploads on
PostgreSQL never take more than the quota."""
from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from PIL import Image

from app.storage.models import Upload
from app.storage.quota import DEFAULT_DAILY_QUOTA, UploadQuotaDay, daily_quota, purge_old_days
from auth.ratelimit import reset
from tests.support.factories import bearer, count, make_org, make_resident, make_staff, token_for


def jpeg(color: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, "JPEG")
    return buf.getvalue()


def upload(client, headers, data: bytes | None = None):
    return client.post("/api/v1/uploads", data={"file": (io.BytesIO(data or jpeg()), "a.jpg", "image/jpeg")},
                       headers=headers, content_type="multipart/form-data")


@pytest.fixture
def people(ctx, reset_rate_limits, session):
    a, b = make_resident(session), make_resident(session)
    org = make_org(session, "property_company")
    staff = make_staff(session, org, "manager")
    session.commit()
    return a, b, staff, org


@pytest.fixture
def at(people, session, clock):
    """``at(when)``: the clock set to ``when`` and tokens minted then (they would expire)."""
    a, b, staff, org = people

    def set_clock(when: datetime) -> dict:
        clock.set(when)
        return {"a": (a, bearer(token_for(session, clock, a))), "b": (b, bearer(token_for(session, clock, b))),
                "staff": (staff, bearer(token_for(session, clock, staff, org)))}

    return set_clock


NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def test_the_quota_is_per_account_and_answers_429_with_our_body(client, at, settings_override, session):
    settings_override(UPLOAD_DAILY_QUOTA="3")
    callers = at(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))  # 20:00 in Beijing: 4 hours to midnight
    _, a = callers["a"]
    assert [upload(client, a).status_code for _ in range(3)] == [201, 201, 201]
    refused = upload(client, a)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["code"] == "upload_quota_exceeded" and body["request_id"] and body["quota"] == 3
    assert refused.headers["Retry-After"] == str(4 * 3600 + 1)
    assert upload(client, callers["b"][1]).status_code == 201  # another account has its own
    assert upload(client, callers["staff"][1]).status_code == 201  # staff count too, on their own
    assert count(session, Upload, Upload.owner_account_id == callers["a"][0].id) == 3


def test_the_day_is_beijings(client, at, settings_override, clock):
    settings_override(UPLOAD_DAILY_QUOTA="1")
    _, a = at(datetime(2026, 12, 4, 15, 59, tzinfo=UTC))["a"]  # 23:59 in Beijing
    assert upload(client, a).status_code == 201
    assert upload(client, a).status_code == 429
    clock.set(datetime(2026, 12, 4, 16, 0, tzinfo=UTC))  # 00:00 the next day in Beijing, same UTC day
    assert upload(client, a).status_code == 201


def test_a_refused_image_gives_its_slot_back(client, at, settings_override, session):
    settings_override(UPLOAD_DAILY_QUOTA="2")
    callers = at(NOON)
    _, a = callers["a"]
    bad = upload(client, a, b"\xff\xd8\xff\xe0 not really a jpeg")
    assert bad.status_code in {415, 422}, bad.get_json()
    assert [upload(client, a).status_code for _ in range(3)] == [201, 201, 429]
    assert session.scalar(sa.select(UploadQuotaDay.count).where(UploadQuotaDay.account_id == callers["a"][0].id)) == 2


def test_the_setting(settings):
    assert daily_quota({"UPLOAD_DAILY_QUOTA": "7"}) == 7
    assert daily_quota({}) == DEFAULT_DAILY_QUOTA
    assert daily_quota({"UPLOAD_DAILY_QUOTA": "0"}) == 1
    assert daily_quota({"UPLOAD_DAILY_QUOTA": "lots"}) == DEFAULT_DAILY_QUOTA


def test_days_before_yesterday_are_purged(session, clock, people):
    account = people[0]
    clock.set(datetime(2026, 12, 4, 17, 0, tzinfo=UTC))  # 01:00 on 5 December in Beijing
    for day in (1, 2, 3, 4, 5):
        session.add(UploadQuotaDay(account_id=account.id, day=datetime(2026, 12, day).date(), count=1))
    session.flush()
    assert purge_old_days(session, clock) == 3
    kept = session.scalars(sa.select(UploadQuotaDay.day).where(UploadQuotaDay.account_id == account.id)).all()
    assert sorted(d.day for d in kept) == [4, 5]


# ---------------------------------------------------------------- the race, on PostgreSQL


def test_concurrent_uploads_at_the_boundary_never_exceed_the_quota(_app, committed_db):
    if committed_db.dialect != "postgresql":
        pytest.skip("a real race needs PostgreSQL (SQLite serialises writers)")
    reset(_app)  # not the module's other fixtures: they bind the app to one rolled-back connection
    extra = _app.extensions["settings"].extra
    saved = dict(extra)
    extra["UPLOAD_DAILY_QUOTA"] = "4"
    try:
        login = _app.test_client().post("/api/v1/auth/dev/login", json={"openid": "quota-race"}).get_json()
        headers = bearer(login["access_token"])
        assert upload(_app.test_client(), headers).status_code == 201  # one taken before the race
        n = 8
        barrier = threading.Barrier(n)
        results: list[int] = []
        data = [jpeg((i * 20, 40, 60)) for i in range(n)]

        def call(i: int) -> None:
            client = _app.test_client()
            barrier.wait()
            results.append(upload(client, headers, data[i]).status_code)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [201] * 3 + [429] * 5, results  # both outcomes, and no more than 4 in all
        with committed_db.transaction(write=False) as s:
            account_id = login["account"]["id"] if "account" in login else None
            owners = s.scalars(sa.select(Upload.owner_account_id)).all()
            assert len(owners) == 4 and len(set(owners)) == 1 and account_id in (None, owners[0])
            assert s.scalar(sa.select(UploadQuotaDay.count)) == 4
    finally:
        extra.clear()
        extra.update(saved)
        reset(_app)


def test_slots_are_counted_in_the_request_transaction(client, at, settings_override, session, clock):
    """The count and the upload commit together: the count equals the uploads made today."""
    settings_override(UPLOAD_DAILY_QUOTA="5")
    callers = at(NOON)
    _, b = callers["b"]
    for _ in range(2):
        assert upload(client, b).status_code == 201
    clock.advance(minutes=5)
    assert upload(client, b).status_code == 201
    assert session.scalar(sa.select(UploadQuotaDay.count).where(UploadQuotaDay.account_id == callers["b"][0].id)) == 3
