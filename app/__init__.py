"""Application factory."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import swagger_ui_bundle
from flask import Flask, send_from_directory

from app.api import Api, install_int64_converter
from app.clock import Clock, DatabaseClock
from app.config import Settings, load_settings
from app.console import install as install_console
from app.db import Database, close_session
from app.db_faults import RetryingFlask
from app.db_faults import install as install_db_faults
from app.json_input import JSONProvider
from app.logs import configure_logging, install_request_logging
from app.metrics import install as install_metrics
from app.places.labels import install as install_place_labels
from app.places.routes import cache_seconds as places_cache_seconds
from app.proxies import install as install_proxies
from app.security_headers import install as install_security_headers
from app.sessions import ConsoleOnlySessions

if TYPE_CHECKING:
    from app.scenario import Scenario

# One fixed configuration for the spec, so it never varies with APP_ENV.
SPEC_CONFIG = {
    "API_TITLE": "金山生活数字化场景 API (Jinshan life scenarios)",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Backend of the Jinshan district digital-life mini-program. Coordinates are "
                "WGS84; money is an integer number of fen; times are ISO 8601 with an offset "
                "(sent out in +08:00). Errors are {code, message, errors?, request_id}."
            )
        }
    },
}

MAX_CONTENT_LENGTH = 12 * 1024 * 1024


def load_modules(extra_scenarios: Iterable[Scenario] = ()) -> tuple[Scenario, ...]:
    """Load what every process needs before its first request or worker pass: the platform's
    modules, and the models and jobs the registry names for each engine and scenario; hand
    each engine its scenarios' configs. Returns the scenarios served (the registry's, then
    ``extra_scenarios``: tests register engine test scenarios this way)."""
    from app.chains import install as install_chains
    from app.models import PLATFORM_MODULES, load
    from app.privacy.parts import install as install_personal_data
    from app.scenario import load as load_target
    from scenarios import registry

    scenarios = (*registry.SCENARIOS, *extra_scenarios)
    registry.check(scenarios)
    load(PLATFORM_MODULES)
    for engine in registry.ENGINES.values():
        load(engine.modules)
    for scenario in scenarios:
        load(scenario.modules)
    install_personal_data([load_target(d.personal_data) for d in (*registry.ENGINES.values(), *scenarios)
                           if d.personal_data is not None])
    install_chains([load_target(s.escalation) for s in scenarios if s.escalation is not None])
    for engine in registry.ENGINES.values():
        if engine.install is not None:
            load_target(engine.install)([s.config for s in scenarios
                                         if s.config is not None and s.engines[0] == engine.name])
    return scenarios


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    extra_scenarios: Iterable[Scenario] = (),
) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    scenarios = load_modules(extra_scenarios)
    app = RetryingFlask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    app.config.update(SPEC_CONFIG)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        JSON_SORT_KEYS=False,
    )
    app.json = JSONProvider(app)
    app.json.ensure_ascii = False
    db = database or Database(settings.database_url)
    app.extensions["settings"] = settings
    app.extensions["db"] = db
    app.extensions["clock"] = clock or DatabaseClock(db.engine)
    app.teardown_appcontext(close_session)
    app.session_interface = ConsoleOnlySessions()
    install_proxies(app)
    install_request_logging(app)
    install_metrics(app)
    install_security_headers(app)

    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str):
        return send_from_directory(assets, filename, max_age=86400)

    install_place_labels(app, places_cache_seconds(settings))
    _setup_engines(app)
    api = Api(app)
    install_db_faults(app)
    install_int64_converter(app, api)
    app.extensions["api"] = api
    register_blueprints(api, settings, scenarios)
    install_console(app, console_pages(scenarios))

    from app.cli import register_cli

    register_cli(app)
    return app


def _setup_engines(app: Flask) -> None:
    """Each engine's per-app ``setup`` (its caches), as the registry names them."""
    from app.scenario import load
    from scenarios.registry import ENGINES

    for engine in ENGINES.values():
        if engine.setup is not None:
            load(engine.setup)(app)


def register_blueprints(api: Api, settings: Settings, scenarios: Iterable[Scenario]) -> None:
    """The platform's blueprints, then each engine's engine-wide ones, then each scenario's
    (those its engine builds from its config, then its own), in the spec's order."""
    from app.platform_routes import health_blp, registry_blp
    from app.scenario import load
    from scenarios.registry import ENGINES

    for blp in (health_blp, registry_blp):
        api.register_blueprint(blp)
    for module in _platform_blueprint_modules():
        for blp in module.blueprints(settings):
            api.register_blueprint(blp)
    for engine in ENGINES.values():
        for target in engine.blueprints:
            for blp in load(target)(settings):
                api.register_blueprint(blp)
    for scenario in scenarios:
        engine = ENGINES.get(scenario.engines[0]) if scenario.engines else None
        if scenario.config is not None and engine is not None and engine.scenario_blueprints:
            for blp in load(engine.scenario_blueprints)(scenario.config):
                api.register_blueprint(blp)
        for target in scenario.blueprints:
            for blp in load(target)():
                api.register_blueprint(blp)


def console_pages(scenarios: Iterable[Scenario]) -> list:
    """The staff console's page factories (``() -> list[flask.Blueprint]``) each engine and
    scenario names (``console=`` on its declaration), loaded by name, in the registry's order."""
    from app.scenario import lazy
    from scenarios.registry import ENGINES

    return [lazy(target) for d in (*ENGINES.values(), *scenarios) for target in d.console]


def _platform_blueprint_modules() -> list:
    """Modules exposing ``blueprints(settings) -> list[Blueprint]``, in spec order."""
    import auth.routes
    import qr.routes
    from app import chain_routes, worker_routes
    from app.moderation import routes as moderation_routes
    from app.notify import routes as notify_routes
    from app.places import routes as places_routes
    from app.privacy import routes as privacy_routes
    from app.sms import routes as sms_routes
    from app.storage import routes as storage_routes
    from app.wechat import routes as wechat_routes

    return [places_routes, storage_routes, auth.routes, qr.routes, worker_routes, wechat_routes, moderation_routes,
            sms_routes, notify_routes, privacy_routes, chain_routes]
