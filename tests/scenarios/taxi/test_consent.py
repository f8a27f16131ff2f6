"""The rider's precise location (optional processing, issue 22): taken only with the consent
``precise_location_taxi`` in effect when the request arrives; a request after the consent was
withdrawn is refused (403 ``consent_required``) and stores nothing; given, it is private
(encrypted, its driver sees it once accepted)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.privacy.consents import PURPOSES
from scenarios.engines.dispatch.models import DispatchJob
from tests.scenarios.taxi.test_taxi import on_duty, taxi  # noqa: F401

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
CONSENTS = "/api/v1/me/consents"
PURPOSE = "precise_location_taxi"


def consent(t, who: str, give: bool) -> None:
    if give:
        resp = t.client.post(CONSENTS, json={"purpose": PURPOSE, "version": PURPOSES[PURPOSE].version},
                             headers=t.token(who))
    else:
        resp = t.client.delete(CONSENTS, query_string={"purpose": PURPOSE}, headers=t.token(who))
    assert resp.status_code == 200, resp.get_json()


def jobs(t) -> int:
    t.session.expire_all()
    return t.session.scalar(sa.select(sa.func.count()).select_from(DispatchJob))


def test_without_consent_the_location_is_refused_and_nothing_is_stored(taxi):  # noqa: F811
    here = dict(zip(("lat", "lon"), taxi.near(50), strict=True))
    got = taxi.request(location=here, expect=403)
    assert got["code"] == "consent_required"
    assert jobs(taxi) == 0
    taxi.request()  # without the location: the pick-up point, as ever


def test_a_request_after_withdrawal_is_refused(taxi):  # noqa: F811
    here = dict(zip(("lat", "lon"), taxi.near(50), strict=True))
    consent(taxi, "alice", True)
    consent(taxi, "alice", False)
    assert taxi.request(location=here, expect=403)["code"] == "consent_required"
    assert jobs(taxi) == 0


def test_with_consent_the_location_is_private_and_reaches_the_driver_once_accepted(taxi):  # noqa: F811
    on_duty(taxi, "d1", 300)
    here = dict(zip(("lat", "lon"), taxi.near(50), strict=True))
    consent(taxi, "alice", True)
    ride = taxi.request(location=here)
    raw = taxi.session.execute(sa.text("SELECT private, details FROM dispatch_jobs WHERE id = :i"),
                               {"i": ride["id"]}).one()
    assert str(here["lat"]) not in raw.private and "location" not in (raw.details or "")  # encrypted at rest
    accepted = taxi.act("d1", ride["id"], "accept")
    assert accepted["private"] == {"location": here}
    far = dict(zip(("lat", "lon"), taxi.near(5000), strict=True))
    taxi.act("alice", ride["id"], "cancel", {"reason": "不去了"})
    assert "location" in taxi.request(location=far, expect=422)["errors"]
