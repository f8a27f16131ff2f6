"""``GET /metrics``: hidden without the token, then requests by route (never by path), and the
database's gauges as they stand."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.timers import Timer

TOKEN = "metrics-token-for-tests"


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def scrape(client, settings_override):
    settings_override(METRICS_TOKEN=TOKEN)

    def get() -> str:
        resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
        return resp.get_data(as_text=True)

    return get


def test_hidden_without_the_token(client, settings_override):
    assert client.get("/metrics").status_code == 404  # no token configured
    settings_override(METRICS_TOKEN=TOKEN)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"


def test_requests_are_counted_by_route_and_status(client, scrape):
    before = scrape()
    route = "/api/v1/communities/<string:code>"
    was = _sample(before, "jinshan_http_requests_total", route=route, status="404") or 0
    for code in ("nope-1", "nope-2", "nope-3"):
        assert client.get(f"/api/v1/communities/{code}").status_code == 404
    after = scrape()
    assert _sample(after, "jinshan_http_requests_total", route=route, status="404") == was + 3
    assert "nope-1" not in after  # the path never becomes a label
    assert (_sample(after, "jinshan_http_request_duration_seconds_count", route=route, method="GET") or 0) >= 3


def test_database_gauges(client, scrape, session, clock):
    now = clock.now()
    session.execute(sa.delete(Timer).where(Timer.state == "pending"))
    session.add_all([
        Timer(subject_type="t", subject_id="1", kind="k", level=0, due_at=now - timedelta(seconds=90),
              state="pending", attempts=0, created_at=now),
        Timer(subject_type="t", subject_id="2", kind="k", level=0, due_at=now - timedelta(seconds=5),
              state="pending", attempts=0, created_at=now),
        Timer(subject_type="t", subject_id="3", kind="k", level=0, due_at=now + timedelta(minutes=5),
              state="pending", attempts=0, created_at=now),
        Timer(subject_type="t", subject_id="4", kind="k", level=0, due_at=now - timedelta(hours=5),
              state="fired", attempts=0, created_at=now),
    ])
    session.execute(sa.delete(OutboxMessage))
    for i, (channel, state) in enumerate([("sms", "pending"), ("sms", "pending"), ("wecom", "pending"),
                                          ("sms", "sent")]):
        session.add(OutboxMessage(event_key=f"e{i}", recipient_kind="account", recipient_id="1", channel=channel,
                                  template="t", payload={}, urgent=False, state=state, attempts=0, created_at=now,
                                  updated_at=now))
    session.commit()
    text = scrape()
    assert _sample(text, "jinshan_timers_due") == 2
    assert _sample(text, "jinshan_timers_oldest_overdue_seconds") == pytest.approx(90, abs=1)
    assert _sample(text, "jinshan_outbox_backlog", channel="sms") == 2
    assert _sample(text, "jinshan_outbox_backlog", channel="wecom") == 1


def test_counts_after_commit_land_only_when_the_transaction_commits(db):
    """A timer batch that fails and is re-run one timer at a time must not count its breaches
    twice: counts wait for the commit and vanish with a rollback."""
    from prometheus_client import CollectorRegistry, Counter

    from app.metrics import count_after_commit

    counter = Counter("t_after_commit", "test", ["k"], registry=CollectorRegistry())
    child = counter.labels("x")
    with pytest.raises(RuntimeError), db.transaction() as s:
        count_after_commit(s, child)
        raise RuntimeError("the batch failed")
    assert child._value.get() == 0
    with db.transaction() as s:
        count_after_commit(s, child)
        count_after_commit(s, child, 2)
        assert child._value.get() == 0  # not yet: the transaction is open
    assert child._value.get() == 3
