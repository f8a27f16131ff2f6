"""Racing flags of one read on PostgreSQL (real commits): one ticket, every answer naming it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import AuditEntry
from auth.organisations import Organisation
from auth.ratelimit import reset
from scenarios.engines.workflow.models import Ticket
from scenarios.privacy_flags.models import PfFlag
from tests.auth.test_race import run_together
from tests.support.factories import bearer, make_org, make_resident, make_staff, token_for


@pytest.fixture
def real(_app, committed_db):
    if committed_db.dialect != "postgresql":
        pytest.skip("a real race needs PostgreSQL (SQLite serialises writers)")
    reset(_app)
    return _app


def test_concurrent_flags_of_one_read_make_one_ticket(real, committed_db, _clock):
    with real.app_context(), committed_db.transaction() as s:
        if s.scalar(sa.select(Organisation.id).where(Organisation.type == "district", Organisation.active)) is None:
            make_org(s, "district")
        bureau = make_org(s, "bureau")
        reader = make_staff(s, bureau, "supervisor")
        alice = make_resident(s, name="王小明")
        entry = AuditEntry(at=_clock.now(), actor_account_id=reader.id, acting_org_id=bureau.id,
                           subject_person_id=alice.person_id, fields=["phone"], reason="核实")
        s.add(entry)
        s.flush()
        entry_id, alice_id = entry.id, alice.id
        headers = bearer(token_for(s, _clock, alice))

    def flag():
        try:
            resp = real.test_client().post(f"/api/v1/me/data-access/{entry_id}/flag", json={"note": "不认识"},
                                           headers=headers)
            return resp.status_code, resp.get_json().get("ticket_id")
        except Exception as exc:
            return repr(exc), None

    results = run_together(6, flag)
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 200, 201], results
    assert len({ticket for _, ticket in results}) == 1
    with committed_db.transaction() as s:
        tickets = s.scalars(sa.select(Ticket.id).where(Ticket.reporter_account_id == alice_id,
                                                       Ticket.scenario == "privacy-flags")).all()
        assert tickets == [results[0][1]]
        assert s.get(PfFlag, entry_id).ticket_id == tickets[0]
