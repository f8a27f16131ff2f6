"""privacy-flags (issue 22): a resident flags a staff read of their data as unexpected; the
district's administrators get one ticket per read with the read attached, under a time limit of
15 working days; the resident is told of the outcome. Only one's own reads: else 404."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from auth.models import AuditEntry
from scenarios.engines.workflow.models import Ticket
from scenarios.privacy_flags.models import PfFlag
from tests.support.reports import DISTRICT, get, messages, people, post

pytestmark = pytest.mark.usefixtures("ctx")

BASE = "/api/v1/privacy-flags"
WATER = "310116-bureau-water"
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=CST)  # a working Monday


@pytest.fixture
def pf(app, session, clock):
    clock.set(MONDAY_10.astimezone(UTC))
    wf = people(session, clock, staff={"reader": (WATER, "supervisor"), "admin": (DISTRICT, "admin")},
                residents=["alice", "bob"])
    for who in ("alice", "bob"):
        entry = AuditEntry(at=clock.now() - timedelta(hours=2), actor_account_id=wf.id("reader"),
                           acting_org_id=wf.orgs["reader"].id, subject_person_id=wf.accounts[who].person_id,
                           fields=["phone"], reason="核实报修地址")
        session.add(entry)
        session.flush()
        wf.extra = {**getattr(wf, "extra", {}), who: entry.id}
    session.commit()
    return wf


def flag(client, pf, who: str, entry_id: int, note: str | None = "我没有报修过", expect: int = 201, **headers):
    return post(client, pf, who, f"/api/v1/me/data-access/{entry_id}/flag", {"note": note}, expect=expect, **headers)


def test_a_flag_is_a_district_ticket_with_the_read_attached_and_a_time_limit(client, pf, session):
    got = flag(client, pf, "alice", pf.extra["alice"])
    assert got["flagged_before"] is False and got["status"] == "submitted" and got["number"].startswith("PF")
    ticket = session.get(Ticket, got["ticket_id"])
    assert ticket.scenario == "privacy-flags" and ticket.reporter_account_id == pf.id("alice")
    assert ticket.org_id == pf.orgs["admin"].id and ticket.dispatch_org_id == pf.orgs["admin"].id
    audit = ticket.details["audit"]
    assert audit["audit_entry_id"] == pf.extra["alice"] and audit["fields"] == ["phone"]
    assert audit["reason"] == "核实报修地址" and audit["organisation_code"] == WATER and audit["role"] == "supervisor"
    assert "我没有报修过" in ticket.text
    assert ticket.calendar == "business" and ticket.resolution_minutes == 15 * 8 * 60
    # the district's administrators see it in their queue and are told
    queue = get(client, pf, "admin", f"{BASE}/queue")
    assert [t["id"] for t in queue["items"]] == [ticket.id]
    told = messages(session, ticket.id, "ticket_received")
    assert [m.recipient_id for m in told] == [str(pf.id("admin"))]


def test_flagging_twice_or_with_another_key_makes_one_ticket(client, pf, session):
    first = flag(client, pf, "alice", pf.extra["alice"], **{"Idempotency-Key": "flag-once-1"})
    again = flag(client, pf, "alice", pf.extra["alice"], note="再说一次", expect=200)
    assert again["ticket_id"] == first["ticket_id"] and again["flagged_before"] is True
    replay = flag(client, pf, "alice", pf.extra["alice"], expect=201, **{"Idempotency-Key": "flag-once-1"})
    assert replay == first
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.scenario == "privacy-flags")) == 1
    assert session.get(PfFlag, pf.extra["alice"]).ticket_id == first["ticket_id"]


@pytest.mark.parametrize("who", ["bob", "reader", "admin"])
def test_only_ones_own_reads_404_alike_for_anyone_else(client, pf, who):
    hidden = flag(client, pf, who, pf.extra["alice"], expect=404)
    missing = flag(client, pf, who, 999_999_999, expect=404)
    assert hidden["code"] == missing["code"] == "not_found"


def test_the_engines_own_filing_route_files_no_flag(client, pf):
    body = {"category": "查看异议", "text": "随便投诉"}
    assert post(client, pf, "alice", f"{BASE}/tickets", body, expect=403)["code"] == "forbidden"


def test_bad_notes_are_422_naming_the_field(client, pf):
    got = flag(client, pf, "alice", pf.extra["alice"], note="长" * 501, expect=422)
    assert "note" in got["errors"]


@pytest.mark.parametrize("outcome, template", [("resolve", "ticket_resolved"), ("reject", "ticket_rejected")])
def test_the_resident_is_told_the_outcome(client, pf, session, outcome, template):
    got = flag(client, pf, "alice", pf.extra["alice"])
    post(client, pf, "admin", f"{BASE}/tickets/{got['ticket_id']}/acknowledge")
    body = {"note": "已核实，已提醒其说明理由"} if outcome == "resolve" else {"reason": "查看有正当理由"}
    post(client, pf, "admin", f"{BASE}/tickets/{got['ticket_id']}/{outcome}", body)
    told = messages(session, got["ticket_id"], template)
    assert [(m.recipient_kind, m.recipient_id) for m in told] == [("account", str(pf.id("alice")))]
    mine = get(client, pf, "alice", f"{BASE}/tickets/{got['ticket_id']}")
    assert mine["status"] == ("resolved" if outcome == "resolve" else "rejected")


def test_demo_data_loads_twice_without_change(app, db, clock):
    from app.models import metadata
    from scenarios.privacy_flags.demo import load

    def counts(s):
        return {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with app.app_context():
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            first = counts(s)
            flagged = s.scalars(sa.select(Ticket).where(Ticket.scenario == "privacy-flags")).all()
            assert [t.details["audit"]["reason"] for t in flagged] == ["查看"]
        clock.advance(minutes=5)
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            assert counts(s) == first
    assert first["pf_flags"] == 1 and first["audit_entries"] >= 2
