"""``/api/v1/me/subscriptions``: the mini-program reports which templates the resident accepted."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.notify.templates import current_registry
from app.wechat.grants import MAX_OPEN_PER_TEMPLATE
from app.wechat.models import SubscriptionGrant
from tests.support.factories import bearer, make_resident, make_staff, place_world, token_for
from tests.support.notify import count

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

URL = "/api/v1/me/subscriptions"


def tid(name: str) -> str:
    return current_registry().get(name).wechat.template_id


def resident_token(session, clock) -> tuple[int, dict[str, str]]:
    account = make_resident(session)
    token = token_for(session, clock, account)
    session.commit()
    return account.id, bearer(token)


def test_accepted_templates_become_one_grant_each(client, session, clock):
    account_id, auth = resident_token(session, clock)
    ack, done, esc = tid("ticket_acknowledged"), tid("ticket_resolved"), tid("ticket_escalated")
    resp = client.post(URL, json={"template_ids": [ack, done, esc], "accepted": [ack, esc]}, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["stored"] == 2
    available = {i["template_id"]: i["available"] for i in body["items"]}
    assert available[ack] == 1 and available[esc] == 1 and available[done] == 0
    client.post(URL, json={"template_ids": [ack], "accepted": [ack]}, headers=auth)
    items = client.get(URL, headers=auth).get_json()["items"]
    assert {i["name"]: i["available"] for i in items}["ticket_acknowledged"] == 2
    assert {i["name"] for i in items} >= {"ticket_acknowledged", "ticket_resolved", "ticket_escalated"}
    assert count(session, SubscriptionGrant, SubscriptionGrant.account_id == account_id) == 3
    grant = session.scalars(sa.select(SubscriptionGrant).where(SubscriptionGrant.account_id == account_id)).first()
    assert grant.granted_at == clock.now() and grant.consumed_at is None


def test_refused_templates_store_nothing(client, session, clock):
    account_id, auth = resident_token(session, clock)
    resp = client.post(URL, json={"template_ids": [tid("ticket_resolved")], "accepted": []}, headers=auth)
    assert resp.status_code == 201 and resp.get_json()["stored"] == 0
    assert count(session, SubscriptionGrant, SubscriptionGrant.account_id == account_id) == 0


def test_unknown_template_is_422_naming_the_field(client, session, clock):
    account_id, auth = resident_token(session, clock)
    resp = client.post(URL, json={"template_ids": [tid("ticket_resolved"), "no-such-template"],
                                  "accepted": ["no-such-template"]}, headers=auth)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "subscription_template_unknown"
    assert list(body["errors"]) == ["template_ids.1"] and "no-such-template" in body["errors"]["template_ids.1"][0]
    assert count(session, SubscriptionGrant, SubscriptionGrant.account_id == account_id) == 0


def test_accepted_must_be_among_the_requested(client, session, clock):
    _, auth = resident_token(session, clock)
    resp = client.post(URL, json={"template_ids": [tid("ticket_resolved")],
                                  "accepted": [tid("ticket_acknowledged")]}, headers=auth)
    assert resp.status_code == 422
    assert resp.get_json()["code"] == "validation_error" and "accepted.0" in resp.get_json()["errors"]


def test_bad_shapes_are_422(client, session, clock):
    _, auth = resident_token(session, clock)
    for body, field in [({}, "template_ids"), ({"template_ids": []}, "template_ids"),
                        ({"template_ids": ["x"] * 11}, "template_ids"), ({"template_ids": [""]}, "template_ids.0"),
                        ({"template_ids": ["a"], "extra": 1}, "extra")]:
        resp = client.post(URL, json=body, headers=auth)
        assert resp.status_code == 422 and field in resp.get_json()["errors"], (body, resp.get_json())


def test_open_grants_are_capped(client, session, clock):
    account_id, auth = resident_token(session, clock)
    ack = tid("ticket_acknowledged")
    session.execute(sa.insert(SubscriptionGrant), [{"account_id": account_id, "template_id": ack,
                                                    "granted_at": clock.now()}] * MAX_OPEN_PER_TEMPLATE)
    session.commit()
    resp = client.post(URL, json={"template_ids": [ack], "accepted": [ack]}, headers=auth)
    assert resp.status_code == 201 and resp.get_json()["stored"] == 0


def test_a_retried_report_with_its_idempotency_key_stores_once(client, session, clock):
    account_id, auth = resident_token(session, clock)
    ack = tid("ticket_acknowledged")
    headers = {**auth, "Idempotency-Key": "subscribe-0001"}
    first = client.post(URL, json={"template_ids": [ack], "accepted": [ack]}, headers=headers)
    again = client.post(URL, json={"template_ids": [ack], "accepted": [ack]}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert count(session, SubscriptionGrant, SubscriptionGrant.account_id == account_id) == 1


def test_only_residents(client, session, clock):
    assert client.get(URL).status_code == 401
    world = place_world(session)
    staff = make_staff(session, world.district, "admin")
    auth = bearer(token_for(session, clock, staff, world.district))
    session.commit()
    assert client.post(URL, json={"template_ids": ["x"]}, headers=auth).status_code == 403
