"""Application factory."""
from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Flask, send_from_directory

from app.api import Api, install_int64_converter
from app.clock import Clock, DatabaseClock
from app.config import Settings, load_settings
from app.db import Database, close_session
from app.logs import configure_logging, install_request_logging

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


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    # Every model and every timer handler / periodic job must be registered in every process
    # (web and worker alike) before the first request or the first worker pass.
    from app import models as _all_models  # noqa: F401
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    app.config.update(SPEC_CONFIG)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    db = database or Database(settings.database_url)
    app.extensions["settings"] = settings
    app.extensions["db"] = db
    app.extensions["clock"] = clock or DatabaseClock(db.engine)
    app.teardown_appcontext(close_session)
    install_request_logging(app)

    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str):
        return send_from_directory(assets, filename, max_age=86400)

    api = Api(app)
    install_int64_converter(app, api)
    app.extensions["api"] = api
    register_blueprints(api, settings)

    from app.cli import register_cli

    register_cli(app)
    return app


def register_blueprints(api: Api, settings: Settings) -> None:
    from app.platform_routes import health_blp, registry_blp
    from scenarios import SCENARIOS

    for blp in (health_blp, registry_blp):
        api.register_blueprint(blp)
    for module in _platform_blueprint_modules():
        for blp in module.blueprints(settings):
            api.register_blueprint(blp)
    for scenario in SCENARIOS:
        for blp in scenario.blueprints():
            api.register_blueprint(blp)


def _platform_blueprint_modules() -> list:
    """Modules exposing ``blueprints(settings) -> list[Blueprint]``, in spec order."""
    import auth.routes
    import qr.routes
    from app import worker_routes
    from app.moderation import routes as moderation_routes
    from app.places import routes as places_routes
    from app.sms import routes as sms_routes
    from app.storage import routes as storage_routes
    from app.wechat import routes as wechat_routes
    from scenarios.engines.workflow import routes as workflow_routes

    return [places_routes, storage_routes, auth.routes, qr.routes, worker_routes, wechat_routes, moderation_routes,
            sms_routes, workflow_routes]


def current_clock() -> Clock:
    from flask import current_app

    return current_app.extensions["clock"]


def current_settings() -> Settings:
    from flask import current_app

    return current_app.extensions["settings"]
