"""The listing engine: catalogue entries with an owner, a moderating organisation, a location,
a category, photos and scenario-validated ``details``; states draft → submitted → published →
withdrawn / rejected; search by text, category, price range and distance, paginated.

Scenarios configure it with a ``ListingConfig`` (config.py). Tables: models.py; state changes
(compare-and-set, each an event row): service.py; search (``pg_trgm`` on PostgreSQL, a
substring match on SQLite, both through one ``LIKE``): search.py; the HTTP API as a table of
actions: actions.py and routes.py.
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="listing",
    models=("scenarios.engines.listing.models",),
    scenario_blueprints="scenarios.engines.listing.routes:scenario_blueprints",
    install="scenarios.engines.listing.config:install",
    personal_data="scenarios.engines.listing.personal_data:PERSONAL_DATA",
)
