"""Health, readiness and the scenario registry."""
from __future__ import annotations

from flask import current_app, jsonify
from flask.views import MethodView

from app.api import Blueprint, Schema, fields
from app.db import get_db
from app.migrations_state import migration_state

health_blp = Blueprint("platform", __name__, description="Health and readiness")
registry_blp = Blueprint("registry", __name__, url_prefix="/api/v1", description="Scenario registry")


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)
    revision = fields.String(allow_none=True)
    head = fields.String(allow_none=True)


@health_blp.route("/healthz")
class Healthz(MethodView):
    @health_blp.response(200, HealthSchema)
    def get(self):
        """Alive: touches nothing."""
        return {"status": "ok"}


@health_blp.route("/readyz")
class Readyz(MethodView):
    @health_blp.response(200, ReadySchema)
    @health_blp.alt_response(503, schema=ReadySchema, description="Not ready, with the reason")
    def get(self):
        """Ready: the database answers and is at the migration head."""
        try:
            current, head = migration_state(get_db().engine)
        except Exception as exc:  # the reason goes in the body; the details in the log
            current_app.logger.warning("readyz: database unreachable: %s", type(exc).__name__)
            body = {"status": "unavailable", "database": "unreachable", "revision": None, "head": None}
            return jsonify(body), 503
        if current != head:
            body = {"status": "unavailable", "database": "not_at_head", "revision": current, "head": head}
            return jsonify(body), 503
        return {"status": "ok", "database": "ok", "revision": current, "head": head}


class ScenarioSchema(Schema):
    slug = fields.String(required=True)
    title_zh = fields.String(required=True)
    title_en = fields.String(required=True)
    seed_refs = fields.List(fields.String(), required=True)
    engines = fields.List(fields.String(), required=True)
    roles = fields.List(fields.String(), required=True)
    base_path = fields.String(required=True)


class ScenarioListSchema(Schema):
    items = fields.List(fields.Nested(ScenarioSchema), required=True)


@registry_blp.route("/scenarios")
class ScenarioList(MethodView):
    @registry_blp.response(200, ScenarioListSchema)
    def get(self):
        """The working scenarios, for the mini-program's home screen."""
        from scenarios.registry import SCENARIOS

        return {"items": [s.describe() for s in SCENARIOS]}
