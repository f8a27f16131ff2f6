"""The listing engine through HTTP on its test scenario (``ls-test``): the states and who moves
them, bad input, visibility (404 before 403), moderation of text, and search by text,
category, price range and distance with recommended entries first."""
from __future__ import annotations

import pytest

from tests.engines.listing.scenario import BASE
from tests.support.factories import bearer, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

CENTRE = (30.7400, 121.3400)


def h(wf, who):
    return bearer(token_for(wf.session, wf.clock, wf.accounts[who], wf.orgs.get(who)))


def body(wf, **over):
    data = {"category": "stall", "title": "朱泾老街临街摊位", "text": "适合卖小吃，水电齐全",
            "address": "朱泾镇东林街 8 号",
            "lat": CENTRE[0], "lon": CENTRE[1], "price_fen": 150_000,
            "details": {"org": wf.world.companies[0].code, "seats": 4}}
    data.update(over)
    return data


_keys = iter(range(10**6))


def create(client, wf, who="alice", **over):
    return client.post(f"{BASE}/listings", json=body(wf, **over),
                       headers={**h(wf, who), "Idempotency-Key": f"ls-key-{next(_keys):06d}"})


def act(client, wf, who, entry_id, action, **payload):
    return client.post(f"{BASE}/listings/{entry_id}/{action}", json=payload, headers=h(wf, who))


def published(client, wf, **over) -> int:
    entry = create(client, wf, **over).get_json()
    assert act(client, wf, "alice", entry["id"], "submit").status_code == 200
    resp = act(client, wf, "manager_a", entry["id"], "publish")
    assert resp.status_code == 200, resp.get_json()
    return entry["id"]


def test_lifecycle_and_who_moves_it(client, wf):
    resp = create(client, wf)
    assert resp.status_code == 201, resp.get_json()
    entry = resp.get_json()
    assert entry["state"] == "draft" and entry["mine"] and entry["details"] == {"org": wf.world.companies[0].code,
                                                                                 "seats": 4}
    eid = entry["id"]
    # a draft: the owner and the moderating organisation's staff only
    assert client.get(f"{BASE}/listings/{eid}", headers=h(wf, "alice2")).status_code == 404
    assert client.get(f"{BASE}/listings/{eid}", headers=h(wf, "manager_b")).status_code == 404
    assert client.get(f"{BASE}/listings/{eid}", headers=h(wf, "manager_a")).status_code == 200
    # not submitted yet: nothing to publish
    assert act(client, wf, "manager_a", eid, "publish").get_json()["code"] == "listing_state_changed"
    assert act(client, wf, "manager_a", eid, "submit").status_code == 403  # the owner submits
    assert act(client, wf, "alice", eid, "submit").get_json()["state"] == "submitted"
    queue = client.get(f"{BASE}/listings/review", headers=h(wf, "manager_a")).get_json()
    assert [e["id"] for e in queue["items"]] == [eid]
    assert client.get(f"{BASE}/listings/review", headers=h(wf, "manager_b")).get_json()["total"] == 0
    assert act(client, wf, "alice", eid, "publish").status_code == 403  # not her own moderator
    assert act(client, wf, "tech_a", eid, "publish").status_code == 403  # a technician is no moderator role
    resp = act(client, wf, "manager_a", eid, "publish")
    assert resp.get_json()["state"] == "published"
    assert act(client, wf, "manager_a", eid, "publish").get_json()["code"] == "listing_state_changed"
    seen = client.get(f"{BASE}/listings/{eid}", headers=h(wf, "alice2")).get_json()
    assert seen["state"] == "published" and seen["mine"] is False and "history" not in seen
    history = client.get(f"{BASE}/listings/{eid}", headers=h(wf, "alice")).get_json()["history"]
    assert [(e["action"], e["to_state"]) for e in history] == [("create", "draft"), ("submit", "submitted"),
                                                               ("publish", "published")]
    assert act(client, wf, "alice2", eid, "withdraw").status_code == 403  # sees it, may not change it
    resp = act(client, wf, "manager_a", eid, "reject", reason="图片与实际不符")
    assert resp.get_json()["state"] == "rejected" and resp.get_json()["reason"] == "图片与实际不符"
    assert client.get(f"{BASE}/listings/{eid}", headers=h(wf, "alice2")).status_code == 404
    assert act(client, wf, "alice", eid, "submit").get_json()["state"] == "submitted"  # edited, sent again
    assert act(client, wf, "alice", eid, "withdraw").get_json()["state"] == "withdrawn"
    mine = client.get(f"{BASE}/listings/mine", headers=h(wf, "alice"), query_string={"state": "withdrawn"})
    assert [e["id"] for e in mine.get_json()["items"]] == [eid]


@pytest.mark.parametrize(("over", "code", "field"), [
    ({"category": "car"}, "listing_unknown_category", "category"),
    ({"price_fen": 0}, "price_not_positive", "price_fen"),
    ({"price_fen": -5}, "price_not_positive", "price_fen"),
    ({"price_fen": None}, "price_not_positive", "price_fen"),
    ({"details": {"org": "nope", "seats": 4}}, "validation_error", "details.org"),
    ({"details": {"seats": 4}}, "validation_error", "details.org"),
    ({"details": {"org": "x", "seats": 0}}, "validation_error", "details.seats"),
    ({"lon": None}, "validation_error", "lat"),
    ({"lat": 91}, "validation_error", "lat"),
    ({"price_fen": 2**70}, "validation_error", "price_fen"),
    ({"title": "a\x00b"}, "validation_error", "title"),
])
def test_bad_input_is_a_clear_422(client, wf, over, code, field):
    resp = create(client, wf, **over)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["code"] == code and field in resp.get_json()["errors"]


def test_refused_text_cannot_be_submitted(client, wf):
    eid = create(client, wf, text="周末组织赌博").get_json()["id"]
    resp = act(client, wf, "alice", eid, "submit")
    assert resp.status_code == 422 and resp.get_json()["code"] == "listing_text_refused"
    assert client.get(f"{BASE}/listings/{eid}", headers=h(wf, "alice")).get_json()["state"] == "draft"


def test_an_entry_of_another_scenario_is_not_found_here(client, wf, session):
    eid = published(client, wf)
    from scenarios.engines.listing.models import LsEntry
    session.get(LsEntry, eid).scenario = "other-listings"
    session.commit()
    assert client.get(f"{BASE}/listings/{eid}", headers=h(wf, "alice")).status_code == 404


def test_search_by_text_category_price_and_distance(client, wf, session):
    near = published(client, wf, title="朱泾老街临街摊位", price_fen=150_000)
    room = published(client, wf, category="room", title="枫泾古镇民宿单间", text="近古镇", price_fen=90_000,
                     address="枫泾镇", lat=CENTRE[0] + 0.02, lon=CENTRE[1])  # about 2.2 km north
    far = published(client, wf, title="山阳海边摊位", address="山阳镇", price_fen=120_000,
                    lat=CENTRE[0] + 0.09, lon=CENTRE[1])  # about 10 km
    draft = create(client, wf, title="朱泾另一个摊位").get_json()["id"]

    def ids(**params):
        resp = client.get(f"{BASE}/listings", headers=h(wf, "alice2"), query_string=params)
        assert resp.status_code == 200, resp.get_json()
        return [e["id"] for e in resp.get_json()["items"]]

    assert set(ids()) == {near, room, far} and draft not in ids(q="朱泾")
    assert ids(q="朱泾") == [near]
    assert ids(q="古镇") == [room]  # in the text too
    assert ids(q="%") == [] and ids(q="_") == []  # LIKE wildcards are literal
    assert set(ids(category="stall")) == {near, far}
    assert set(ids(price_min=100_000)) == {near, far}
    assert ids(price_min=100_000, price_max=130_000) == [far]
    assert ids(lat=CENTRE[0], lon=CENTRE[1], radius_m=5000) == [near, room]  # nearest first, 10 km away left out
    assert ids(lat=CENTRE[0], lon=CENTRE[1], radius_m=2000) == [near]
    first = client.get(f"{BASE}/listings", headers=h(wf, "alice2"),
                       query_string={"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 5000}).get_json()
    assert first["total"] == 2 and 2100 < first["items"][1]["distance_m"] < 2300
    page = client.get(f"{BASE}/listings", headers=h(wf, "alice2"), query_string={"page_size": 2, "page": 2})
    assert page.get_json()["total"] == 3 and len(page.get_json()["items"]) == 1
    from scenarios.engines.listing.service import set_rank
    set_rank(session, [far], 1)  # recommended (a green-card house) comes first
    session.commit()
    assert ids(lat=CENTRE[0], lon=CENTRE[1]) == [far, near, room]
    bad = client.get(f"{BASE}/listings", headers=h(wf, "alice2"), query_string={"radius_m": 100})
    assert bad.status_code == 422 and "radius_m" in bad.get_json()["errors"]
    assert client.get(f"{BASE}/listings", query_string={"q": "朱泾"}).status_code == 401


def test_a_search_is_planned_with_its_values_on_postgresql(client, wf, db):
    """PostgreSQL would keep a generic plan of the prepared search (one that does not see the
    village, the rents or the box, and scans the wrong index): the search's transaction asks
    for custom plans before its statements, and only there (SQLite has no such setting)."""
    import sqlalchemy as sa

    near = published(client, wf)
    seen: list[str] = []

    def remember(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        resp = client.get(f"{BASE}/listings", headers=h(wf, "alice2"),
                          query_string={"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 5000})
        after = client.get(f"{BASE}/listings/{near}", headers=h(wf, "alice2"))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", remember)
    assert resp.status_code == 200 and [e["id"] for e in resp.get_json()["items"]] == [near]
    assert after.status_code == 200
    settings = [i for i, s in enumerate(seen) if "plan_cache_mode" in s]
    if db.engine.dialect.name != "postgresql":
        assert settings == []
        return
    counts = [i for i, s in enumerate(seen) if "count(*)" in s.lower() and "ls_entries" in s]
    assert len(settings) == 1 and "SET LOCAL" in seen[settings[0]] and settings[0] < counts[0]


def test_a_search_page_is_one_statement_and_answers_what_the_schema_would_dump(client, wf, session, db):
    """The search's page and total come from one statement (a page past the end counts on its own),
    and its answer, sent as built, is what ``page_of(ListingSchema)`` dumps from the plain path
    (``paginate`` and marshmallow) — totals, order, every field, times in +08:00."""
    import json

    import sqlalchemy as sa

    from app.api import page_of, paginate
    from auth.principal import Principal
    from scenarios.engines.listing import search
    from scenarios.engines.listing.routes import entry_view
    from scenarios.engines.listing.schemas import ListingSchema
    from tests.engines.listing.scenario import CONFIG

    for i in range(5):
        published(client, wf, title=f"朱泾摊位 {i}", price_fen=100_000 + i, lat=CENTRE[0] + 0.001 * i,
                  photos=[], details={"org": wf.world.companies[0].code, "seats": i + 1})
    from scenarios.engines.listing.service import set_rank
    set_rank(session, [published(client, wf, title="推荐摊位", lat=CENTRE[0] + 0.01)], 1)
    session.commit()
    alice2 = Principal("resident", account_id=wf.accounts["alice2"].id, person_id=wf.accounts["alice2"].person_id)
    schema = page_of(ListingSchema, "LsTestListingPageSchema")()
    seen: list[str] = []

    def remember(conn, cursor, statement, *rest):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    for params in ({"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 5000, "page_size": 4},
                   {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 5000, "page_size": 4, "page": 2},
                   {"q": "朱泾", "page_size": 2, "page": 9}, {"q": "没有这个"}, {"price_min": 100_003}):
        seen.clear()
        got = client.get(f"{BASE}/listings", headers=h(wf, "alice2"), query_string=params)
        assert got.status_code == 200 and got.mimetype == "application/json"
        searched = [x for x in seen if "FROM ls_entries" in x]
        assert len(searched) == (2 if params.get("page", 1) > 1 and not got.get_json()["items"] else 1), params
        args = {k: params.get(k) for k in ("q", "lat", "lon", "radius_m", "price_min")}
        plain = paginate(session, search.query(CONFIG, **args), {"page": params.get("page", 1),
                                                                  "page_size": params.get("page_size", 20)})
        plain["items"] = [entry_view(session, e, alice2, CONFIG, lat=args["lat"], lon=args["lon"])
                          for e in plain["items"]]
        assert got.get_json() == json.loads(json.dumps(schema.dump(plain))), params
    sa.event.remove(db.engine, "before_cursor_execute", remember)


def test_entries_off_the_market_a_year_go_with_their_history_unless_something_refers_to_them(client, wf, session):
    import sqlalchemy as sa

    from app.privacy.retention import enforce_retention
    from scenarios.engines.listing.models import LsEntry, LsEvent

    withdrawn, rejected, live = published(client, wf), published(client, wf), published(client, wf)
    assert act(client, wf, "alice", withdrawn, "withdraw").status_code == 200
    assert act(client, wf, "manager_a", rejected, "reject", reason="已出租").status_code == 200
    recent = published(client, wf)
    wf.clock.advance(days=366)
    assert act(client, wf, "alice", recent, "withdraw").status_code == 200  # off the market a day: kept
    # Scenarios' rows that hold an entry's id keep it: the purge finds them through the metadata.
    from scenarios.engines.listing import retention
    referrers = {f"{c.table.name}.{c.name}" for c in retention._referring_columns()}
    assert {"rr_rooms.listing_id", "rr_rental_requests.listing_id"} <= referrers
    assert "ls_events.entry_id" not in referrers
    enforce_retention(session, wf.clock)
    session.expire_all()
    left = set(session.scalars(sa.select(LsEntry.id)))
    assert withdrawn not in left and rejected not in left and {live, recent} <= left
    assert session.scalar(sa.select(sa.func.count()).select_from(LsEvent)
                          .where(LsEvent.entry_id.in_([withdrawn, rejected]))) == 0
