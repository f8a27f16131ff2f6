"""Odd input is never a 500, on every route: generated, not listed.

The sweep walks the app's ``url_map`` (the spec says which parameters and body fields each
route takes) and throws each class of odd input at every route that could take it, as an
anonymous caller, as a resident and as a district administrator: JSON nested past the limit, dates and datetimes at the
calendar's edges (with offsets pushing them past either end), a one-value query parameter
repeated, text with bidi overrides or zero-width characters. Hypothesis generates the values.
The direct tests below pin the exact answers on routes known to have failed.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import ERRORS
from app.fields import DATE_MAX, DATE_MIN, MISLEADING_CHARS_MESSAGE, misleading_chars
from app.json_input import MAX_DEPTH, JsonTooDeep, loads
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.models import CheckinPlace
from tests.support.factories import bearer, make_org, make_resident, make_staff, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

# Examples per class (each thrown at every route that takes it): a few in CI, more on demand
# (``ODD_INPUT_EXAMPLES=200``); derandomised in CI so a run is repeatable.
EXAMPLES = int(os.environ.get("ODD_INPUT_EXAMPLES", "6"))
SWEEP = settings(max_examples=EXAMPLES, deadline=None, derandomize="ODD_INPUT_EXAMPLES" not in os.environ,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---------------------------------------------------------------- the routes, from url_map + spec


@dataclass
class Operation:
    method: str
    rule: str
    url: str
    query: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema
    body: dict[str, dict[str, Any]] = field(default_factory=dict)   # property -> schema
    takes_json: bool = False


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def operations(app) -> list[Operation]:
    spec = app.extensions["api"].spec.to_dict()
    ops = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"static", "swagger_assets"} or rule.rule.startswith("/docs"):
            continue
        spec_path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        url = re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?!int:)[^>]+>", "x", rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = Operation(method, rule.rule, url)
            doc = spec["paths"].get(spec_path, {}).get(method.lower(), {})
            for p in doc.get("parameters", []):
                if p["in"] == "query":
                    op.query[p["name"]] = p.get("schema", {})
            body = doc.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                op.takes_json = True
                op.body = dict(_resolve(spec, body["schema"]).get("properties", {}))
            ops.append(op)
    return ops


PLACE = "pl-oddinput01"  # a check-in place of the operator caller: a place is seen by its operator only


@pytest.fixture
def ops(app) -> list[Operation]:
    """The routes, with a real place's code where a route names one (visibility is decided
    before the arguments are read, so an unknown place would be a 404 before any 422)."""
    found = operations(app)
    for op in found:
        op.url = op.url.replace("/place-checkin/places/x", f"/place-checkin/places/{PLACE}")
    return found


@pytest.fixture
def callers(session, clock) -> dict[str, dict[str, str]]:
    """Anonymous, a resident, a district administrator (who reaches the staff routes: stats,
    the audit log) and a venue operator's manager (whose place's flow only its staff see)."""
    account = make_resident(session, name="张三")
    district = make_org(session, "district")
    admin = make_staff(session, district, "admin")
    venue = make_org(session, "venue_operator", parent=district)
    manager = make_staff(session, venue, "manager")
    session.add(CheckinPlace(code=PLACE, name="测试场馆", kind=next(iter(PLACE_KINDS)), operator_id=venue.id,
                             address="金山区测试路 1 号", lat=30.74, lon=121.34, active=True))
    session.commit()
    return {"anonymous": {}, "resident": bearer(token_for(session, clock, account)),
            "district_admin": bearer(token_for(session, clock, admin, district)),
            "operator": bearer(token_for(session, clock, manager, venue))}


def ours(resp) -> dict[str, Any]:
    """The answer is not a server error and, when an error, is our body with a request id."""
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    if resp.status_code >= 400:
        body = resp.get_json()
        assert body["code"] in ERRORS and body["request_id"], body
        return body
    return {}


def calls(app, client, ops, callers, pick) -> Iterator[tuple[Operation, str, Any]]:
    """Each (operation, caller) that ``pick`` gives request arguments for, with its answer."""
    from auth.ratelimit import reset

    reset(app)
    for op in ops:
        kwargs = pick(op)
        if kwargs is None:
            continue
        for who, headers in callers.items():
            resp = client.open(op.url, method=op.method, headers={**headers, **kwargs.pop("headers", {})},
                               **kwargs)
            yield op, who, resp
            kwargs = pick(op)


# ---------------------------------------------------------------- generated classes

def nested(depth: int, shape: str) -> str:
    if shape == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@SWEEP
@given(depth=st.one_of(st.integers(MAX_DEPTH + 1, 2_000), st.integers(50_000, 200_000)),
       shape=st.sampled_from(["array", "object"]), wrap=st.booleans())
def test_json_nested_past_the_limit_is_a_400_on_every_route(app, client, ops, callers, depth, shape, wrap):
    def pick(op):
        if not op.takes_json:
            return None
        inner = nested(depth, shape)
        data = f'{{"{next(iter(op.body), "x")}": {inner}}}' if wrap else inner
        return {"data": data, "content_type": "application/json"}

    seen = 0
    for op, who, resp in calls(app, client, ops, callers, pick):
        body = ours(resp)
        assert not 200 <= resp.status_code < 300, (op.method, op.rule, who)
        if resp.status_code == 400:
            assert body["code"] == "json_too_deep", (op.method, op.rule, who, body)
            seen += 1
    assert seen >= 15  # the anonymous login routes and the resident's routes with a body


_EDGE_DATES = st.one_of(
    st.sampled_from([date.min, date.max, date(1, 1, 2), date(9999, 12, 30)]),
    st.dates(max_value=DATE_MIN - timedelta(days=1)),
    st.dates(min_value=DATE_MAX + timedelta(days=1)),
)
_OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def edge_datetimes(draw) -> str:
    day = draw(_EDGE_DATES)
    at = datetime.combine(day, draw(st.times()), draw(_OFFSETS))
    return at.isoformat()


def _is_date(schema: dict[str, Any]) -> str | None:
    return schema.get("format") if schema.get("format") in {"date", "date-time"} else None


@SWEEP
@given(day=_EDGE_DATES.map(date.isoformat), at=edge_datetimes())
def test_dates_at_the_calendar_edges_are_a_422_on_every_route(app, client, ops, callers, day, at):
    def value(schema):
        return day if _is_date(schema) == "date" else at

    def pick(op):
        q = {n: value(s) for n, s in op.query.items() if _is_date(s)}
        b = {n: value(s) for n, s in op.body.items() if _is_date(s)}
        if not q and not b:
            return None
        return {"query_string": q, **({"json": b} if b else {})}

    refused = set()
    for op, who, resp in calls(app, client, ops, callers, pick):
        body = ours(resp)
        assert resp.status_code in {401, 403, 404, 422}, (op.method, op.rule, who, resp.status_code)
        if resp.status_code == 422:
            dated = {n for n, s in {**op.query, **op.body}.items() if _is_date(s)}
            assert dated & set(body.get("errors", {})), (op.rule, body)
            refused.add(op.rule)
    for route in ("/hotspots", "/admin/audit", "/flow", "/property-repair/stats", "/road-report/stats"):
        assert any(r.endswith(route) for r in refused), (route, refused)


@SWEEP
@given(first=st.text(alphabet="0123456789abc", min_size=1, max_size=4), second=st.text(max_size=4))
def test_a_one_value_query_parameter_repeated_is_a_422_naming_it(app, client, ops, callers, first, second):
    def pick(op):
        single = [n for n, s in op.query.items() if s.get("type") != "array"]
        if not single:
            return None
        return {"query_string": [(single[0], first), (single[0], second)]}

    refused = set()
    for op, who, resp in calls(app, client, ops, callers, pick):
        body = ours(resp)
        assert not 200 <= resp.status_code < 300, (op.method, op.rule, who)
        if resp.status_code == 422:
            param = next(n for n, s in op.query.items() if s.get("type") != "array")
            assert param in body["errors"], (op.rule, body)
            refused.add(op.rule)
    assert len(refused) >= 5, refused


_CONTROLS = st.sampled_from([chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A),
                                              *range(0x200B, 0x2010)]])


@st.composite
def text_with_a_control(draw) -> str:
    before, after = draw(st.text(max_size=6)), draw(st.text(max_size=6))
    return before + draw(_CONTROLS) + after


@SWEEP
@given(text=text_with_a_control())
def test_text_with_bidi_or_zero_width_characters_is_refused_on_every_route(app, client, ops, callers, text):
    def plain(schemas):
        return {n: text for n, s in schemas.items()
                if s.get("type") == "string" and not s.get("format") and "enum" not in s}

    def pick(op):
        body, query = plain(op.body) if op.takes_json else {}, plain(op.query)
        if not body and not query:
            return None
        return {"query_string": query, **({"json": body} if body else {})}

    refused = set()
    for op, who, resp in calls(app, client, ops, callers, pick):
        body = ours(resp)
        assert not 200 <= resp.status_code < 300, (op.method, op.rule, who)
        if resp.status_code == 422 and "errors" in body:
            # the schema refused the request: a field we sent is refused for its control character
            sent = set(plain(op.query)) | set(plain(op.body) if op.takes_json else ())
            assert any(MISLEADING_CHARS_MESSAGE in body["errors"].get(n, []) for n in sent), (op.rule, body)
            refused.add(op.rule)
        if body.get("code") == "text_control_chars":
            assert all(m == [MISLEADING_CHARS_MESSAGE] for m in body["errors"].values()), body
    assert len(refused) >= 10, refused


# ---------------------------------------------------------------- the exact answers


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_a_deep_body_is_json_too_deep_even_before_sign_in(client, depth):
    resp = client.post("/api/v1/auth/staff/login", data=nested(depth, "array"), content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["code"] == "json_too_deep"
    assert resp.get_json()["request_id"]


def test_the_depth_limit_is_exact():
    assert loads(nested(MAX_DEPTH, "array")) is not None
    assert loads(nested(MAX_DEPTH, "object")) is not None
    for shape in ("array", "object"):
        with pytest.raises(JsonTooDeep):
            loads(nested(MAX_DEPTH + 1, shape))
    assert loads('["' + '[' * 40 + '"]') == ['[' * 40]  # brackets inside strings do not count
    assert loads(b'{"a": [1, {"b": [2]}]}') == {"a": [1, {"b": [2]}]}


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/city-report/hotspots", {"from": "0001-01-01"}, "from"),
    ("/api/v1/city-report/hotspots", {"to": "9999-12-31"}, "to"),
    ("/api/v1/city-report/hotspots", {"from": "1899-12-31", "to": "1900-01-30"}, "from"),
    ("/api/v1/city-report/hotspots", {"to": "2200-01-01"}, "to"),
])
def test_hotspots_refuse_dates_at_the_edges(client, path, params, field):
    resp = client.get(path, query_string=params)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]


def test_hotspots_keep_the_last_dates_inside_the_bounds(client):
    resp = client.get("/api/v1/city-report/hotspots", query_string={"from": "2199-12-31", "to": "2199-12-31"})
    assert resp.status_code == 200, resp.get_json()
    resp = client.get("/api/v1/city-report/hotspots", query_string={"from": "1900-01-01", "to": "1900-01-01"})
    assert resp.status_code == 200, resp.get_json()


@pytest.fixture
def district_admin(callers) -> dict[str, str]:
    return callers["district_admin"]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                                   "9999-12-31T23:00:00+00:00", "2200-01-01T00:00:00+08:00"])
@pytest.mark.parametrize(("path", "names", "who"), [
    (f"/api/v1/place-checkin/places/{PLACE}/flow", ("from", "to"), "operator"),
    ("/api/v1/admin/audit", ("since", "until"), "district_admin"),
])
def test_staff_routes_refuse_datetimes_past_the_edges(client, callers, value, path, names, who):
    for name in names:
        resp = client.get(path, query_string={name: value}, headers=callers[who])
        assert resp.status_code == 422 and name in resp.get_json()["errors"], resp.get_json()


def test_property_repair_stats_refuse_the_edges(client, district_admin):
    for params in ({"from": "0001-01-01", "to": "0001-01-02"}, {"from": "9999-12-30", "to": "9999-12-31"}):
        resp = client.get("/api/v1/property-repair/stats", query_string=params, headers=district_admin)
        assert resp.status_code == 422 and set(resp.get_json()["errors"]) == {"from", "to"}, resp.get_json()


def test_a_repeated_parameter_is_not_first_wins(client):
    resp = client.get("/api/v1/city-report/hotspots?from=2026-01-01&from=2026-01-02")
    assert resp.status_code == 422 and resp.get_json()["errors"] == {"from": ["该参数只能提供一个值。"]}
    assert client.get("/api/v1/city-report/hotspots?from=2026-01-01").status_code == 200


@pytest.mark.parametrize("name", ["张\u202e三", "张\u200b三", "\u2066张三\u2069", "张三\u200f"])
def test_patch_me_refuses_a_name_with_a_control_character(client, callers, name):
    resp = client.patch("/api/v1/me", json={"name": name}, headers=callers["resident"])
    assert resp.status_code == 422
    assert resp.get_json()["code"] == "text_control_chars" and list(resp.get_json()["errors"]) == ["name"]


def test_a_control_character_beside_another_error_is_a_plain_validation_error(client, callers):
    resp = client.patch("/api/v1/me", json={"name": "张\u202e三", "nickname": "x"}, headers=callers["resident"])
    assert resp.status_code == 422 and resp.get_json()["code"] == "validation_error"
    assert set(resp.get_json()["errors"]) == {"name", "nickname"}


@pytest.mark.parametrize("text", ["家里👨\u200d👩\u200d👧都在", "🏳\ufe0f\u200d🌈", "👩🏽\u200d💻", "普通文字"])
def test_a_joiner_inside_an_emoji_sequence_is_kept(text):
    assert not misleading_chars(text)


@pytest.mark.parametrize("text", ["a\u200db", "\u200d👩", "👩\u200d", "👩\u200b👩", "\u202aabc", "x\u2069"])
def test_controls_outside_emoji_sequences_are_caught(text):
    assert misleading_chars(text)
