"""The telemetry tests' world: ``wf`` (two property companies with managers and technicians)
plus tanks of company A (1, 2) and B (3), sensors of A bound to tanks 1 and 2, a meter of A, a
sensor and a gate of B; ``tm.dev(name)`` is a device's HTTP Basic header."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from auth.devices import create_device
from scenarios.engines.telemetry import service as svc
from tests.engines.telemetry.scenario import CONFIG, EVENTS, EXTRA_RECIPIENTS, TANKS, Tank
from tests.support.factories import basic


@dataclass
class TM:
    wf: Any
    devices: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def dev(self, name: str) -> dict[str, str]:
        return basic(self.devices[name].uid, self.secrets[name])


@pytest.fixture
def tm(wf, session, clock) -> TM:
    EVENTS.clear()
    EXTRA_RECIPIENTS.clear()
    a, b = wf.world.companies
    TANKS.clear()
    TANKS.update({1: Tank(1, a.id, 1000.0), 2: Tank(2, a.id, 500.0), 3: Tank(3, b.id, 1000.0)})
    world = TM(wf)
    for name, org, kind in (("s1", a, "sensor"), ("s2", a, "sensor"), ("m1", a, "meter"), ("sb", b, "sensor"),
                            ("gate", a, "gate")):
        world.devices[name], world.secrets[name] = create_device(session, org=org, kind=kind, name=name)
    svc.bind(session, config=CONFIG, kind="level", device_id=world.devices["s1"].id, subject_id=1, clock=clock)
    svc.bind(session, config=CONFIG, kind="level", device_id=world.devices["s2"].id, subject_id=2, clock=clock)
    svc.bind(session, config=CONFIG, kind="pump", device_id=world.devices["m1"].id, subject_id=1, clock=clock)
    svc.bind(session, config=CONFIG, kind="level", device_id=world.devices["sb"].id, subject_id=3, clock=clock)
    session.commit()
    return world
