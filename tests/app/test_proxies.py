"""Client addresses behind proxies: X-Forwarded-For is believed only from TRUSTED_PROXIES (then
the rate limits and sign-in throttling see the forwarded client), never from anyone else; and
/metrics limited to METRICS_ALLOW answers 404 elsewhere."""
from __future__ import annotations

import uuid

import pytest

from app import create_app
from app.config import ConfigError, load_settings
from app.proxies import address_in, parse_networks
from auth.ratelimit import reset

PROXY = {"REMOTE_ADDR": "10.0.5.7"}  # inside TRUSTED_PROXIES below
STRANGER = {"REMOTE_ADDR": "203.0.113.9"}


def build(app, db, clock, **env):
    base = {"APP_ENV": "test", "DATABASE_URL": app.extensions["settings"].database_url,
            "PASSWORD_HASH_PROFILE": "fast", "ENABLE_DEV_ROUTES": "1", "RATELIMIT_STAFF_LOGIN": "2/minute"}
    built = create_app(load_settings({**base, **env}), database=db, clock=clock)
    reset(built)
    return built


def attempt(client, environ: dict, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/api/v1/auth/staff/login", environ_base=environ, headers=headers,
                       json={"username": f"nobody.{uuid.uuid4().hex[:6]}", "password": "guess guess"}).status_code


def test_a_trusted_proxy_names_the_client(app, db, clock):
    c = build(app, db, clock, TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/16").test_client()
    # Each forwarded client has its own per-address budget (2/minute) behind the one proxy ...
    assert [attempt(c, PROXY, "198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert attempt(c, PROXY, "198.51.100.2") == 401
    # ... and only the last hop counts (TRUSTED_PROXY_HOPS=1): a client cannot pick its address.
    assert attempt(c, PROXY, "198.51.100.3, 198.51.100.1") == 429


def test_a_forged_header_from_anyone_else_is_ignored(app, db, clock):
    c = build(app, db, clock, TRUSTED_PROXIES="10.0.0.0/16").test_client()
    codes = [attempt(c, STRANGER, f"198.51.100.{i}") for i in range(3)]
    assert codes == [401, 401, 429]  # a fresh forged address each time: still one budget, the peer's


def test_without_trusted_proxies_the_header_means_nothing(app, db, clock):
    c = build(app, db, clock).test_client()
    assert [attempt(c, PROXY, f"198.51.100.{i}") for i in range(3)] == [401, 401, 429]


def test_two_hops(app, db, clock):
    c = build(app, db, clock, TRUSTED_PROXIES="10.0.0.0/16", TRUSTED_PROXY_HOPS="2").test_client()
    assert [attempt(c, PROXY, f"198.51.100.7, 10.0.9.{i}") for i in range(3)] == [401, 401, 429]


def test_the_known_address_is_the_forwarded_one(app, db, clock, session):
    from tests.support.factories import STAFF_PASSWORD, make_org, make_staff

    built = build(app, db, clock, TRUSTED_PROXIES="10.0.0.0/16", SIGNIN_FREE_FAILURES="1",
                  RATELIMIT_STAFF_LOGIN="100/minute")
    with built.app_context():
        make_staff(session, make_org(session, "property_company"), "manager", username="mgr.proxied")
        session.commit()
    c = built.test_client()

    def login(forwarded: str, password: str = STAFF_PASSWORD) -> int:
        return c.post("/api/v1/auth/staff/login", environ_base=PROXY, headers={"X-Forwarded-For": forwarded},
                      json={"username": "mgr.proxied", "password": password}).status_code

    assert login("198.51.100.20") == 200  # the owner's (forwarded) address becomes known
    assert login("198.51.100.66", "wrong password 1") == 401  # a stranger starts a wait
    assert login("198.51.100.67") == 429  # another forwarded address waits ...
    assert login("198.51.100.20") == 200  # ... the owner's does not, though both come via one proxy


def test_bad_settings_are_refused_at_start(app, db, clock):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        build(app, db, clock, TRUSTED_PROXIES="10.0.0.0/16, proxy.example")
    with pytest.raises(ConfigError, match="METRICS_ALLOW"):
        build(app, db, clock, METRICS_ALLOW="nope")
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        build(app, db, clock, TRUSTED_PROXIES="10.0.0.1", TRUSTED_PROXY_HOPS="0")


def test_address_matching():
    nets = parse_networks("10.0.0.0/8, 2001:db8::/32, 192.0.2.1", setting="X")
    assert address_in("10.200.1.1", nets) and address_in("2001:db8::5", nets) and address_in("192.0.2.1", nets)
    assert not address_in("192.0.2.2", nets) and not address_in("", nets) and not address_in(None, nets)
    assert not address_in("not-an-ip", nets)


def test_metrics_only_from_allowed_addresses(app, db, clock):
    c = build(app, db, clock, METRICS_TOKEN="t0ken", METRICS_ALLOW="10.9.0.0/16",
              TRUSTED_PROXIES="10.0.0.0/16").test_client()
    auth = {"Authorization": "Bearer t0ken"}
    assert c.get("/metrics", headers=auth, environ_base={"REMOTE_ADDR": "10.9.1.1"}).status_code == 200
    r = c.get("/metrics", headers=auth, environ_base=STRANGER)
    assert r.status_code == 404 and r.get_json()["code"] == "not_found"
    # Behind the trusted proxy it is the client's address that must be allowed, not the proxy's.
    assert c.get("/metrics", headers={**auth, "X-Forwarded-For": "10.9.2.2"}, environ_base=PROXY).status_code == 200
    assert c.get("/metrics", headers={**auth, "X-Forwarded-For": "203.0.113.5"},
                 environ_base=PROXY).status_code == 404
    # A forged header from an outside peer does not get in.
    assert c.get("/metrics", headers={**auth, "X-Forwarded-For": "10.9.2.2"}, environ_base=STRANGER).status_code == 404
