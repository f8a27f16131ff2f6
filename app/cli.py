"""``flask --app wsgi ...`` commands of the platform."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.worker_cli import register as register_worker_cli

openapi_cli = AppGroup("openapi", help="The OpenAPI spec.")
seed_cli = AppGroup("seed", help="Reference and demo data.")
dev_cli = AppGroup("dev", help="Development helpers.")


def spec_settings():
    """The one fixed configuration the committed spec is generated under (whatever APP_ENV)."""
    from app.config import load_settings

    return load_settings({"APP_ENV": "development", "DATABASE_URL": "sqlite://", "ENABLE_DEV_ROUTES": "1",
                          "LOG_LEVEL": "WARNING"})


def render_spec() -> str:
    from app import create_app
    from app.clock import SystemClock

    spec = create_app(spec_settings(), clock=SystemClock()).extensions["api"].spec.to_dict()
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@openapi_cli.command("write")
@click.argument("path", default="openapi/openapi.json")
def openapi_write(path: str) -> None:
    """Write the spec (default: openapi/openapi.json)."""
    Path(path).write_text(render_spec(), encoding="utf-8")
    click.echo(f"wrote {path}")


@seed_cli.command("reference")
def seed_reference() -> None:
    """Load the organisations and places of Jinshan only (safe in production; idempotent)."""
    from app.places.seed import load_reference

    click.echo(json.dumps(load_reference(current_app.extensions["db"]), ensure_ascii=False))


@seed_cli.command("demo")
def seed_demo() -> None:
    """Load the reference places and the demo data; running it twice changes nothing.

    Demo data holds staff accounts with a published password, so production refuses it.
    """
    from app.seed import load_demo

    if current_app.extensions["settings"].is_production:
        raise click.ClickException("demo data is for development; use `flask seed reference` in production")
    counts = load_demo(current_app.extensions["db"], current_app.extensions["clock"])
    click.echo(json.dumps(counts, ensure_ascii=False))


@dev_cli.command("init-secrets")
def dev_init_secrets() -> None:
    """Create instance/dev-secrets.json when missing (development only)."""
    from app.config import DEV_SECRETS_FILE, ensure_dev_secrets

    created = ensure_dev_secrets()
    click.echo(f"{'created' if created else 'kept'} {DEV_SECRETS_FILE}")


@dev_cli.command("banner")
def dev_banner() -> None:
    """Print how to reach the running development server."""
    settings = current_app.extensions["settings"]
    port = settings.port
    click.echo(f"""
  Jinshan life-scenarios backend ({settings.app_env}) on http://127.0.0.1:{port}
    API docs:   http://127.0.0.1:{port}/docs
    health:     curl http://127.0.0.1:{port}/healthz
    scenarios:  curl http://127.0.0.1:{port}/api/v1/scenarios
    dev login:  curl -X POST http://127.0.0.1:{port}/api/v1/auth/dev/login \\
                  -H 'Content-Type: application/json' -d '{{"openid": "demo-resident-1"}}'
    staff:      POST /api/v1/auth/staff/login with a demo staff user (see README,
                "Demo accounts"), password jinshan-demo-2026
  Ctrl-C stops the server and the worker.
""")


@click.command("scenarios")
def scenarios_cmd() -> None:
    """Print the registered scenarios, one JSON object a line."""
    from scenarios.registry import SCENARIOS

    for s in SCENARIOS:
        click.echo(json.dumps(s.describe(), ensure_ascii=False))


def register_cli(app: Flask) -> None:
    from auth.cli import register as register_auth_cli

    for group in (openapi_cli, seed_cli, dev_cli, scenarios_cmd):
        app.cli.add_command(group)
    register_worker_cli(app)
    register_auth_cli(app)
    from app.places.cli import register as register_places_cli

    register_places_cli(app)
    from qr.cli import register as register_qr

    register_qr(app)
