"""The dispatch engine through its test scenario (``dp-test``): offers in order of distance, a
batch at a time, timeouts as timers, re-offer, acceptance, stages, cancellation, unserved,
and the odd input the issue names (each a 4xx with its code)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.timers import Timer
from scenarios.engines.dispatch.models import DispatchAgent, DispatchEvent, DispatchJob, DispatchOffer
from tests.engines.dispatch.scenario import CONFIG


def offers_of(dp, job_id: int) -> list[tuple[str, int, str]]:
    """(driver name, round, state) of the job's offers, in the order made."""
    dp.session.expire_all()
    names = {a.id: n for n, a in dp.accounts.items()}
    rows = dp.session.execute(sa.select(DispatchAgent.account_id, DispatchOffer.round, DispatchOffer.state)
                              .join(DispatchAgent, DispatchAgent.id == DispatchOffer.agent_id)
                              .where(DispatchOffer.job_id == job_id).order_by(DispatchOffer.id)).all()
    return [(names[a], r, s) for a, r, s in rows]


def timer_of(dp, job_id: int) -> tuple[str, object] | None:
    dp.session.expire_all()
    t = dp.session.scalar(sa.select(Timer).where(Timer.subject_type == "dispatch_job", Timer.subject_id == str(job_id)))
    return (t.state, t.due_at) if t else None


def outbox(dp, job_id: int) -> list[tuple[str, str]]:
    dp.session.expire_all()
    rows = dp.session.execute(sa.select(OutboxMessage.template, OutboxMessage.recipient_id)
                              .where(OutboxMessage.event_key.like(f"dispatch:{job_id}:%")).order_by(OutboxMessage.id))
    names = {str(a.id): n for n, a in dp.accounts.items()}
    return [(t, names[r]) for t, r in rows]


def test_nearest_two_are_offered_first_then_the_next_batch_after_the_timeout(dp):
    dp.on_duty("d1", 2500)
    dp.on_duty("d2", 400)
    dp.on_duty("d3", -1200)
    dp.on_duty("d4", 0, 5000)  # beyond 3 km: only when the radius widens
    dp.on_duty("e1", 0, 9000)  # beyond 6 km: never
    job = dp.request(destination="金山医院")
    assert job["status"] == "offered" and job["round"] == 1
    assert offers_of(dp, job["id"]) == [("d2", 1, "pending"), ("d3", 1, "pending")]
    assert dp.offers("d2") == [job["id"]] and dp.offers("d1") == []
    assert outbox(dp, job["id"]) == [("dispatch_offer", "d2"), ("dispatch_offer", "d3")]
    state, due = timer_of(dp, job["id"])
    assert state == "pending" and due == dp.clock.now().replace(second=20)

    dp.tick(19)  # not yet
    assert offers_of(dp, job["id"]) == [("d2", 1, "pending"), ("d3", 1, "pending")]
    dp.tick(1)
    assert offers_of(dp, job["id"]) == [("d2", 1, "expired"), ("d3", 1, "expired"), ("d1", 2, "pending")]
    assert dp.offers("d2") == []  # an expired offer is gone from the poll
    dp.tick(20)  # 3 km exhausted: the radius widens to 6 km; nobody is offered twice
    assert offers_of(dp, job["id"])[-1] == ("d4", 3, "pending")
    dp.tick(20)  # nobody left within 6 km: still looking (round 4, the last)
    assert dp.job("alice", job["id"])["status"] == "requested"
    dp.tick(20)
    body = dp.job("alice", job["id"])
    assert body["status"] == "unserved" and body["ended_at"] is not None
    assert ("dispatch_unserved", "alice") in outbox(dp, job["id"])
    assert timer_of(dp, job["id"])[0] in ("fired", "cancelled")
    assert [o[0] for o in offers_of(dp, job["id"])] == ["d2", "d3", "d1", "d4"]


def test_a_decline_offers_the_next_at_once_and_accepting_serves_through_the_stages(dp):
    dp.on_duty("d1", 100)
    dp.on_duty("d2", 200)
    dp.on_duty("d3", 300)
    job = dp.request(destination="金山医院")["id"]
    dp.act("d1", job, "decline")
    assert offers_of(dp, job) == [("d1", 1, "declined"), ("d2", 1, "pending")]  # d2 still pending: no new round
    dp.act("d2", job, "decline")
    assert offers_of(dp, job)[-1] == ("d3", 2, "pending")
    body = dp.act("d3", job, "accept")
    assert body["status"] == "accepted" and body["allowed_actions"] == ["arrived", "cancel"]
    assert body["private"] == {"destination": "金山医院"}  # the serving agent learns the destination
    assert body["requester"] == "李**"
    assert timer_of(dp, job)[0] == "cancelled"
    seen = dp.job("alice", job)
    assert seen["agent"]["name"] == "王***"
    assert seen["agent"]["distance_m"] == 300
    assert seen["agent"]["position"]["lat"] == round(dp.near(300)[0], 3)
    assert dp.call("GET", "d3", "/agents/me")["job_id"] == job
    dp.act("d3", job, "resolve", {"outcome": "x"}, expect=409)  # not from accepted
    dp.act("d3", job, "arrived")
    done = dp.act("d3", job, "resolve", {"outcome": "已送医"})
    assert done["status"] == "resolved" and done["details"]["outcome"] == "已送医"
    after = dp.job("alice", job)
    assert after["agent"]["position"] is None and after["agent"]["distance_m"] is None  # not after the job
    assert dp.call("GET", "d3", "/agents/me")["available"] is True
    dp.session.expire_all()
    trail = dp.session.execute(sa.select(DispatchEvent.action, DispatchEvent.to_status)
                               .where(DispatchEvent.job_id == job).order_by(DispatchEvent.id)).all()
    assert trail == [("request", "requested"), ("offer", "offered"), ("decline", "offered"), ("decline", "offered"),
                     ("offer", "offered"), ("accept", "accepted"), ("arrived", "on_scene"), ("resolve", "resolved")]


def test_an_offered_agent_never_sees_the_destination_and_others_see_nothing(dp):
    dp.on_duty("d1", 100)
    job = dp.request(destination="金山医院")["id"]
    offered = dp.job("d1", job)
    assert offered["private"] is None and offered["allowed_actions"] == ["accept", "decline"]
    dp.job("d2", job, expect=404)
    dp.job("e1", job, expect=404)
    dp.job("alice2", job, expect=404)
    dp.job("manager_a", job, expect=404)  # no agent of theirs serves it yet
    dp.job("admin", job)
    dp.act("d1", job, "accept")
    dp.job("manager_a", job)  # their driver serves it
    dp.job("manager_b", job, expect=404)
    dp.act("d2", job, "accept", expect=404)


def test_the_loser_of_a_batch_hears_already_taken(dp):
    dp.on_duty("d1", 100)
    dp.on_duty("d2", 200)
    job = dp.request()["id"]
    dp.act("d2", job, "accept")
    resp = dp.client.post(f"{dp.base}/jobs/{job}/accept", json={}, headers=dp.token("d1"))
    assert resp.status_code == 409 and resp.get_json()["code"] == "already_taken"
    assert offers_of(dp, job) == [("d1", 1, "withdrawn"), ("d2", 1, "accepted")]


def code_of(dp, method: str, who: str, path: str, body=None) -> tuple[int, str, dict]:
    resp = dp.client.open(f"{dp.base}{path}", method=method, json=body or {}, headers=dp.token(who))
    data = resp.get_json()
    return resp.status_code, data.get("code"), data.get("errors") or {}


def test_odd_input_is_a_clear_4xx(dp):
    dp.on_duty("d1", 100)
    lat, lon = dp.near(100)
    future = dp.clock.now().replace(minute=5).isoformat()
    assert code_of(dp, "PUT", "d1", "/agents/me/position", {"lat": lat, "lon": lon, "at": future})[:2] == (
        422, "position_in_future")
    naive = dp.clock.now().replace(tzinfo=None).isoformat()
    assert code_of(dp, "PUT", "d1", "/agents/me/position", {"lat": lat, "lon": lon, "at": naive})[0] == 422
    assert code_of(dp, "PUT", "d1", "/agents/me/position", {"lat": 91, "lon": lon})[2].keys() == {"lat"}
    assert code_of(dp, "PUT", "d1", "/agents/me/position", {"lat": "NaN", "lon": lon})[0] == 422
    assert code_of(dp, "PUT", "d2", "/agents/me/position", {"lat": lat, "lon": lon})[:2] == (409, "agent_off_duty")
    assert code_of(dp, "PUT", "manager_a", "/agents/me/duty", {"on_duty": True})[:2] == (403, "not_an_agent")
    assert code_of(dp, "POST", "carol", "/jobs", {})[:2] == (422, "outside_service_area")

    job = dp.request()["id"]
    assert code_of(dp, "POST", "alice", "/jobs", {})[:2] == (409, "job_active")
    dp.act("alice", job, "accept", expect=403)  # a resident is no agent
    dp.call("PUT", "d1", "/agents/me/duty", {"on_duty": False})
    assert code_of(dp, "POST", "d1", f"/jobs/{job}/accept")[:2] == (409, "agent_off_duty")
    dp.call("PUT", "d1", "/agents/me/duty", {"on_duty": True})
    dp.move("d1", 100)
    dp.clock.advance(seconds=21)  # expired by the clock, though the worker has not run
    assert code_of(dp, "POST", "d1", f"/jobs/{job}/accept")[:2] == (409, "offer_expired")
    assert code_of(dp, "POST", "d1", "/jobs/999999/accept")[:2] == (404, "not_found")  # never made
    assert code_of(dp, "POST", "alice", f"/jobs/{job}/cancel", {})[2].keys() == {"reason"}


def test_off_duty_forgets_the_latest_position_and_busy_agents_cannot_go(dp):
    dp.on_duty("d1", 100)
    job = dp.request()["id"]
    dp.act("d1", job, "accept")
    assert code_of(dp, "PUT", "d1", "/agents/me/duty", {"on_duty": False})[:2] == (409, "agent_busy")
    dp.act("alice", job, "cancel", {"reason": "不去了"})
    assert ("dispatch_cancelled", "d1") in outbox(dp, job)
    dp.call("PUT", "d1", "/agents/me/duty", {"on_duty": False})
    dp.session.expire_all()
    agent = dp.session.scalar(sa.select(DispatchAgent).where(DispatchAgent.account_id == dp.accounts["d1"].id))
    assert (agent.lat, agent.lon, agent.position_at, agent.job_id) == (None, None, None, None)


def test_cancellation_by_either_side_in_its_states(dp):
    dp.on_duty("d1", 100)
    job = dp.request()["id"]
    dp.act("d1", job, "cancel", {"reason": "x"}, expect=403)  # only offered: not theirs to cancel
    dp.act("d1", job, "accept")
    dp.act("d1", job, "arrived")
    dp.act("d1", job, "cancel", {"reason": "乘客未到"}, expect=409)  # agents cancel only from accepted here
    dp.act("alice", job, "cancel", {"reason": "x"}, expect=409)  # nor the requester once on the scene
    job2_owner = "alice2"
    dp.on_duty("d2", 100)
    job2 = dp.request(job2_owner)["id"]
    dp.act("d2", job2, "accept")
    body = dp.act("d2", job2, "cancel", {"reason": "车坏了"})
    assert body["status"] == "cancelled"
    assert dp.job(job2_owner, job2)["cancelled_by"] == "agent"
    assert ("dispatch_cancelled", job2_owner) in outbox(dp, job2)
    assert dp.call("GET", "d2", "/agents/me")["job_id"] is None


def test_stale_or_outside_positions_make_an_agent_unavailable(dp):
    dp.on_duty("d1", 100)
    dp.on_duty("d2", 200)
    dp.clock.advance(seconds=61)  # d1 and d2 both stale
    dp.move("d2", 200)
    state = dp.call("PUT", "d3", "/agents/me/duty", {"on_duty": True})
    assert state["available"] is False  # no position yet
    body = dp.move("d3", 0, 0, )
    assert body["available"] is True
    dp.call("PUT", "d3", "/agents/me/position", {"lat": 30.60, "lon": 122.5})  # out at sea: outside Jinshan
    assert dp.call("GET", "d3", "/agents/me")["outside_area"] is True
    job = dp.request()["id"]
    assert [o[0] for o in offers_of(dp, job)] == ["d2"]  # d1 stale, d3 outside


def test_an_older_position_joins_the_history_but_not_the_latest(dp):
    dp.on_duty("d1", 100)
    earlier = (dp.clock.now() - timedelta(seconds=3)).isoformat()  # before the one just sent
    dp.clock.advance(seconds=5)
    lat, lon = dp.near(2000)
    dp.call("PUT", "d1", "/agents/me/position", {"lat": lat, "lon": lon, "at": earlier})
    dp.session.expire_all()
    agent = dp.session.scalar(sa.select(DispatchAgent).where(DispatchAgent.account_id == dp.accounts["d1"].id))
    assert round(agent.lat, 6) == round(dp.near(100)[0], 6)


def test_the_job_ends_unserved_when_its_offers_run_out(dp):
    for i, name in enumerate(("d1", "d2", "d3", "d4", "d5", "e1")):
        dp.on_duty(name, 100 * (i + 1))
    dp.on_duty("e1", 700)
    job = dp.request()["id"]
    for _ in range(3):
        dp.tick(20)
    assert len(offers_of(dp, job)) == 6
    dp.tick(20)
    dp.session.expire_all()
    assert dp.session.get(DispatchJob, job).status == "unserved"


def test_positions_and_private_fields_are_encrypted_at_rest_and_history_is_purged(dp):
    from scenarios.engines.dispatch.models import DispatchPosition
    from scenarios.engines.dispatch.retention import purge_positions

    dp.on_duty("d1", 100)
    dp.clock.advance(days=6)
    dp.move("d1", 200)
    job = dp.request(destination="金山医院")["id"]
    raw_points = dp.session.execute(sa.text("SELECT point FROM dispatch_positions")).scalars().all()
    lat = f"{dp.near(100)[0]:.4f}"
    assert len(raw_points) == 2 and not any(lat[:6] in p or "121.34" in p for p in raw_points)
    raw_private = dp.session.execute(sa.text("SELECT private FROM dispatch_jobs WHERE id = :id"), {"id": job}).scalar()
    assert "金山医院" not in raw_private
    dp.session.expire_all()
    assert dp.session.get(DispatchJob, job).private == '{"destination": "金山医院"}'
    dp.clock.advance(days=1, seconds=1)  # the first point is now older than 7 days
    assert purge_positions(dp.session, clock=dp.clock, keep=CONFIG.position_retention) == 1
    left = dp.session.scalars(sa.select(DispatchPosition.point)).all()
    assert left == [f"{dp.near(200)[0]:.6f},{dp.near(200)[1]:.6f}"]


def test_a_jobs_point_is_encrypted_at_rest_and_cleared_once_ended_past_retention(dp):
    """The point a job is served from may be a home (an SOS alarm's): never in clear in the
    table; exact when read back; cleared once the job ended longer ago than the position
    retention, while a job still open, or ended since, keeps its point."""
    from scenarios.engines.dispatch.retention import purge_positions

    old = dp.request()["id"]
    dp.act("alice", old, "cancel", {"reason": "不用了"})
    dp.clock.advance(days=7, seconds=1)
    kept = dp.request()["id"]  # open, and created after the cutoff's start
    raw = dp.session.execute(sa.text("SELECT origin_point FROM dispatch_jobs")).scalars().all()
    assert len(raw) == 2 and not any(f"{dp.origin[0]:.3f}" in p or f"{dp.origin[1]:.3f}" in p for p in raw)
    dp.session.expire_all()
    assert (dp.session.get(DispatchJob, kept).origin_lat, dp.session.get(DispatchJob, kept).origin_lon) == dp.origin
    assert purge_positions(dp.session, clock=dp.clock, keep=CONFIG.position_retention) == 1
    dp.session.expire_all()
    assert dp.session.get(DispatchJob, old).origin_point is None
    label = dp.job("alice", kept)["origin"]["label"]
    assert dp.job("alice", old)["origin"] == {"label": label, "lat": None, "lon": None}
    assert dp.job("alice", kept)["origin"]["lat"] == dp.origin[0]
    assert purge_positions(dp.session, clock=dp.clock, keep=CONFIG.position_retention) == 0  # once


def test_staff_lists_and_figures(dp):
    dp.on_duty("d1", 100)
    dp.on_duty("d2", 150)
    job = dp.request()["id"]
    dp.clock.advance(seconds=8)
    dp.act("d1", job, "accept")
    dp.clock.advance(seconds=100)
    dp.act("d1", job, "arrived")
    other = dp.request("alice2")["id"]  # d2 is offered it; it times out unserved later
    agents = dp.call("GET", "manager_a", "/agents")["items"]
    assert {a["name"] for a in agents} == {"王师傅0", "王师傅1"} and all("lat" not in a for a in agents)
    dp.call("GET", "d1", "/agents", expect=403)  # a driver is no manager
    assert [j["id"] for j in dp.call("GET", "manager_a", "/jobs")["items"]] == [job]
    assert dp.call("GET", "manager_b", "/jobs")["items"] == []
    assert [j["id"] for j in dp.call("GET", "alice", "/jobs")["items"]] == [job]
    assert {j["id"] for j in dp.call("GET", "admin", "/jobs")["items"]} == {job, other}
    day = dp.clock.now().date().isoformat()
    rows = dp.call("GET", "admin", f"/stats?date_from={day}&date_to={day}")["items"]
    assert rows == [{"area": dp.world.community.code, "day": day, "requests": 2, "served": 1, "served_share": 0.5,
                     "median_wait_accept_s": 8.0, "median_wait_pickup_s": 108.0}]
    dp.call("GET", "manager_a", f"/stats?date_from={day}&date_to={day}", expect=403)
    dp.call("GET", "admin", f"/stats?date_from={day}&date_to=2026-01-01", expect=422)


def test_agents_without_positions_are_offered_by_availability_alone(dp):
    """Call-centre operators (the next scenario) have no positions: longest available first."""
    from dataclasses import replace

    from scenarios.engines.dispatch.nearby import nearest

    no_positions = replace(CONFIG, positions=False)
    for name in ("d3", "d1", "d2"):
        dp.call("PUT", name, "/agents/me/duty", {"on_duty": True})
        dp.clock.advance(seconds=1)
    dp.session.expire_all()
    busy = dp.session.scalar(sa.select(DispatchAgent).where(DispatchAgent.account_id == dp.accounts["d1"].id))
    busy.job_id = 424242
    dp.session.flush()
    found = nearest(dp.session, no_positions, lat=0.0, lon=0.0, radius_m=1, limit=5, now=dp.clock.now())
    names = {a.id: n for n, a in dp.accounts.items()}
    agent_names = dict(dp.session.execute(sa.select(DispatchAgent.id, DispatchAgent.account_id)).all())
    assert [names[agent_names[c.agent_id]] for c in found] == ["d3", "d2"]
    assert all(c.distance_m is None for c in found)


def test_erasing_the_requester_erases_the_destination(dp):
    from auth.signals import person_erased

    dp.on_duty("d1", 100)
    job = dp.request(destination="金山医院")["id"]
    person_erased.send(None, session=dp.session, person_id=dp.accounts["alice"].person_id)
    dp.session.expire_all()
    row = dp.session.get(DispatchJob, job)
    assert row.private is None and row.requester_person_id is None and row.area == dp.world.community.code


def test_another_scenarios_job_id_is_not_found_here(dp):
    from tests.support.dispatch import DP

    dp.on_duty("d1", 100)
    job = dp.request()["id"]
    taxi = DP(session=dp.session, db=dp.db, clock=dp.clock, client=dp.client, world=dp.world, origin=dp.origin,
              accounts=dp.accounts, orgs=dp.orgs, base="/api/v1/taxi", noun="rides")
    taxi.job("alice", job, expect=404)  # her dp-test job is no taxi ride
    taxi.act("alice", job, "cancel", {"reason": "x"}, expect=404)
    dp.job("alice", job)


def test_a_driver_whose_membership_is_disabled_stands_down_and_the_job_moves_on(dp):
    """The company's manager disables a driver holding an offer: the driver is off duty at once
    (position cleared), the offer withdrawn, and at the offer's timeout the job goes to the next
    driver; re-enabling does not put them back on duty by itself."""
    from auth.models import Membership

    dp.on_duty("d1", 100)
    job = dp.request()["id"]
    assert offers_of(dp, job) == [("d1", 1, "pending")]
    dp.on_duty("d2", 300)
    mid = dp.session.scalar(sa.select(Membership.id).where(Membership.account_id == dp.accounts["d1"].id))
    code = dp.orgs["d1"].code
    resp = dp.client.patch(f"/api/v1/orgs/{code}/staff/{mid}", json={"status": "disabled"},
                           headers=dp.token("manager_a"))
    assert resp.status_code == 200, resp.get_json()
    dp.session.expire_all()
    agent = dp.session.scalar(sa.select(DispatchAgent).where(DispatchAgent.account_id == dp.accounts["d1"].id))
    assert (agent.on_duty, agent.lat, agent.position_at) == (False, None, None)
    assert offers_of(dp, job) == [("d1", 1, "withdrawn")]
    dp.tick(21)  # the offer's timeout: the next round finds d2, never d1 again
    assert offers_of(dp, job) == [("d1", 1, "withdrawn"), ("d2", 2, "pending")]
    dp.client.patch(f"/api/v1/orgs/{code}/staff/{mid}", json={"status": "active"}, headers=dp.token("manager_a"))
    dp.session.expire_all()
    assert dp.session.get(DispatchAgent, agent.id).on_duty is False


def test_a_request_writes_its_round_in_one_unit_of_work(dp):
    """A new job's first round: no pending offers to expire (it has none), the job updated once,
    the two trail rows in one INSERT, the offered agents' accounts read with their positions
    (the taxi ride request went from 17 statements to 13); what is written is unchanged."""
    from tests.support.database import statements

    dp.on_duty("d2", 400)
    dp.on_duty("d3", -1200)
    dp.token("alice")  # minted (and committed) before counting
    with statements(dp.session) as seen:
        job = dp.request()
    flat = [" ".join(s.split()) for s in seen]
    assert not [s for s in flat if s.startswith("UPDATE dispatch_offers")]
    assert len([s for s in flat if s.startswith("UPDATE dispatch_jobs")]) == 1
    # one flush: one INSERT on PostgreSQL; SQLite's RETURNING has no order, so the ORM sends a row each
    batched = 1 if dp.session.get_bind().dialect.name == "postgresql" else 2
    assert len([s for s in flat if s.startswith("INSERT INTO dispatch_events")]) == batched
    assert not [s for s in flat if s.startswith("SELECT dispatch_agents.id, dispatch_agents.account_id")]
    assert offers_of(dp, job["id"]) == [("d2", 1, "pending"), ("d3", 1, "pending")]
    assert outbox(dp, job["id"]) == [("dispatch_offer", "d2"), ("dispatch_offer", "d3")]
    dp.session.expire_all()
    trail = dp.session.execute(sa.select(DispatchEvent.action, DispatchEvent.from_status, DispatchEvent.to_status)
                               .where(DispatchEvent.job_id == job["id"]).order_by(DispatchEvent.id)).all()
    assert [tuple(r) for r in trail] == [("request", None, "requested"), ("offer", "requested", "offered")]
