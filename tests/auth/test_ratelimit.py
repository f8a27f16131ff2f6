"""Rate limits: our 429 body with Retry-After, keys per principal or address, Redis and a
Redis outage (memory fallback, never a 500), exemptions, and switching limits off."""
from __future__ import annotations

import socket
import uuid

import pytest
from flask.views import MethodView

from app import create_app
from app.api import Blueprint
from app.config import load_settings
from auth.ratelimit import exempt, reset
from tests.support.factories import bearer, id_number, make_resident, token_for

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def other_app(app, db, clock, **env):
    """An app on the same database with its own settings (and its own counters)."""
    base = {"APP_ENV": "test", "DATABASE_URL": app.extensions["settings"].database_url,
            "PASSWORD_HASH_PROFILE": "fast", "ENABLE_DEV_ROUTES": "1"}
    built = create_app(load_settings({**base, **env}), database=db, clock=clock)
    reset(built)
    return built


def staff_login(client, **kw):
    """A failed staff sign-in under a fresh name (the name's own throttle never interferes)."""
    name = f"nobody.{uuid.uuid4().hex[:8]}"
    return client.post("/api/v1/auth/staff/login", json={"username": name, "password": "guess guess"}, **kw)


def test_limit_answer_is_our_error_with_retry_after(client, settings_override):
    settings_override(RATELIMIT_STAFF_LOGIN="3/minute")
    codes = [staff_login(client).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    r = staff_login(client)
    assert r.status_code == 429
    body = r.get_json()
    assert body["code"] == "rate_limited" and body["message"] and body["request_id"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # Another address has its own budget.
    assert staff_login(client, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 401


def test_limits_are_per_principal_when_authenticated(client, session, clock, settings_override):
    settings_override(RATELIMIT_IDENTITY="2/hour")
    a = make_resident(session, name="甲一", id_no=id_number())
    b = make_resident(session, name="乙二", id_no=id_number())
    session.commit()
    ha, hb = bearer(token_for(session, clock, a)), bearer(token_for(session, clock, b))

    def add(h):
        return client.post("/api/v1/me/relations", headers=h, json={
            "name": "丙三", "id_number": id_number(), "kind": "family", "allows": ["book_medical"]}).status_code

    assert [add(ha), add(ha), add(ha)] == [201, 201, 429]
    assert add(hb) == 201  # same address, another resident


def test_limits_can_be_switched_off(client, settings_override):
    settings_override(RATELIMIT_STAFF_LOGIN="1/minute", RATELIMIT_ENABLED="0")
    assert {staff_login(client).status_code for _ in range(4)} == {401}


def test_default_limit_and_exempt_routes(app, db, clock):
    blp = Blueprint("rl_test", __name__, url_prefix="/rl-test")

    @blp.route("/plain")
    class Plain(MethodView):
        def get(self):
            return {"ok": True}

    @blp.route("/sos")
    class Sos(MethodView):
        @exempt
        def post(self):
            return {"ok": True}

    built = other_app(app, db, clock, RATELIMIT_DEFAULT="2/minute")
    built.extensions["api"].register_blueprint(blp)
    c = built.test_client()
    assert [c.get("/rl-test/plain").status_code for _ in range(3)] == [200, 200, 429]
    assert {c.post("/rl-test/sos").status_code for _ in range(10)} == {200}


@pytest.mark.skipif(not socket.socket().connect_ex(("127.0.0.1", 6379)) == 0, reason="needs Redis on 6379")
def test_redis_counters_are_shared_between_processes(app, db, clock):
    """Two apps (as two gunicorn processes would be) on one Redis share the counts."""
    env = {"REDIS_URL": "redis://127.0.0.1:6379/15", "RATELIMIT_STAFF_LOGIN": "3/minute"}
    one, two = other_app(app, db, clock, **env), other_app(app, db, clock, **env)
    assert one.extensions["ratelimit_storage"].primary is not None
    ip = {"REMOTE_ADDR": f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}
    c1, c2 = one.test_client(), two.test_client()
    assert [staff_login(c1, environ_base=ip).status_code, staff_login(c2, environ_base=ip).status_code,
            staff_login(c1, environ_base=ip).status_code] == [401, 401, 401]
    assert staff_login(c2, environ_base=ip).status_code == 429
    assert not one.extensions["ratelimit_storage"].using_memory


def test_redis_down_falls_back_to_memory(app, db, clock, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    built = other_app(app, db, clock, REDIS_URL=f"redis://127.0.0.1:{port}/0", RATELIMIT_STAFF_LOGIN="3/minute")
    c = built.test_client()
    codes = [staff_login(c).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]  # never a 500, and the limit still holds
    assert built.extensions["ratelimit_storage"].using_memory
    assert any("rate-limit storage unreachable" in r.getMessage() for r in caplog.records)
    r = c.post("/api/v1/auth/dev/login", json={"openid": "redis-down"})
    assert r.status_code == 200
