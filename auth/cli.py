"""``flask --app wsgi users|orgs|devices|pii ...``: identity administration commands."""
from __future__ import annotations

import json
import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from app.errors import ApiError

users_cli = AppGroup("users", help="Staff accounts.")
orgs_cli = AppGroup("orgs", help="Organisations.")
devices_cli = AppGroup("devices", help="Devices of organisations.")
pii_cli = AppGroup("pii", help="Personal-data encryption.")


def _db():
    return current_app.extensions["db"]


def _fail(err: ApiError) -> None:
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (err.errors or {}).items())
    raise click.ClickException(f"{err.code}{': ' + detail if detail else ''}")


@users_cli.command("create-staff")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--org", "org_code", required=True, help="Organisation code.")
@click.option("--role", required=True)
def create_staff_cmd(username: str, password_stdin: bool, org_code: str, role: str) -> None:
    """Create a staff account (or add a membership to an existing one)."""
    from auth.permissions import org_by_code
    from auth.staff import create_staff

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        with _db().transaction() as s:
            org = org_by_code(s, org_code)
            account, membership, generated = create_staff(s, username=username, password=password, org=org, role=role)
            out = {"account_id": account.id, "username": account.username, "org": org.code, "role": membership.role}
    except ApiError as err:
        if err.code == "not_found":
            raise click.ClickException(f"no organisation {org_code!r}") from None
        _fail(err)
    if generated:
        out["initial_password"] = generated
    click.echo(json.dumps(out, ensure_ascii=False))


@orgs_cli.command("list")
@click.option("--type", "org_type", default=None, help="Only this organisation type.")
def orgs_list_cmd(org_type: str | None) -> None:
    """One JSON object a line: code, name, type, parent, supervisor."""
    from sqlalchemy.orm import aliased

    from auth.organisations import ORG_TYPES, Organisation

    if org_type is not None and org_type not in ORG_TYPES:
        raise click.BadParameter(f"one of {', '.join(ORG_TYPES)}", param_hint="--type")
    parent, supervisor = aliased(Organisation), aliased(Organisation)
    stmt = (sa.select(Organisation, parent.code, supervisor.code)
            .outerjoin(parent, Organisation.parent_id == parent.id)
            .outerjoin(supervisor, Organisation.supervisor_id == supervisor.id)
            .order_by(Organisation.code))
    if org_type:
        stmt = stmt.where(Organisation.type == org_type)
    with _db().transaction(write=False) as s:
        for org, parent_code, supervisor_code in s.execute(stmt):
            click.echo(json.dumps({"code": org.code, "name": org.name, "type": org.type, "parent": parent_code,
                                   "supervisor": supervisor_code, "active": org.active}, ensure_ascii=False))


@devices_cli.command("create")
@click.option("--org", "org_code", required=True)
@click.option("--kind", required=True)
@click.option("--name", required=True)
def devices_create_cmd(org_code: str, kind: str, name: str) -> None:
    """Create a device; prints its device_id and secret (shown only this once)."""
    from auth.devices import create_device
    from auth.permissions import org_by_code

    try:
        with _db().transaction() as s:
            org = org_by_code(s, org_code)
            device, secret = create_device(s, org=org, kind=kind, name=name)
            out = {"device_id": device.uid, "secret": secret, "org": org.code, "kind": device.kind,
                   "name": device.name}
    except ApiError as err:
        if err.code == "not_found":
            raise click.ClickException(f"no organisation {org_code!r}") from None
        _fail(err)
    click.echo(json.dumps(out, ensure_ascii=False))


@pii_cli.command("rotate")
@click.option("--batch", default=500, show_default=True)
def pii_rotate_cmd(batch: int) -> None:
    """Re-encrypt personal data under the first DATA_ENCRYPTION_KEYS key; recompute lookup hashes."""
    from app.models import metadata
    from auth.pii import keyring, rotate

    counts = rotate(_db(), keyring(), metadata, batch=batch)
    click.echo(json.dumps({"reencrypted": counts, "key": keyring().current_kid}, ensure_ascii=False))


def register(app: Flask) -> None:
    for group in (users_cli, orgs_cli, devices_cli, pii_cli):
        app.cli.add_command(group)
