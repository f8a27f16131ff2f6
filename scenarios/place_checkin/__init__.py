"""place-checkin (场所码 / 数字哨兵, L2 and L7): places show a signed place code that residents
scan; sentinel devices scan residents' personal codes; operators see flow counts per hour.

Routes: ``scenarios.place_checkin.routes``; rules: ``service``; retention: ``jobs``.
"""
from __future__ import annotations

from scenarios.base import Scenario, lazy
from scenarios.place_checkin import jobs  # noqa: F401  (registers the retention job)

SCENARIO = Scenario(
    slug="place-checkin",
    title_zh="场所码 / 数字哨兵",
    title_en="Place codes and digital sentinels",
    seed_refs=("L2", "L7"),
    engines=("qr", "telemetry"),
    roles=("resident", "operator.manager", "operator.staff", "device.sentinel"),
    blueprints=lazy("scenarios.place_checkin.routes:blueprints"),
    demo_data=lazy("scenarios.place_checkin.demo:load"),
)
