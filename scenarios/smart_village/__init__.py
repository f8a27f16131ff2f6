"""smart-village (智慧村庄 村务公开, L33, L35): for 金山卫镇星火村 and the demonstration villages, the
committee publishes notices and village-affairs disclosures (finances, projects, decisions) with
attachments; villagers read them, see what is new, and confirm the important ones; the village
hall's screen reads the village summary. Tables: models.py; rules: service.py; endpoints:
routes.py.
"""
from __future__ import annotations

from app.scenario import Scenario

SCENARIO = Scenario(
    slug="smart-village", title_zh="智慧村庄", title_en="Smart village", seed_refs=("L33", "L35"),
    engines=(), roles=("resident", "village_committee:committee", "device:kiosk"),
    models=("scenarios.smart_village.models",), jobs=("scenarios.smart_village.jobs",),
    blueprints=("scenarios.smart_village.routes:blueprints",),
    console=("scenarios.smart_village.console:blueprints",),
    personal_data="scenarios.smart_village.personal_data:PERSONAL_DATA", demo="scenarios.smart_village.demo:load",
)
