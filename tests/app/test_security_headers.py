"""Safety headers: nosniff on every answer, no-store on API answers and authenticated ones (a
route's own Cache-Control kept), and a hash-based CSP with no framing on /docs."""
from __future__ import annotations

import base64
import hashlib
import re

import pytest
from flask.views import MethodView

from app import create_app
from app.api import Blueprint
from app.config import load_settings
from tests.support.factories import bearer, make_resident, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def test_every_answer_says_nosniff(client):
    answers = [client.get("/healthz"), client.get("/openapi.json"), client.get("/docs"),
               client.get("/docs/assets/swagger-ui.css"), client.get("/metrics"), client.get("/no/such/page"),
               client.get("/api/v1/me"), client.post("/api/v1/auth/staff/login", data="{not json",
                                                      content_type="application/json"),
               client.delete("/healthz")]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 404, 404, 401, 400, 405]
    assert {r.headers.get("X-Content-Type-Options") for r in answers} == {"nosniff"}


def test_api_answers_are_not_stored(client, session, clock):
    resident = make_resident(session, name="储存一")
    session.commit()
    me = client.get("/api/v1/me", headers=bearer(token_for(session, clock, resident)))
    assert me.status_code == 200 and me.headers["Cache-Control"] == "no-store"  # personal data
    login = client.post("/api/v1/auth/dev/login", json={"openid": "no-store-1"})
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"  # tokens, anonymous caller
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"
    # Outside /api/ an anonymous answer is left alone; with Authorization it is not stored either.
    assert "Cache-Control" not in client.get("/healthz").headers
    assert client.get("/healthz", headers={"Authorization": "Bearer x"}).headers["Cache-Control"] == "no-store"


def test_a_routes_own_cache_control_is_kept(app, db, clock):
    blp = Blueprint("cache_test", __name__, url_prefix="/api/v1/cache-test")

    @blp.route("/public")
    class Public(MethodView):
        def get(self):
            return {"ok": True}, 200, {"Cache-Control": "public, max-age=300"}

    base = {"APP_ENV": "test", "DATABASE_URL": app.extensions["settings"].database_url,
            "PASSWORD_HASH_PROFILE": "fast"}
    built = create_app(load_settings(base), database=db, clock=clock)
    built.extensions["api"].register_blueprint(blp)
    r = built.test_client().get("/api/v1/cache-test/public")
    assert r.headers["Cache-Control"] == "public, max-age=300" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_have_a_hash_based_policy_and_no_framing(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["X-Frame-Options"] == "DENY"
    policy = dict(part.strip().split(" ", 1) for part in r.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    page = r.get_data(as_text=True)
    inline = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert inline, "the Swagger UI page has its start-up script inline"
    script_src = policy["script-src"].split()
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    for script in inline:  # each inline script is allowed by its own hash, nothing else is
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert len(script_src) == 1 + len(inline)
    for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page):
        assert src.startswith("/"), src  # everything it loads is ours ('self')
