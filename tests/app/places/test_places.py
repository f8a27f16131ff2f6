"""Reference organisations and places: contents, loading, management by date, the read API."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta
from datetime import time as dtime

import pytest
import sqlalchemy as sa

from app.db import Database
from app.errors import ApiError
from app.fields import CST
from app.geo import inside_district
from app.places import directory as directory_mod
from app.places import service
from app.places.data import generate
from app.places.directory import CommunityDirectory, sql_page
from app.places.models import Building, Community, ManagementAssignment, Village
from app.places.routes import cache_seconds
from app.places.seed import REFERENCE_TABLES, load_reference, reference_data
from auth.organisations import TOWN_LEVEL_TYPES, Organisation

TOWN_CODES = ["310116001", "310116101", "310116102", "310116103", "310116104", "310116105", "310116107",
              "310116109", "310116112", "310116113", "310116503"]


def org(session, code: str) -> Organisation:
    return session.scalar(sa.select(Organisation).where(Organisation.code == code))


def community(session, code: str) -> Community:
    return session.scalar(sa.select(Community).where(Community.code == code))


def count(session, model, *where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def content_hash(session) -> str:
    h = hashlib.sha256()
    for name in REFERENCE_TABLES:
        table = sa.Table(name, sa.MetaData(), autoload_with=session.connection())
        for row in session.execute(sa.select(table).order_by(table.c.id)):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def changed_community() -> dict:
    return next(c for c in reference_data()["communities"] if len(c["assignments"]) == 2)


def unmanaged_community() -> dict:
    return next(c for c in reference_data()["communities"] if not c["assignments"])


# ------------------------------------------------------------------ the data files

def test_generator_reproduces_the_committed_files():
    for name, text in generate.rendered().items():
        assert (generate.DATA_DIR / name).read_text(encoding="utf-8") == text, name


def test_reference_files_are_consistent():
    data = reference_data()
    codes = [o["code"] for o in data["organisations"]]
    assert len(codes) == len(set(codes))
    known = set(codes)
    for o in data["organisations"]:
        assert o["parent"] in known | {None} and o["supervisor"] in known | {None}
    names = [c["name"] for c in data["communities"]]
    assert len(names) == len(set(names)) == 252
    for c in data["communities"]:
        assert {c["town"], c["committee"], c["fallback_owner"]} <= known
        assert all(a["company"] in known for a in c["assignments"])


# ------------------------------------------------------------------ what is loaded

def test_organisation_tree(session):
    district = org(session, "310116")
    assert (district.name, district.type) == ("金山区人民政府", "district")
    towns = session.scalars(sa.select(Organisation).where(Organisation.type.in_(TOWN_LEVEL_TYPES))).all()
    assert sorted(t.code for t in towns) == TOWN_CODES
    assert {t.name for t in towns} >= {"石化街道", "朱泾镇", "枫泾镇", "金山卫镇", "山阳镇", "金山工业区"}
    assert all(t.parent_id == district.id and inside_district(**t.attributes["centre"]) for t in towns)
    for t in towns:
        office = org(session, f"{t.code}-housing")
        assert office.type == "housing_office" and office.parent_id == t.id and office.generated
        committees = count(session, Organisation, Organisation.parent_id == t.id,
                           Organisation.type == "neighbourhood_committee")
        assert committees >= 1


def test_bureaus_declare_what_they_supervise(session):
    bureaus = {b.attributes["short_name"]: b for b in
               session.scalars(sa.select(Organisation).where(Organisation.type == "bureau"))}
    assert {"区房管局", "区民政局", "区交通委", "区卫健委", "区体育局", "区文旅局", "区人社局", "区教育局",
            "区生态环境局", "区水务局", "区城运中心", "区市场监管局"} <= set(bureaus)
    assert set(bureaus["区房管局"].attributes["supervises"]) == {"property_company", "housing_office"}
    assert set(bureaus["区卫健委"].attributes["supervises"]) == {"hospital", "community_health_centre"}
    companies = session.scalars(sa.select(Organisation).where(Organisation.type == "property_company")).all()
    assert len(companies) == 20
    assert {c.supervisor_id for c in companies} == {bureaus["区房管局"].id}


def test_health_institutions(session):
    health = org(session, "310116-bureau-health")
    hospitals = session.scalars(sa.select(Organisation).where(Organisation.type == "hospital")).all()
    kinds = sorted(h.attributes["kind"] for h in hospitals)
    assert kinds == ["general"] * 4 + ["specialist"]
    centres = session.scalars(
        sa.select(Organisation).where(Organisation.type == "community_health_centre")).all()
    assert len(centres) == 11
    assert sorted(org_.attributes["town"] for org_ in centres) == TOWN_CODES  # one per town
    assert {o.supervisor_id for o in [*hospitals, *centres]} == {health.id}
    assert len(hospitals) + len(centres) == 16


def test_communities(session):
    assert count(session, Community) == 252
    per_town = dict(session.execute(
        sa.select(Organisation.code, sa.func.count()).join(Community, Community.town_id == Organisation.id)
        .group_by(Organisation.code)).all())
    assert sum(per_town.values()) == 252 and set(per_town) == set(TOWN_CODES)
    top_two = sorted(per_town, key=per_town.get, reverse=True)[:2]
    assert set(top_two) == {"310116001", "310116101"}  # 石化街道 and 朱泾镇 have the most
    rows = session.scalars(sa.select(Community).options(sa.orm.selectinload(Community.buildings))).all()
    for c in rows:
        assert inside_district(c.lat, c.lon), c.code
        assert c.fallback_owner.code == f"{c.town.code}-housing"
        assert c.committee.parent_id == c.town_id and c.committee.type == "neighbourhood_committee"
        assert 3 <= len(c.buildings) <= 20
        assert all(6 <= b.floors <= 18 and 2 <= b.rooms_per_floor <= 6 for b in c.buildings)
        assert 0 < c.households <= sum(b.floors * b.rooms_per_floor for b in c.buildings)
        assert c.generated


def test_management_assignments(session):
    with_any = set(session.scalars(sa.select(ManagementAssignment.community_id).distinct()))
    assert 252 - len(with_any) == 10
    ended = session.scalars(
        sa.select(ManagementAssignment.community_id).where(ManagementAssignment.valid_to.is_not(None))).all()
    assert len(ended) >= 10
    today = date(2026, 11, 2)
    current = session.scalars(sa.select(ManagementAssignment.community_id).where(
        ManagementAssignment.valid_from <= today, ManagementAssignment.valid_to.is_(None))).all()
    assert len(current) == len(set(current)) == 242  # one current company each


def test_villages(session):
    villages = session.scalars(sa.select(Village)).all()
    assert len(villages) == 10
    assert sum(v.demonstration for v in villages) == 9
    xinghuo = next(v for v in villages if v.name == "星火村")
    assert not xinghuo.demonstration and xinghuo.town.name == "金山卫镇"
    for v in villages:
        assert inside_district(v.lat, v.lon)
        assert v.committee.type == "village_committee" and v.committee.parent_id == v.town_id
        assert v.house_count > 0 and v.has_house(v.house_count) and not v.has_house(v.house_count + 1)


# ------------------------------------------------------------------ loading

def test_load_reference_twice_changes_nothing(db, session):
    before_counts = {t: session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in REFERENCE_TABLES}
    before = content_hash(session)
    session.rollback()
    result = load_reference(db)
    assert result["inserted"] == 0 and result["updated"] == 0
    assert result["communities"] == 252 and result["villages"] == 10
    after_counts = {t: session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in REFERENCE_TABLES}
    assert after_counts == before_counts
    assert content_hash(session) == before


def test_load_reference_repairs_drift_and_keeps_extra_rows(db, session):
    c = community(session, "310116101-c001")
    original_name = c.name
    c.name = "改过的名字"
    extra = Building(community_id=c.id, number="99", floors=3, rooms_per_floor=2)
    session.add(extra)
    session.execute(sa.delete(Building).where(Building.community_id == c.id, Building.number == "1"))
    session.execute(sa.delete(Village).where(Village.code == "310116109-v-xinghuo"))
    session.commit()

    result = load_reference(db)
    assert result["inserted"] == 2 and result["updated"] == 1  # building 1, 星火村; the name
    session.expire_all()
    assert community(session, "310116101-c001").name == original_name
    assert service.find_building(session, c, "1") is not None
    assert service.find_building(session, c, "99") is not None  # not reference data: left alone
    assert service.find_village(session, "310116109-v-xinghuo").name == "星火村"


def test_load_into_an_empty_database_then_again(tmp_path):
    from app.models import metadata

    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    metadata.create_all(database.engine)
    first = load_reference(database)
    second = load_reference(database)
    database.dispose()
    assert first["inserted"] == sum(first[t] for t in REFERENCE_TABLES) and first["updated"] == 0
    assert (second["inserted"], second["updated"]) == (0, 0)


@pytest.mark.usefixtures("keyring")
def test_load_demo_and_the_seed_command(app, db, clock):
    from app.seed import load_demo

    with app.app_context():  # scenarios' demo data needs the app (data keys, QR keys, photos, moderation)
        result = load_demo(db, clock)
    assert result["reference"]["inserted"] == 0
    assert result["rows"]["communities"] == 252 and result["rows"]["villages"] == 10
    out = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert out.exit_code == 0, out.output
    assert '"communities": 252' in out.output


# ------------------------------------------------------------------ managing organisation by date

def test_managing_organisation_follows_dated_assignments(session):
    data = changed_community()
    first, second = data["assignments"]
    c = community(session, data["code"])
    start, switch = date.fromisoformat(first["valid_from"]), date.fromisoformat(first["valid_to"])
    assert second["valid_from"] == first["valid_to"] and first["company"] != second["company"]

    def manager(on: date) -> str:
        return service.managing_organisation(session, c, on).code

    assert manager(start - timedelta(days=1)) == f"{data['town']}-housing"  # before any company
    assert manager(start) == first["company"]
    assert manager(switch - timedelta(days=1)) == first["company"]
    assert manager(switch) == second["company"]  # valid_to is exclusive
    assert manager(date(2030, 1, 1)) == second["company"]


def test_fallback_owner_when_no_company(session):
    data = unmanaged_community()
    c = community(session, data["code"])
    owner = service.managing_organisation(session, c, date(2026, 11, 2))
    assert owner.type == "housing_office" and owner.code == f"{data['town']}-housing"
    assert service.current_assignment(session, c, date(2026, 11, 2)) is None


def test_bulk_managing_organisations_match_one_by_one(session):
    rows = session.scalars(sa.select(Community).order_by(Community.code)).all()
    on = date(2024, 6, 1)
    bulk = service.managing_organisations(session, rows, on)
    assert len(bulk) == 252
    assert all(bulk[c.id].id == service.managing_organisation(session, c, on).id for c in rows)


def test_communities_managed_by(session):
    today = date(2026, 11, 2)
    data = unmanaged_community()
    office = org(session, f"{data['town']}-housing")
    assert data["code"] in [c.code for c in service.communities_managed_by(session, office, today)]
    company = org(session, changed_community()["assignments"][1]["company"])
    managed = service.communities_managed_by(session, company, today)
    assert changed_community()["code"] in [c.code for c in managed]
    bulk = service.managing_organisations(session, managed, today)
    assert {o.id for o in bulk.values()} == {company.id}


def test_validate_room_and_house(session):
    c = community(session, "310116001-c001")
    b = service.find_building(session, c, "1")
    good = f"{b.floors}{b.rooms_per_floor:02d}"
    assert service.validate_room(session, c.code, "1", good) == (c, b)
    cases = [
        (("nope", "1", good), "community"),
        ((c.code, "999", good), "building"),
        ((c.code, "1", f"{b.floors + 1}01"), "room"),
        ((c.code, "1", "100"), "room"),
        ((c.code, "1", "1a1"), "room"),
    ]
    for (code, building, room), field in cases:
        with pytest.raises(ApiError) as exc:
            service.validate_room(session, code, building, room, prefix="address.")
        assert exc.value.code == "validation_error" and list(exc.value.errors) == [f"address.{field}"]
    v = service.validate_house(session, "310116109-v-xinghuo", 1)
    with pytest.raises(ApiError) as exc:
        service.validate_house(session, v.code, v.house_count + 1)
    assert list(exc.value.errors) == ["house"]


# ------------------------------------------------------------------ routes

def test_towns_route(client):
    resp = client.get("/api/v1/towns")
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    assert [t["code"] for t in items] == TOWN_CODES
    zhujing = next(t for t in items if t["code"] == "310116101")
    assert zhujing["name"] == "朱泾镇" and zhujing["type"] == "town"
    assert inside_district(zhujing["centre"]["lat"], zhujing["centre"]["lon"])


def test_communities_pagination(client):
    body = client.get("/api/v1/communities?page=2&page_size=10").get_json()
    assert (body["page"], body["page_size"], body["total"], len(body["items"])) == (2, 10, 252, 10)
    first = client.get("/api/v1/communities").get_json()
    assert (first["page"], first["page_size"], len(first["items"])) == (1, 20, 20)
    codes = [i["code"] for i in first["items"]]
    assert codes == sorted(codes)
    item = first["items"][0]
    assert set(item) == {"code", "name", "address", "lat", "lon", "households", "generated", "town"}
    assert item["town"] == {"code": "310116001", "name": "石化街道"}
    last = client.get("/api/v1/communities?page=26&page_size=10").get_json()
    assert (len(last["items"]), last["total"]) == (2, 252)
    past = client.get("/api/v1/communities?page=100&page_size=10").get_json()
    assert (past["items"], past["total"]) == ([], 252)
    seen = set()
    for page in range(1, 4):
        seen |= {i["code"] for i in client.get(f"/api/v1/communities?page={page}&page_size=100").get_json()["items"]}
    assert len(seen) == 252


def test_communities_by_town_and_text(client):
    body = client.get("/api/v1/communities?town=310116101&page_size=100").get_json()
    assert body["total"] == 50 and {i["town"]["code"] for i in body["items"]} == {"310116101"}
    name = reference_data()["communities"][60]["name"]
    found = client.get("/api/v1/communities", query_string={"q": name}).get_json()
    assert name in [i["name"] for i in found["items"]]
    by_address = client.get("/api/v1/communities", query_string={"q": "金山区朱泾镇", "page_size": 100}).get_json()
    assert by_address["total"] == 50
    empty_town = client.get("/api/v1/communities?town=310116107&q=zzz").get_json()
    assert empty_town["total"] == 0  # a known town with no match is an empty page, not an error


def assert_422(resp, field):
    assert resp.status_code == 422, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == "validation_error" and field in body["errors"]


def test_communities_bad_arguments(client):
    assert_422(client.get("/api/v1/communities?town=999999"), "town")
    assert_422(client.get("/api/v1/communities?page_size=101"), "page_size")
    assert_422(client.get("/api/v1/communities?page=0"), "page")
    assert_422(client.get("/api/v1/communities?colour=red"), "colour")
    assert_422(client.get("/api/v1/communities?q="), "q")
    assert_422(client.get("/api/v1/communities", query_string={"q": "x" * 101}), "q")


def add_community(session, name: str, address: str = "上海市金山区朱泾镇测试路1弄") -> Community:
    town = org(session, "310116101")
    c = Community(code=f"test-{uuid.uuid4().hex[:12]}", name=name, town_id=town.id,
                  fallback_owner_id=org(session, "310116101-housing").id, address=address,
                  lat=30.89, lon=121.17, households=10, generated=True)
    session.add(c)
    session.flush()
    return c


def test_q_is_case_insensitive_and_wildcards_are_literal(client, session):
    add_community(session, "Golden Bay 50%_Off")
    add_community(session, "Golden Bay 5000Off")
    session.commit()

    def names(q: str) -> list[str]:
        body = client.get("/api/v1/communities", query_string={"q": q}).get_json()
        return sorted(i["name"] for i in body["items"])

    assert names("golden bay") == ["Golden Bay 50%_Off", "Golden Bay 5000Off"]
    assert names("GOLDEN") == names("golden")
    assert names("50%") == ["Golden Bay 50%_Off"]
    assert names("%") == ["Golden Bay 50%_Off"]
    assert names("_") == ["Golden Bay 50%_Off"]
    assert names("%_o") == ["Golden Bay 50%_Off"]
    assert names("0_O") == []
    assert names("\\") == []


def test_community_detail(client, session):
    data = changed_community()
    resp = client.get(f"/api/v1/communities/{data['code']}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["code"] == data["code"] and body["town"]["code"] == data["town"]
    assert body["committee"]["code"] == data["committee"]
    numbers = [b["number"] for b in body["buildings"]]
    assert numbers == [str(n) for n in range(1, len(data["buildings"]) + 1)]  # natural order
    assert body["managing_organisation"]["code"] == data["assignments"][1]["company"]
    assert body["managing_organisation"]["type"] == "property_company"
    assert body["managed_by_fallback"] is False

    unmanaged = client.get(f"/api/v1/communities/{unmanaged_community()['code']}").get_json()
    assert unmanaged["managed_by_fallback"] is True
    assert unmanaged["managing_organisation"]["type"] == "housing_office"


def test_community_detail_uses_the_clock(client, clock):
    data = changed_community()
    switch = date.fromisoformat(data["assignments"][0]["valid_to"])
    # 23:30 in Beijing the day before the switch is 15:30 UTC: still the first company
    clock.set(datetime.combine(switch - timedelta(days=1), dtime(23, 30), tzinfo=CST))
    body = client.get(f"/api/v1/communities/{data['code']}").get_json()
    assert body["managing_organisation"]["code"] == data["assignments"][0]["company"]
    clock.advance(hours=1)  # 00:30 in Beijing on the switch day
    body = client.get(f"/api/v1/communities/{data['code']}").get_json()
    assert body["managing_organisation"]["code"] == data["assignments"][1]["company"]


def test_unknown_community_is_404(client):
    resp = client.get("/api/v1/communities/310116001-c999")
    assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"


def test_villages_routes(client):
    body = client.get("/api/v1/villages").get_json()
    assert body["total"] == 10 and len(body["items"]) == 10
    demo = client.get("/api/v1/villages?demonstration=true").get_json()
    assert demo["total"] == 9 and all(v["demonstration"] for v in demo["items"])
    others = client.get("/api/v1/villages?demonstration=false").get_json()
    assert [v["name"] for v in others["items"]] == ["星火村"]
    langxia = client.get("/api/v1/villages?town=310116107").get_json()
    assert {v["town"]["name"] for v in langxia["items"]} == {"廊下镇"} and langxia["total"] == 2
    assert_422(client.get("/api/v1/villages?town=nowhere"), "town")
    one = client.get("/api/v1/villages/310116109-v-xinghuo").get_json()
    assert one["committee"]["code"] == "310116109-vc-xinghuo" and one["house_count"] > 0
    assert client.get("/api/v1/villages/none").status_code == 404


def test_places_routes_are_in_the_spec(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/api/v1/towns", "/api/v1/communities", "/api/v1/communities/{code}", "/api/v1/villages"} <= set(paths)


# ------------------------------------------------------------------ the snapshot behind the list

class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


ARGS = [
    {"page": 1, "page_size": 20},
    {"page": 3, "page_size": 7, "town": "310116001"},
    {"page": 1, "page_size": 100, "q": "花园"},
    {"page": 2, "page_size": 5, "q": "金山区山阳镇", "town": "310116113"},
    {"page": 1, "page_size": 20, "q": "%"},
    {"page": 9, "page_size": 50},
    {"page": 1, "page_size": 20, "town": "310116107", "q": "no such text"},
]


def test_snapshot_pages_equal_sql_pages(session):
    snapshot = CommunityDirectory(ttl=60, now=FakeMonotonic())
    for args in ARGS:
        assert snapshot.page(session, args) == sql_page(session, args), args
    for directory in (snapshot, CommunityDirectory(ttl=0)):
        with pytest.raises(ApiError) as exc:
            directory.page(session, {"page": 1, "page_size": 20, "town": "nowhere"})
        assert list(exc.value.errors) == ["town"]


def test_snapshot_expires_and_invalidates(session):
    now = FakeMonotonic()
    snapshot = CommunityDirectory(ttl=30, now=now)
    args = {"page": 1, "page_size": 20, "q": "Snapshot Court"}
    assert snapshot.page(session, args)["total"] == 0
    snapshot.page_json(session, args)
    add_community(session, "Snapshot Court")
    assert snapshot.page(session, args)["total"] == 0  # still the snapshot
    assert b'"total":0' in snapshot.page_json(session, args)
    now.t += 31
    assert snapshot.page(session, args)["total"] == 1  # refreshed after the TTL
    assert b'"total":1' in snapshot.page_json(session, args)
    add_community(session, "Snapshot Court II")
    directory_mod.invalidate()
    assert snapshot.page(session, args)["total"] == 2  # at once after invalidate()


def test_cache_seconds_setting():
    from app.config import load_settings

    assert cache_seconds(load_settings({"APP_ENV": "test"})) == 0
    assert cache_seconds(load_settings({"APP_ENV": "development"})) == 30
    assert cache_seconds(load_settings({"APP_ENV": "development", "PLACES_CACHE_SECONDS": "5"})) == 5
    with pytest.raises(ValueError):
        cache_seconds(load_settings({"APP_ENV": "development", "PLACES_CACHE_SECONDS": "soon"}))
