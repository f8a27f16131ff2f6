"""The retention schedule: an entry for every table holding personal data, each enforced by a
periodic job that exists (or by account cancellation), public at /api/v1/privacy/retention,
and ``enforce_retention`` deletes exactly what is past its period."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.models import metadata
from app.periodic import PERIODIC_JOBS
from app.privacy.consents import Consent
from app.privacy.parts import person_data_tables
from app.privacy.retention import enforce_retention, schedule
from auth.models import AuditEntry
from tests.support.factories import count, make_org, make_resident, make_staff

NOW = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


def test_every_table_holding_personal_data_has_an_entry(app):
    entries = schedule()
    tables = [k.table for k in entries]
    assert len(tables) == len(set(tables)), "a table has two entries"
    missing = sorted(person_data_tables(metadata) - set(tables))
    assert missing == [], f"tables with personal data and no retention entry: {missing}"
    for k in entries:
        assert k.table in metadata.tables, k.table
        assert k.job is None or k.job in PERIODIC_JOBS, f"{k.table}: no periodic job {k.job!r}"
        assert (k.purge is None) or (k.keep is not None), f"{k.table}: a purge needs a period"
        assert k.keep is None or k.job or k.purge, f"{k.table}: a period nothing enforces"
    assert "enforce_retention" in PERIODIC_JOBS


def test_the_schedule_is_public(client):
    got = client.get("/api/v1/privacy/retention")
    assert got.status_code == 200
    items = {i["table"]: i for i in got.get_json()["items"]}
    assert items["checkins"]["keep_days"] == 28 and items["checkins"]["enforced_by"] == "purge_checkins"
    assert items["audit_entries"]["enforced_by"] == "enforce_retention"
    assert items["persons"]["keep_days"] is None and items["persons"]["enforced_by"] == "account_cancellation"


@pytest.fixture
def rows(ctx, session, clock):
    clock.set(NOW)
    alice = make_resident(session, name="王小明")
    org = make_org(session, "property_company")
    staff = make_staff(session, org, "manager")
    three_years = timedelta(days=3 * 365)
    for at in (NOW - three_years - timedelta(minutes=1), NOW - three_years + timedelta(minutes=1)):
        session.add(AuditEntry(at=at, actor_account_id=staff.id, acting_org_id=org.id,
                               subject_person_id=alice.person_id, fields=["phone"], reason="上门维修"))
    session.add_all([
        Consent(person_id=alice.person_id, purpose="wechat_subscription", version="1",
                given_at=NOW - 2 * three_years, withdrawn_at=NOW - three_years - timedelta(days=1)),
        Consent(person_id=alice.person_id, purpose="service_notices", version="1",
                given_at=NOW - 2 * three_years, withdrawn_at=NOW - timedelta(days=1)),
        Consent(person_id=alice.person_id, purpose="precise_location_taxi", version="1",
                given_at=NOW - 2 * three_years),  # active: kept however old
    ])
    session.commit()
    return alice


def test_enforcement_deletes_exactly_what_is_past_its_period(rows, session, clock):
    enforce_retention(session, clock)
    session.commit()
    assert [e.at for e in session.query(AuditEntry).all()] == [NOW - timedelta(days=3 * 365) + timedelta(minutes=1)]
    assert sorted(c.purpose for c in session.query(Consent).all()) == ["precise_location_taxi", "service_notices"]
    assert count(session, AuditEntry) == 1
