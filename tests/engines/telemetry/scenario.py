"""The telemetry engine's own test scenario (``tm-test``), registered only in tests.

Water tanks (the subjects: held in ``TANKS``, as a scenario would hold them in its tables)
report their ``level`` (litres, 0 … the tank's capacity; above 90 % of it or below 100 l is an
alert; silent after 5 minutes; raw readings kept 30 days, thinned to hourly after 7) from
sensors, and their pump's ``pump`` state (an enum; never silent; the ``operator`` code is a
personal field: checked, handed to the hook, never stored) from sensors or meters. The hooks
record what they are called with (``EVENTS``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.notify.service import Recipient
from scenarios.engines.telemetry.config import (
    Field,
    ReadingKind,
    Retention,
    SubjectType,
    TelemetryConfig,
    Threshold,
    telemetry_scenario,
)

SLUG = "tm-test"
BASE = f"/api/v1/{SLUG}"


@dataclass(frozen=True)
class Tank:
    id: int
    organisation_id: int
    capacity_l: float


TANKS: dict[int, Tank] = {}
EVENTS: list[tuple[Any, ...]] = []
EXTRA_RECIPIENTS: list[Recipient] = []


def load_tank(session, tank_id: int) -> Tank | None:
    return TANKS.get(tank_id)


def on_reading(session, device, tank, reading) -> None:
    EVENTS.append(("reading", device.uid, tank.id, reading.kind, reading.value, reading.latest))


def on_offline(session, device, tank) -> None:
    EVENTS.append(("offline", device.uid, tank.id))


def on_back_online(session, device, tank) -> None:
    EVENTS.append(("online", device.uid, tank.id))


def extra_recipients(session, alert, tank) -> list[Recipient]:
    return list(EXTRA_RECIPIENTS)


LEVEL = ReadingKind(
    name="level", subject_type="tank", device_kinds=("sensor",),
    fields=(Field("level_l", "float", minimum=0, maximum=lambda tank: tank.capacity_l),
            Field("temperature_c", "float", minimum=-40, maximum=80, required=False)),
    silent_after=timedelta(minutes=5), retention=Retention(keep_days=30, thin_after_days=7),
    thresholds=(Threshold("level_high", when=lambda value, tank: value["level_l"] > 0.9 * tank.capacity_l,
                          urgent=True),
                Threshold("level_low", field="level_l", below=100)),
    on_reading=on_reading, on_offline=on_offline, on_back_online=on_back_online,
    alert_recipients=extra_recipients)

PUMP = ReadingKind(
    name="pump", subject_type="tank", device_kinds=("sensor", "meter"),
    fields=(Field("state", "enum", choices=("running", "stopped", "fault")),
            Field("operator", "str", pattern=r"OP-[0-9]{4}", required=False, personal=True)),
    silent_after=None, thresholds=(Threshold("pump_fault", when=lambda value, tank: value["state"] == "fault"),),
    on_reading=on_reading)

CONFIG = TelemetryConfig(slug=SLUG, title_zh="遥测引擎测试",
                         subjects=(SubjectType("tank", load_tank, organisation_of=lambda tank: tank.organisation_id),),
                         kinds=(LEVEL, PUMP), staff_roles=("manager",), alert_roles=("manager",),
                         notify_channel="log", max_batch=20)

SCENARIO = telemetry_scenario(CONFIG, title_en="Telemetry engine test scenario", seed_refs=("test",),
                              roles=("property_company:manager", "device:sensor", "device:meter"))
