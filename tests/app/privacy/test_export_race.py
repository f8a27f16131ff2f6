"""Racing export requests on PostgreSQL (real commits): one export per person per day, however
many requests arrive at once; one build timer."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.privacy.models import DataExport
from app.timers import Timer
from auth.ratelimit import reset
from tests.auth.test_race import run_together
from tests.support.factories import bearer, make_resident, token_for


@pytest.fixture
def real(_app, committed_db):
    if committed_db.dialect != "postgresql":
        pytest.skip("a real race needs PostgreSQL (SQLite serialises writers)")
    reset(_app)
    return _app


def test_concurrent_requests_make_one_export(real, committed_db, _clock, tmp_path):
    real.extensions["settings"].extra["EXPORT_DIR"] = str(tmp_path)
    try:
        with real.app_context(), committed_db.transaction() as s:
            account = make_resident(s, name="王小明")
            headers = bearer(token_for(s, _clock, account))
            person_id = account.person_id

        def ask():
            try:
                return real.test_client().post("/api/v1/me/export", json={}, headers=headers).status_code
            except Exception as exc:
                return repr(exc)

        results = run_together(6, ask)
    finally:
        real.extensions["settings"].extra.pop("EXPORT_DIR", None)
    assert sorted(results, key=str) == [202, 429, 429, 429, 429, 429], results
    with committed_db.transaction() as s:
        ids = s.scalars(sa.select(DataExport.id).where(DataExport.person_id == person_id)).all()
        assert len(ids) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.subject_type == "data_export", Timer.subject_id == str(ids[0]))) == 1
