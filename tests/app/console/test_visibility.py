"""Every console page with an object's id in its URL decides visibility through the API's
registry (``visible_object``) before anything else, as the API's routes must
(``tests/auth/test_visibility_matrix.py`` walks those); and a hidden object's page is the
very page of a missing one."""
from __future__ import annotations

import pytest

from tests.scenarios.discharge_summary.test_discharge_summary import FUDAN, PATIENT_ID, TINGLIN, publish
from tests.scenarios.parcel_locker.test_parcel_locker import Operator, deliver
from tests.support.console import page_bytes, sign_in
from tests.support.factories import make_resident, mobile
from tests.support.qr import keyring  # noqa: F401  (a fixture: the pickup passes are signed)
from tests.support.reports import people
from tests.support.workflow import report

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
NOT_OBJECTS = {"/console/static/<path:filename>", "/console/<path:rest>"}
PARENT_ONLY = {"slug"}  # a scenario's slug names no object: an unknown one is the 404 page


def test_every_console_page_with_an_id_decides_visibility_first(app):
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console/") or rule.rule in NOT_OBJECTS:
            continue
        ids = set(rule.arguments) - PARENT_ONLY - {"path"}
        if not ids:
            continue
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, "_visible_object", None)
        assert declared is not None, f"{rule.rule}: put @visible_object(...) on the page"
        assert set(declared[1]) == ids, (rule.rule, declared)
        checked += 1
    assert checked >= 9


def test_a_hidden_ticket_and_a_missing_one_are_the_same_page(client, wf):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_b"].username)
    hidden, missing = client.get(f"/console/tickets/{ticket['id']}"), client.get("/console/tickets/999999999")
    assert hidden.status_code == missing.status_code == 404
    assert page_bytes(hidden) == page_bytes(missing)


def test_a_resident_claim_of_another_organisation_is_the_404_page(client, wf):
    other = wf.world.committees[1].code
    sign_in(client, wf.accounts["manager_a"].username)
    assert client.get(f"/console/orgs/{other}/residences").status_code == 404
    rid = wf.residences["alice"].id
    assert client.get(f"/console/orgs/{wf.world.companies[1].code}/residences/{rid}/reveal").status_code == 404


def test_a_hidden_parcel_or_summary_and_a_missing_one_are_the_same_page(app, client, session, clock,
                                                                       keyring):  # noqa: F811
    """The pages of scenarios outside the workflow engine (a parcel, a discharge summary): another
    operator's or hospital's object is the very 404 page of a missing one."""
    a, b = Operator(session, clock, "甲快件箱"), Operator(session, clock, "乙快件箱")
    session.commit()
    parcel = deliver(client, a.locker, mobile()).get_json()["id"]
    sign_in(client, b.manager_account.username)
    hidden, missing = client.get(f"/console/lockers/parcels/{parcel}"), client.get("/console/lockers/parcels/999999")
    assert hidden.status_code == missing.status_code == 404 and page_bytes(hidden) == page_bytes(missing)

    wf = people(session, clock, staff={"clerk": (FUDAN, "clerk"), "other": (TINGLIN, "clerk")}, residents=[])
    make_resident(session, name="张病人", id_no=PATIENT_ID, level="verified")
    session.commit()
    summary = publish(client, wf)["id"]
    sign_in(client, wf.accounts["other"].username)
    hidden, missing = client.get(f"/console/ds/summaries/{summary}"), client.get("/console/ds/summaries/999999")
    assert hidden.status_code == missing.status_code == 404 and page_bytes(hidden) == page_bytes(missing)
