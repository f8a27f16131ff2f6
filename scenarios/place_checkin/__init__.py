"""place-checkin (场所码 / 数字哨兵, L2 and L7): places show a signed place code that residents
scan; sentinel devices scan residents' personal codes; operators see flow counts per hour.

Routes: ``scenarios.place_checkin.routes``; rules: ``service``; retention: ``jobs``.
"""
from __future__ import annotations

from app.scenario import Scenario

SCENARIO = Scenario(
    slug="place-checkin",
    title_zh="场所码 / 数字哨兵",
    title_en="Place codes and digital sentinels",
    seed_refs=("L2", "L7"),
    engines=("qr",),
    roles=("resident", "venue_operator:manager", "venue_operator:staff", "device:sentinel"),
    models=("scenarios.place_checkin.models",),
    jobs=("scenarios.place_checkin.jobs",),  # retention of check-ins, identity events
    personal_data="scenarios.place_checkin.personal_data:PERSONAL_DATA",
    blueprints=("scenarios.place_checkin.routes:blueprints",),
    demo="scenarios.place_checkin.demo:load",
    console=("scenarios.place_checkin.console:blueprints",),
)
