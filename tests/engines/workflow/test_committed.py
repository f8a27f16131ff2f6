"""property-repair on a real database (commits between connections), on both SQLite and
PostgreSQL: a create with ``Idempotency-Key`` must not wait on its own request's transaction
(on SQLite a write transaction holds the database's write lock) and replays once."""
from __future__ import annotations

import time

import sqlalchemy as sa

from auth.models import Account
from scenarios.engines.workflow.models import Ticket
from tests.support.factories import bearer, token_for
from tests.support.workflow import BASE, build_committed


def test_idempotent_create_commits_and_replays_without_waiting(_app, committed_db, clock):
    world = build_committed(committed_db, on=clock.now().date())
    with _app.app_context(), committed_db.transaction() as s:
        token = token_for(s, clock, s.get(Account, world.resident.account_id))
    client = _app.test_client()
    headers = {**bearer(token), "Idempotency-Key": "committed-create-0001"}
    body = {"category": "水电", "text": "楼道水管爆了", "community_code": world.community_code}
    started = time.monotonic()
    first = client.post(f"{BASE}/tickets", json=body, headers=headers)
    again = client.post(f"{BASE}/tickets", json=body, headers=headers)
    assert time.monotonic() - started < 5  # no busy-timeout wait (10 s) anywhere
    assert first.status_code == 201, first.get_json()
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    ack = client.post(f"{BASE}/tickets/{first.get_json()['id']}/acknowledge", json={},
                      headers={**bearer(token), "Idempotency-Key": "committed-ack-000001"})
    assert ack.status_code == 403  # a resident may not acknowledge; answered at once all the same
    with committed_db.transaction(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1
