"""Every console page with an object's id in its URL decides visibility through the API's
registry (``visible_object``) before anything else, as the API's routes must
(``tests/auth/test_visibility_matrix.py`` walks those); and a hidden object's page is the
very page of a missing one."""
from __future__ import annotations

import pytest

from tests.support.console import sign_in
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
    assert checked >= 5


def test_a_hidden_ticket_and_a_missing_one_are_the_same_page(client, wf):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_b"].username)
    hidden, missing = client.get(f"/console/tickets/{ticket['id']}"), client.get("/console/tickets/999999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_data() == missing.get_data()


def test_a_resident_claim_of_another_organisation_is_the_404_page(client, wf):
    other = wf.world.committees[1].code
    sign_in(client, wf.accounts["manager_a"].username)
    assert client.get(f"/console/orgs/{other}/residences").status_code == 404
    rid = wf.residences["alice"].id
    assert client.get(f"/console/orgs/{wf.world.companies[1].code}/residences/{rid}/reveal").status_code == 404
