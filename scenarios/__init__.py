"""The explicit registry of working scenarios, in the order the mini-program shows them.

Add a scenario by creating ``scenarios/<package>/__init__.py`` with ``SCENARIO =
Scenario(...)`` and naming it here; ``tests/test_health_and_registry.py`` checks the two agree.
"""
from __future__ import annotations

from scenarios.base import Scenario
from scenarios.city_report import SCENARIO as CITY_REPORT
from scenarios.place_checkin import SCENARIO as PLACE_CHECKIN
from scenarios.property_repair import SCENARIO as PROPERTY_REPAIR
from scenarios.road_report import SCENARIO as ROAD_REPORT

SCENARIOS: tuple[Scenario, ...] = (
    PROPERTY_REPAIR,
    CITY_REPORT,
    ROAD_REPORT,
    PLACE_CHECKIN,
)


def by_slug(slug: str) -> Scenario | None:
    return next((s for s in SCENARIOS if s.slug == slug), None)
