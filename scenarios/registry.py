"""The explicit registry: the engines that exist and the working scenarios, in the order the
mini-program shows them.

Add a scenario by creating ``scenarios/<package>/__init__.py`` with ``SCENARIO = ...`` and
naming it here (README, "Adding a scenario"); ``tests/scenarios/test_registry.py`` checks the
tuple against the packages on disk and every declaration against the catalogues. The
platform reaches scenarios only through this module (import contracts in ``.importlinter``).
"""
from __future__ import annotations

from collections.abc import Iterable

from app.scenario import Engine, Scenario
from scenarios.city_report import SCENARIO as CITY_REPORT
from scenarios.discharge_summary import SCENARIO as DISCHARGE_SUMMARY
from scenarios.elderly_sos import SCENARIO as ELDERLY_SOS
from scenarios.engines.approval import ENGINE as APPROVAL
from scenarios.engines.booking import ENGINE as BOOKING
from scenarios.engines.dispatch import ENGINE as DISPATCH
from scenarios.engines.ledger import ENGINE as LEDGER
from scenarios.engines.listing import ENGINE as LISTING
from scenarios.engines.telemetry import ENGINE as TELEMETRY
from scenarios.engines.workflow import ENGINE as WORKFLOW
from scenarios.ev_charging import SCENARIO as EV_CHARGING
from scenarios.hospital_appointment import SCENARIO as HOSPITAL_APPOINTMENT
from scenarios.hotline_12345 import SCENARIO as HOTLINE_12345
from scenarios.online_consult import SCENARIO as ONLINE_CONSULT
from scenarios.parcel_locker import SCENARIO as PARCEL_LOCKER
from scenarios.parking import SCENARIO as PARKING
from scenarios.place_checkin import SCENARIO as PLACE_CHECKIN
from scenarios.privacy_flags import SCENARIO as PRIVACY_FLAGS
from scenarios.property_repair import SCENARIO as PROPERTY_REPAIR
from scenarios.road_report import SCENARIO as ROAD_REPORT
from scenarios.rural_rental import SCENARIO as RURAL_RENTAL
from scenarios.smart_village import SCENARIO as SMART_VILLAGE
from scenarios.taxi import SCENARIO as TAXI
from scenarios.venue_booking import SCENARIO as VENUE_BOOKING

ENGINES: dict[str, Engine] = {engine.name: engine
                              for engine in (WORKFLOW, BOOKING, DISPATCH, LEDGER, LISTING, APPROVAL, TELEMETRY)}
"""The engine packages that exist (``scenarios/engines/<name>``)."""

PLATFORM_ENGINES = frozenset({"qr"})
"""Engines of SCENARIOS.md that the platform itself provides (signed QR codes: ``qr/``)."""

SCENARIOS: tuple[Scenario, ...] = (
    PROPERTY_REPAIR,
    CITY_REPORT,
    ROAD_REPORT,
    PLACE_CHECKIN,
    VENUE_BOOKING,
    HOSPITAL_APPOINTMENT,
    TAXI,
    HOTLINE_12345,
    RURAL_RENTAL,
    SMART_VILLAGE,
    EV_CHARGING,
    ELDERLY_SOS,
    PARCEL_LOCKER,
    DISCHARGE_SUMMARY,
    ONLINE_CONSULT,
    PRIVACY_FLAGS,
    PARKING,
)


def check(scenarios: Iterable[Scenario], engines: dict[str, Engine] = ENGINES) -> None:
    """Every scenario names engines that exist, once each, and slugs are unique."""
    seen: set[str] = set()
    for scenario in scenarios:
        unknown = set(scenario.engines) - set(engines) - PLATFORM_ENGINES
        if unknown:
            raise ValueError(f"{scenario.slug}: unknown engines {sorted(unknown)} (known: {sorted(engines)})")
        if scenario.config is not None and scenario.engines[0] not in engines:
            raise ValueError(f"{scenario.slug}: a config is for its first engine, which must be a package")
        if scenario.slug in seen:
            raise ValueError(f"scenario {scenario.slug!r} is registered twice")
        seen.add(scenario.slug)


check(SCENARIOS)


def by_slug(slug: str) -> Scenario | None:
    return next((s for s in SCENARIOS if s.slug == slug), None)
