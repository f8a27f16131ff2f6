"""Inactivity on the telemetry engine: a worn wearable's heartbeat keeps it online; silent for
``INACTIVITY`` it is marked offline once and raises an ``inactivity`` alarm for its wearer,
offered to the operators and escalated like a press; a device worn by nobody raises none."""
from __future__ import annotations

import sqlalchemy as sa

from scenarios.elderly_sos.inactivity import INACTIVITY
from scenarios.elderly_sos.models import SosAlarm
from scenarios.engines.telemetry.jobs import mark_silent


def beat(sos, device: str) -> None:
    sos.call("PUT", device, "/devices/me/state", {"kind": "heartbeat", "value": {"battery_pct": 80}})


def silent_pass(sos) -> int:
    with sos.db.transaction() as s:
        return mark_silent(s, clock=sos.clock)


def alarms(sos) -> list[SosAlarm]:
    sos.session.expire_all()
    return list(sos.session.scalars(sa.select(SosAlarm).order_by(SosAlarm.id)))


def test_a_silent_worn_device_raises_one_inactivity_alarm(sos):
    sos.on_duty("op1")
    beat(sos, "worn")
    beat(sos, "loose")
    sos.clock.advance(seconds=INACTIVITY.total_seconds() - 60)
    beat(sos, "loose")  # still beating
    assert silent_pass(sos) == 0
    sos.clock.advance(seconds=61)
    assert silent_pass(sos) == 1  # the worn one
    assert silent_pass(sos) == 0  # once
    (alarm,) = alarms(sos)
    assert (alarm.kind, alarm.enrolment_id, alarm.state) == ("inactivity", sos.enrolment_id, "open")
    sos.tick(60)
    assert [e.data["step"] for e in sos.trail(alarm.id, "escalated")] == ["other_operators"]
    sos.clock.advance(seconds=INACTIVITY.total_seconds() + 1)
    silent_pass(sos)  # the loose one goes silent too: nobody wears it, no alarm
    assert len(alarms(sos)) == 1


def test_silence_during_an_open_alarm_joins_it(sos):
    beat(sos, "worn")
    pressed = sos.press()
    sos.clock.advance(seconds=INACTIVITY.total_seconds() + 1)
    silent_pass(sos)
    assert [a.id for a in alarms(sos)] == [pressed["id"]]
    assert [e.action for e in sos.trail(pressed["id"], "inactivity")] == ["inactivity"]
