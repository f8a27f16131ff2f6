"""place-checkin (场所码 / 数字哨兵, L2 and L7): places show a signed place code that residents
scan; sentinel devices scan residents' personal codes; operators see flow counts per hour.

Routes: ``scenarios.place_checkin.routes``; rules: ``service``; retention: ``jobs``.
"""
from __future__ import annotations

from scenarios.base import Scenario
from scenarios.place_checkin import jobs  # noqa: F401  (registers the retention job)


def _blueprints():
    from scenarios.place_checkin.routes import blueprints

    return blueprints()


def _demo_data(session, clock) -> None:
    from scenarios.place_checkin.demo import load

    load(session, clock)


SCENARIO = Scenario(
    slug="place-checkin",
    title_zh="场所码 / 数字哨兵",
    title_en="Place codes and digital sentinels",
    seed_refs=("L2", "L7"),
    engines=("qr", "telemetry"),
    roles=("resident", "operator.manager", "operator.staff", "device.sentinel"),
    blueprints=_blueprints,
    demo_data=_demo_data,
)
