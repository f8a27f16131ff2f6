"""The visit goes to the nearest available responders of the person's committee (on duty with a
fresh position, through the dispatch engine's agent endpoints at /responders/me…), a batch at a
time, wider when the nearer ones are used up; nobody near → the whole committee."""
from __future__ import annotations

from datetime import timedelta

from app.geo import haversine_m
from tests.support.factories import make_staff

HOME = (30.9, 121.16)  # the enrolled person's home point (conftest)


def _north(metres: float) -> tuple[float, float]:
    return HOME[0] + metres / 111_195.0, HOME[1]


def _responders(sos, *names_and_distances: tuple[str, float], at_seconds_ago: float = 0.0) -> None:
    committee = sos.orgs["member"]
    for name, metres in names_and_distances:
        if name not in sos.accounts:
            sos.accounts[name] = make_staff(sos.session, committee, "volunteer")
            sos.orgs[name] = committee
            sos.session.commit()
        sos.call("PUT", name, "/responders/me/duty", {"on_duty": True})
        lat, lon = _north(metres)
        at = sos.clock.now() - timedelta(seconds=at_seconds_ago)
        sos.call("PUT", name, "/responders/me/position", {"lat": lat, "lon": lon, "at": at.isoformat()})


def _acknowledged(sos) -> dict:
    sos.on_duty("op1")
    alarm = sos.press()
    sos.ack("op1", alarm)
    return alarm


def _offered(sos, alarm_id: int) -> list[str]:
    """Accounts told of the visit, in order, each once (a notice may go on more than one channel)."""
    return list(dict.fromkeys(o[3] for o in sos.outbox(alarm_id, "sos_visit")))


def test_nearest_first_then_the_next_batch_wider(sos):
    # 4 volunteers and the committee member; a batch is 3: the 3 nearest within 1 km first
    _responders(sos, ("v_far", 2500), ("v1", 900), ("member", 300), ("v2", 600), ("v3", 800))
    alarm = _acknowledged(sos)
    first = _offered(sos, alarm["id"])
    assert first == [sos.id("member"), sos.id("v2"), sos.id("v3")]
    event = sos.trail(alarm["id"], "visit_offered")[0]
    assert event.data["radius_m"] == 1000 and event.data["distances_m"] == sorted(event.data["distances_m"])
    assert abs(event.data["distances_m"][0] - 300) <= 2
    sos.tick(60)
    assert len(_offered(sos, alarm["id"])) == 3  # not before the round's time
    sos.tick(180)  # nobody took it: the next batch, never the same person twice, wider when needed
    assert _offered(sos, alarm["id"])[3:] == [sos.id("v1")]
    sos.tick(180)
    assert _offered(sos, alarm["id"])[4:] == [sos.id("v_far")]
    assert sos.trail(alarm["id"], "visit_offered")[2].data["radius_m"] == 3000
    sos.act("v_far", alarm["id"], "visit")  # a volunteer of the committee may take it
    assert sos.alarm(alarm["id"]).state == "visiting"
    sos.tick(180)
    assert len(sos.trail(alarm["id"], "visit_offered")) == 3  # taken: no more rounds


def test_stale_positions_and_other_committees_are_ignored(sos):
    _responders(sos, ("grid", 200), at_seconds_ago=11 * 60)  # older than the pool's 10 minutes
    _responders(sos, ("v1", 700))
    outsider = make_staff(sos.session, sos.world.committees[1], "volunteer")
    sos.accounts["outsider"], sos.orgs["outsider"] = outsider, sos.world.committees[1]
    sos.session.commit()
    _responders(sos, ("outsider", 100))
    alarm = _acknowledged(sos)
    assert _offered(sos, alarm["id"]) == [sos.id("v1")]


def test_nobody_near_falls_back_to_the_whole_committee(sos):
    _responders(sos, ("v1", 9000))  # beyond the widest radius
    alarm = _acknowledged(sos)
    assert set(_offered(sos, alarm["id"])) == {sos.id("member"), sos.id("grid"), sos.id("v1")}
    assert sos.trail(alarm["id"], "visit_offered")[0].data["fallback"] == "committee"
    sos.tick(400)
    assert len(sos.trail(alarm["id"], "visit_offered")) == 1  # the committee was told once


def test_only_the_committees_responders_are_agents_of_the_pool(sos):
    assert sos.call("PUT", "op1", "/responders/me/duty", {"on_duty": True}, expect=403)["code"] == "not_an_agent"
    assert haversine_m(*HOME, *_north(1000)) > 999


def test_a_responder_on_a_visit_is_not_offered_another_until_it_closes(sos):
    _responders(sos, ("member", 300), ("v2", 600))
    first = _acknowledged(sos)
    sos.act("member", first["id"], "visit")
    sos.clock.advance(seconds=130)  # past the merge window: a second alarm while the first is open
    sos.on_duty("op2")  # op1 is still on the first call
    second = sos.press()
    sos.ack("op2", second)
    assert _offered(sos, second["id"]) == [sos.id("v2")]
    assert sos.call("GET", "member", "/responders/me")["job_id"] is not None
    sos.call("PUT", "member", "/responders/me/duty", {"on_duty": False}, expect=409)  # busy: finish first
    sos.act("op1", first["id"], "close", {"outcome": "helped_at_home"})
    assert sos.call("GET", "member", "/responders/me")["job_id"] is None
