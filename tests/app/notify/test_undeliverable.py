"""``GET /api/v1/admin/notify/undeliverable``: urgent notices whose every attempt ended unsent,
for district administrators (all) and an organisation's managers (their own staff)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.notify.models import OutboxMessage
from tests.support.factories import bearer, make_org, make_staff, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PATH = "/api/v1/admin/notify/undeliverable"


@pytest.fixture
def world(session, clock):
    district = make_org(session, "district")
    a, b = make_org(session, "property_company"), make_org(session, "property_company")
    people = {"admin": (make_staff(session, district, "admin"), district),
              "manager_a": (make_staff(session, a, "manager"), a), "tech_a": (make_staff(session, a, "technician"), a),
              "manager_b": (make_staff(session, b, "manager"), b), "tech_b": (make_staff(session, b, "technician"), b)}
    session.commit()
    now = clock.now()

    def row(event: str, kind: str, rid: int, channel: str, state: str, *, urgent: bool = True, ago: float = 1,
            error: str | None = None) -> None:
        at = now - timedelta(days=ago)
        session.add(OutboxMessage(event_key=event, recipient_kind=kind, recipient_id=str(rid), channel=channel,
                                  template="ticket_escalated", payload={}, urgent=urgent, state=state, attempts=1,
                                  last_error=error, created_at=at, updated_at=at))

    tech_a, tech_b = people["tech_a"][0].id, people["tech_b"][0].id
    row("e1", "account", tech_a, "wecom", "failed", error="no WeCom id")
    row("e1", "account", tech_a, "sms", "skipped", error="no phone")  # nobody reached: listed
    row("e2", "account", tech_a, "wecom", "failed", error="invalid WeCom user")
    row("e2", "account", tech_a, "sms", "sent")  # the fallback reached them: not listed
    row("e3", "account", tech_a, "wecom", "failed")
    row("e3", "account", tech_a, "sms", "pending")  # still trying: not listed
    row("e4", "account", tech_a, "wecom", "failed", urgent=False)  # not urgent: not listed
    row("e5", "account", tech_a, "wecom", "failed", ago=20)  # too old for the default 7 days
    row("e6", "account", tech_b, "wecom", "failed", error="no WeCom id")  # the other company's
    row("e7", "org", a.id, "wecom", "skipped", error="no staff to reach")  # company A itself
    session.commit()
    tokens = {name: bearer(token_for(session, clock, acc, org)) for name, (acc, org) in people.items()}
    session.commit()
    return {"a": a, "b": b, "tokens": tokens, "tech_a": tech_a, "tech_b": tech_b}


def _events(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_json()
    return sorted(item["event_key"] for item in resp.get_json()["items"])


def test_a_district_administrator_sees_every_undeliverable_notice_and_why(client, world):
    resp = client.get(PATH, headers=world["tokens"]["admin"])
    assert _events(resp) == ["e1", "e6", "e7"]
    (e1,) = [i for i in resp.get_json()["items"] if i["event_key"] == "e1"]
    assert e1["recipient"]["kind"] == "account" and e1["recipient"]["id"] == world["tech_a"]
    assert [(a["channel"], a["state"], a["reason"]) for a in e1["attempts"]] == [
        ("wecom", "failed", "no WeCom id"), ("sms", "skipped", "no phone")]
    assert _events(client.get(PATH, query_string={"days": 30}, headers=world["tokens"]["admin"])) == [
        "e1", "e5", "e6", "e7"]


def test_a_manager_sees_their_own_staff_only(client, world):
    a, b = world["a"].code, world["b"].code
    assert _events(client.get(PATH, query_string={"org": a}, headers=world["tokens"]["manager_a"])) == ["e1", "e7"]
    assert _events(client.get(PATH, query_string={"org": b}, headers=world["tokens"]["manager_b"])) == ["e6"]
    # another company: not visible; a technician: visible but not allowed; no organisation named: 422
    assert client.get(PATH, query_string={"org": b}, headers=world["tokens"]["manager_a"]).status_code == 404
    assert client.get(PATH, query_string={"org": a}, headers=world["tokens"]["tech_a"]).status_code == 403
    missing = client.get(PATH, headers=world["tokens"]["manager_a"])
    assert missing.status_code == 422 and "org" in missing.get_json()["errors"]


@pytest.mark.parametrize("days", ["0", "91", "x"])
def test_bad_days(client, world, days):
    resp = client.get(f"{PATH}?days={days}", headers=world["tokens"]["admin"])
    assert resp.status_code == 422
