"""``flask places ...``: the district's places beyond the committed reference data."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

places_cli = AppGroup("places", help="The district's places (villages from a CSV).")


@places_cli.command("load-villages")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_villages(path: Path) -> None:
    """Load or update the district's villages from a UTF-8 CSV (columns: code, name, town, lat,
    lon, house_count, and radius_m or polygon; see app/places/village_csv.py). Every row is checked
    first: a bad row is reported with its line number and nothing is loaded. Re-loading the same
    file changes nothing."""
    from app.places import village_csv
    from app.places.directory import invalidate

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    database = current_app.extensions["db"]
    with database.transaction() as session:
        parsed = village_csv.parse(session, text)
        if parsed.errors:
            raise click.ClickException(f"{path}: {len(parsed.errors)} bad row(s), nothing loaded:\n"
                                       + "\n".join(parsed.errors))
        try:
            counts = village_csv.load(session, parsed.rows)
        except ValueError as exc:
            raise click.ClickException(f"{path}: {exc}; nothing loaded") from exc
    if counts["inserted"] or counts["updated"]:
        invalidate()
    click.echo(json.dumps(counts, ensure_ascii=False))


def register(app: Flask) -> None:
    app.cli.add_command(places_cli)
