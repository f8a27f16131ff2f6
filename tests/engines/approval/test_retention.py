"""The approval engine's retention: a decided application's form, note and applicant are taken
off three years after the decision (the row and its state stay); an open one, or one decided
within three years, is untouched."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.privacy.retention import enforce_retention
from scenarios.engines.approval.models import ApApplication
from tests.support.factories import make_org, make_resident

pytestmark = pytest.mark.usefixtures("ctx")

NOW = datetime(2030, 6, 1, 4, 0, tzinfo=UTC)
THREE_YEARS = timedelta(days=3 * 365)


def test_decided_applications_are_anonymised_after_three_years(app, session, clock):
    clock.set(NOW)
    alice = make_resident(session, name="王小明")
    org = make_org(session, "village_committee")
    form = {"tenants": [{"name": "租客", "id_number": "510104199001010011"}]}

    def application(state: str, decided_at: datetime | None) -> ApApplication:
        row = ApApplication(scenario="test", applicant_account_id=alice.id, applicant_person_id=alice.person_id,
                            org_id=org.id, form=form, state=state, note="请尽快", decided_at=decided_at,
                            created_at=NOW - 2 * THREE_YEARS, updated_at=NOW - 2 * THREE_YEARS)
        session.add(row)
        return row

    old = application("approved", NOW - THREE_YEARS - timedelta(hours=1))
    application("rejected", NOW - THREE_YEARS + timedelta(hours=1))
    application("submitted", None)
    session.commit()
    assert enforce_retention(session, clock) >= 1
    session.commit()
    rows = session.scalars(sa.select(ApApplication).order_by(ApApplication.id)).all()
    assert [(r.form, r.note, r.applicant_person_id) for r in rows] == [
        ({}, None, None), (form, "请尽快", alice.person_id), (form, "请尽快", alice.person_id)]
    assert rows[0].id == old.id and rows[0].state == "approved" and rows[0].applicant_account_id == alice.id
    before = session.scalar(sa.select(sa.func.count()).select_from(ApApplication))
    enforce_retention(session, clock)  # again: nothing left to anonymise, nothing deleted
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(ApApplication)) == before
