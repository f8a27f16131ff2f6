"""``flask --app wsgi qr ...``: the QR signing keys and housekeeping.

No command prints a private key or the key-encryption key.
"""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from qr.config import QrConfig, parse_kek

qr_cli = AppGroup("qr", help="Signed QR codes: keys and housekeeping.")


def _context():
    app = current_app
    settings = app.extensions["settings"]
    return app.extensions["db"], app.extensions["clock"], parse_kek(settings.key_encryption_key), \
        QrConfig.from_settings(settings)


@qr_cli.command("init-keys")
def init_keys_cmd() -> None:
    """Create the first signing key unless one exists (safe to run at every start)."""
    from qr.keys import init_keys

    db, clock, kek, _ = _context()
    with db.transaction() as s:
        key, created = init_keys(s, kek=kek, clock=clock)
        kid = key.kid
    click.echo(f"{'created' if created else 'kept'} signing key {kid}")


@qr_cli.command("rotate-key")
@click.option("--now", "immediate", is_flag=True, help="Sign with the new key at once instead of "
              "publishing it first for two reload periods.")
@click.option("--compromised", is_flag=True, help="Also withdraw every older key at once: all codes "
              "they signed stop verifying (implies --now).")
def rotate_key_cmd(immediate: bool, compromised: bool) -> None:
    """Add a new signing key; older keys stay published while their codes can live."""
    from qr.keys import rotate_key

    db, clock, kek, config = _context()
    with db.transaction() as s:
        key = rotate_key(s, kek=kek, clock=clock, config=config, immediate=immediate, compromised=compromised)
        kid, active_from = key.kid, key.active_from
    click.echo(f"new signing key {kid}, signing from {active_from.isoformat()}")


@qr_cli.command("keys")
def keys_cmd() -> None:
    """List the keys (public facts only), one JSON object a line."""
    import sqlalchemy as sa

    from qr.models import QrSigningKey

    db, *_ = _context()
    with db.transaction(write=False) as s:
        for k in s.scalars(sa.select(QrSigningKey).order_by(QrSigningKey.active_from)):
            click.echo(json.dumps({
                "kid": k.kid, "active_from": k.active_from.isoformat(),
                "retired_at": k.retired_at.isoformat() if k.retired_at else None,
                "publish_until": k.publish_until.isoformat() if k.publish_until else None,
                "has_private_key": k.private_key_enc is not None,
            }))


@qr_cli.command("purge")
def purge_cmd() -> None:
    """Delete used token ids and pseudonyms of expired codes, old scans, retired private keys."""
    from qr.service import purge_expired

    db, clock, _, config = _context()
    with db.transaction() as s:
        counts = purge_expired(s, clock=clock, config=config)
    click.echo(json.dumps(counts))


def register(app: Flask) -> None:
    app.cli.add_command(qr_cli)
