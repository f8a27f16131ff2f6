"""``flask places load-villages``: the district's villages from a CSV, every row checked first
(a bad row is named by its line and field, and then nothing is loaded), loaded idempotently,
areas kept for "does this point lie in the village"."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.places.areas import village_area
from app.places.models import Village
from auth.organisations import Organisation

SAMPLE = Path(__file__).resolve().parents[3] / "app" / "places" / "data" / "villages_sample.csv"
HEADER = "code,name,town,lat,lon,house_count,radius_m,polygon\n"


def _run(app, path: Path):
    return app.test_cli_runner().invoke(args=["places", "load-villages", str(path)])


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Village))


def test_the_sample_loads_once_and_again_changes_nothing(app, session):
    before = _count(session)
    first = _run(app, SAMPLE)
    assert first.exit_code == 0, first.output
    assert '"inserted": 4' in first.output and '"committees_created": 4' in first.output
    again = _run(app, SAMPLE)
    assert again.exit_code == 0 and '"unchanged": 4' in again.output and '"inserted": 0' in again.output
    assert _count(session) == before + 4
    square = session.scalar(sa.select(Village).where(Village.code == "310116104-v-sample-xinxiang"))
    assert square.attributes["area"]["polygon"][0] == [121.315, 30.876]
    assert village_area(square).contains(30.88, 121.32) and not village_area(square).contains(30.89, 121.32)
    committee = session.get(Organisation, square.committee_id)
    assert (committee.code, committee.type, committee.name) == (
        "310116104-vc-sample-xinxiang", "village_committee", "新巷村（示例）村民委员会")
    circle = session.scalar(sa.select(Village).where(Village.code == "310116101-v-sample-dongfeng"))
    assert circle.attributes["area"] == {"radius_m": 1200}


def test_a_changed_row_is_updated(app, session, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(HEADER + "310116105-v-sample-yongan,永安村,吕巷镇,30.8400,121.2150,510,,\n", encoding="utf-8")
    assert _run(app, path).exit_code == 0
    path.write_text(HEADER + "310116105-v-sample-yongan,永安村,吕巷镇,30.8400,121.2150,530,800,\n", encoding="utf-8")
    out = _run(app, path)
    assert out.exit_code == 0 and '"updated": 1' in out.output, out.output
    village = session.scalar(sa.select(Village).where(Village.code == "310116105-v-sample-yongan"))
    session.refresh(village)
    assert village.house_count == 530 and village.attributes["area"] == {"radius_m": 800}


def test_bad_rows_are_named_by_line_and_nothing_is_loaded(app, session, tmp_path):
    before = _count(session)
    rows = [
        "310116101-v-good,好村,朱泾镇,30.8850,121.1900,420,,",  # line 2: fine
        "Bad Code,坏村,朱泾镇,30.8850,121.1900,420,,",  # line 3
        "310116101-v-x1,一村,火星镇,30.8850,121.1900,420,,",  # line 4
        "310116101-v-x2,二村,朱泾镇,31.2304,121.4737,420,,",  # line 5: central Shanghai
        "310116101-v-x3,三村,朱泾镇,30.8850,121.1900,many,,",  # line 6
        "310116101-v-x4,四村,朱泾镇,30.8850,121.1900,420,500,121.1 30.8;121.2 30.8;121.2 30.9",  # line 7
        "310116101-v-x5,五村,朱泾镇,30.8850,121.1900,420,,121.1 30.8;121.2",  # line 8
        "310116101-v-good,好村,朱泾镇,30.8850,121.1900,420,,",  # line 9: twice
        "310116101-v-x6,六村,朱泾镇,30.8850,121.1900,420,-5,",  # line 10
    ]
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    out = _run(app, path)
    assert out.exit_code != 0
    for expected in ("line 3: code", "line 4: town", "line 5: lat", "line 6: house_count", "line 7: radius_m",
                     "line 8: polygon", "line 9: code", "line 10: radius_m", "nothing loaded"):
        assert expected in out.output, (expected, out.output)
    assert "line 2:" not in out.output
    assert _count(session) == before


def test_a_wrong_header_or_encoding_is_refused(app, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("code,name,lat\n310116101-v-a,甲村,30.8\n", encoding="utf-8")
    out = _run(app, path)
    assert out.exit_code != 0 and "line 1: header" in out.output
    path.write_bytes(HEADER.encode() + "310116101-v-a,甲村,朱泾镇,30.88,121.19,400,,\n".encode("gbk"))
    out = _run(app, path)
    assert out.exit_code != 0 and "not UTF-8" in out.output


def test_every_reference_village_has_a_valid_area():
    from app.places.areas import parse_area
    from app.places.seed import reference_data

    for village in reference_data()["villages"]:
        area = village["attributes"].get("area")
        assert area is not None and parse_area(area) == area, village["code"]
