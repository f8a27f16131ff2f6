"""HTTP API of a telemetry scenario, mounted at ``/api/v1/<slug>``: one generic view builds
every row of ``actions.ROUTES`` (guard, arguments, answer, visibility of the object in the
URL, commit of a write, ``Idempotency-Key`` on a POST)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, page_of
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth, require_device
from auth.visibility import loaded, visible_object
from scenarios.engines.telemetry.actions import DEVICE, ROUTES, Route
from scenarios.engines.telemetry.config import TelemetryConfig
from scenarios.engines.telemetry.visibility import register_object_types


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def make_blueprint(config: TelemetryConfig) -> Blueprint:
    """The scenario's telemetry endpoints (a scenario using telemetry as a second engine mounts
    this among its own blueprints)."""
    register_object_types()
    blp = Blueprint(f"{config.slug}-telemetry", __name__, url_prefix=f"/api/v1/{config.slug}",
                    description=f"{config.title_zh}: device readings ({config.slug}), on the telemetry engine.")
    for route in ROUTES:
        _route_view(blp, config, route)
    return blp


def _route_view(blp: Blueprint, config: TelemetryConfig, route: Route) -> None:
    def view(self, args, **_url: Any):
        session = get_session()
        obj = loaded(route.object_type) if route.object_type is not None else None
        answer = route.handler(session, clock=current_clock(), principal=current_principal(), config=config,
                               args=args, obj=obj)
        if route.writes:
            session.commit()
        return answer

    view.__doc__ = route.summary
    decorated: Callable = view
    if route.errors:
        decorated = _err(blp, 422 if route.writes else 403, route.errors)(decorated)
    answer = page_of(route.answer, f"{config.schema_prefix}{route.answer.__name__.removesuffix('Schema')}PageSchema")
    decorated = blp.response(200, answer if route.paged else route.answer)(decorated)
    decorated = blp.arguments(route.schema, location=route.location)(decorated)
    decorated = require_device(decorated) if route.callers == DEVICE else require_auth(kinds=route.callers)(decorated)
    if route.object_type is not None:
        decorated = visible_object(route.object_type, route.object_arg)(decorated)
    if route.writes and route.method == "POST":
        decorated = idempotent(decorated)
    name = f"{config.schema_prefix}Telemetry{route.endpoint.title().replace('_', '')}View"
    cls = type(name, (MethodView,), {route.method.lower(): decorated})
    blp.route(route.path, endpoint=route.endpoint)(cls)


def scenario_blueprints(config: TelemetryConfig) -> list[Blueprint]:
    """The engine's ``scenario_blueprints``: a telemetry scenario's endpoints."""
    return [make_blueprint(config)]
