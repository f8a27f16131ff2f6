"""Staff: password login, organisation choice and switch, managing staff, CLI (throttling:
test_signin_throttle.py)."""
from __future__ import annotations

import json

import jwt
import pytest
import sqlalchemy as sa

from auth.models import Account, Membership
from auth.roles import ROLE_CATALOGUE, STAFF_MANAGERS
from auth.staff import hash_password
from tests.support.factories import STAFF_PASSWORD, bearer, make_org, make_staff, token_for

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def staff_login(client, username: str, password: str = STAFF_PASSWORD, org: str | None = None):
    body = {"username": username, "password": password}
    if org:
        body["org"] = org
    return client.post("/api/v1/auth/staff/login", json=body)


@pytest.fixture
def company(session):
    org = make_org(session, "property_company")
    session.commit()
    return org


def test_role_catalogue():
    assert ROLE_CATALOGUE["property_company"] == ("manager", "technician")
    assert "committee" in ROLE_CATALOGUE["village_committee"] and "supervisor" in ROLE_CATALOGUE["bureau"]
    assert "admin" in ROLE_CATALOGUE["district"] and "driver" in ROLE_CATALOGUE["taxi_company"]
    assert "operator" in ROLE_CATALOGUE["call_centre"] and "doctor" in ROLE_CATALOGUE["hospital"]


def test_staff_login_and_me(client, session, company):
    account = make_staff(session, company, "manager", username="mgr.one")
    session.commit()
    r = staff_login(client, "MGR.one")  # user names are case-insensitive
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["staff"]["acting"] == {"code": company.code, "name": company.name, "type": "property_company",
                                       "role": "manager"}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["org"] == company.code and claims["knd"] == "staff" and claims["sub"] == str(account.id)
    me = client.get("/api/v1/auth/staff/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.get_json()["username"] == "mgr.one"
    stored = session.get(Account, account.id).password_hash
    assert stored.startswith("$argon2id$") and STAFF_PASSWORD not in stored


def test_wrong_password_and_unknown_user_look_the_same(client, session, company):
    make_staff(session, company, "manager", username="mgr.two")
    session.commit()
    wrong = staff_login(client, "mgr.two", "wrong password!")
    unknown = staff_login(client, "nobody.here", "wrong password!")
    invalid_name = staff_login(client, "名字", "wrong password!")
    for r in (wrong, unknown, invalid_name):
        assert r.status_code == 401 and r.get_json()["code"] == "invalid_credentials"
        assert "errors" not in r.get_json()


def test_several_organisations_choose_one_and_switch(client, session):
    a, b = make_org(session, "property_company"), make_org(session, "housing_office")
    account = make_staff(session, a, "technician", username="multi.org")
    make_staff(session, b, "staff", username="multi.org")
    session.commit()
    r = staff_login(client, "multi.org")
    assert r.status_code == 409 and r.get_json()["code"] == "org_required"
    assert {o["code"] for o in r.get_json()["organisations"]} == {a.code, b.code}
    r = staff_login(client, "multi.org", org=b.code)
    assert r.status_code == 200 and r.get_json()["staff"]["acting"]["role"] == "staff"
    first = r.get_json()
    switched = client.post("/api/v1/auth/staff/switch", json={"org": a.code}, headers=bearer(first["access_token"]))
    assert switched.status_code == 200, switched.get_json()
    assert switched.get_json()["staff"]["acting"] == {"code": a.code, "name": a.name, "type": a.type,
                                                      "role": "technician"}
    assert client.get("/api/v1/auth/staff/me", headers=bearer(first["access_token"])).status_code == 401
    me = client.get("/api/v1/auth/staff/me", headers=bearer(switched.get_json()["access_token"])).get_json()
    assert me["acting"]["code"] == a.code and len(me["organisations"]) == 2
    assert account.id == me["account_id"]


def test_acting_for_an_organisation_one_does_not_belong_to(client, session, clock, company):
    other = make_org(session, "property_company")
    account = make_staff(session, company, "manager", username="mgr.three")
    session.commit()
    r = staff_login(client, "mgr.three", org=other.code)
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_member"
    token = token_for(session, clock, account, company)
    r = client.post("/api/v1/auth/staff/switch", json={"org": other.code}, headers=bearer(token))
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_member"
    # A token naming an organisation of which one is not (or no longer) a member is refused.
    forged = token_for(session, clock, account, other)
    r = client.get("/api/v1/auth/staff/me", headers=bearer(forged))
    assert r.status_code == 403 and r.get_json()["code"] == "not_a_member"


def test_disabled_membership_ends_access_at_once(client, session, clock, company):
    account = make_staff(session, company, "technician")
    session.commit()
    token = token_for(session, clock, account, company)
    assert client.get("/api/v1/auth/staff/me", headers=bearer(token)).status_code == 200
    session.execute(sa.update(Membership).where(Membership.account_id == account.id).values(status="disabled"))
    session.commit()
    assert client.get("/api/v1/auth/staff/me", headers=bearer(token)).get_json()["code"] == "not_a_member"


def test_disabled_account_after_correct_password(client, session, company):
    account = make_staff(session, company, "manager", username="mgr.off")
    account.status = "disabled"
    session.commit()
    assert staff_login(client, "mgr.off").get_json()["code"] == "account_disabled"
    assert staff_login(client, "mgr.off", "not the password").get_json()["code"] == "invalid_credentials"


def test_change_password(client, session, clock, company):
    account = make_staff(session, company, "manager", username="mgr.pw")
    session.commit()
    token = token_for(session, clock, account, company)
    r = client.post("/api/v1/auth/staff/password", headers=bearer(token),
                    json={"current_password": "wrong", "new_password": "a much better one"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/staff/password", headers=bearer(token),
                    json={"current_password": STAFF_PASSWORD, "new_password": "short"})
    assert r.status_code == 422 and r.get_json()["code"] == "password_too_weak"
    r = client.post("/api/v1/auth/staff/password", headers=bearer(token),
                    json={"current_password": STAFF_PASSWORD, "new_password": "a much better one"})
    assert r.status_code == 204
    assert staff_login(client, "mgr.pw", "a much better one").status_code == 200


# ---------------------------------------------------------------- managing staff through the API


def test_manager_invites_changes_and_disables_staff(client, session, clock, company):
    manager = make_staff(session, company, "manager")
    session.commit()
    h = bearer(token_for(session, clock, manager, company))
    r = client.post(f"/api/v1/orgs/{company.code}/staff", json={"username": "new.tech", "role": "technician"},
                    headers=h)
    assert r.status_code == 201, r.get_json()
    invited = r.get_json()
    assert invited["role"] == "technician" and len(invited["initial_password"]) >= 16
    assert staff_login(client, "new.tech", invited["initial_password"]).status_code == 200
    r = client.post(f"/api/v1/orgs/{company.code}/staff", json={"username": "new.tech", "role": "technician"},
                    headers=h)
    assert r.status_code == 409 and r.get_json()["code"] == "membership_exists"
    r = client.post(f"/api/v1/orgs/{company.code}/staff", json={"username": "x.y", "role": "committee"}, headers=h)
    assert r.status_code == 422 and r.get_json()["code"] == "role_unknown"
    listing = client.get(f"/api/v1/orgs/{company.code}/staff", headers=h).get_json()
    assert listing["total"] == 2 and {m["username"] for m in listing["items"]} >= {"new.tech"}
    mid = invited["membership_id"]
    r = client.patch(f"/api/v1/orgs/{company.code}/staff/{mid}", json={"role": "manager"}, headers=h)
    assert r.status_code == 200 and r.get_json()["role"] == "manager"
    r = client.patch(f"/api/v1/orgs/{company.code}/staff/{mid}", json={"status": "disabled"}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "disabled"
    assert staff_login(client, "new.tech", invited["initial_password"]).get_json()["code"] == "not_a_member"
    own = session.scalar(sa.select(Membership.id).where(Membership.account_id == manager.id))
    r = client.patch(f"/api/v1/orgs/{company.code}/staff/{own}", json={"status": "disabled"}, headers=h)
    assert r.status_code == 422 and r.get_json()["code"] == "cannot_change_self"


def test_staff_management_permissions(client, session, clock):
    """Technicians may not manage (403); another company's manager does not see it (404);
    the district's admin may; the bureau that supervises companies may not manage their staff."""
    district = make_org(session, "district")
    bureau = make_org(session, "bureau", parent=district)
    a = make_org(session, "property_company", supervisor=bureau)
    b = make_org(session, "property_company", supervisor=bureau)
    tech = make_staff(session, a, "technician")
    other_manager = make_staff(session, b, "manager")
    admin = make_staff(session, district, "admin")
    supervisor = make_staff(session, bureau, "supervisor")
    session.commit()
    url = f"/api/v1/orgs/{a.code}/staff"
    cases = [(tech, a, 403), (other_manager, b, 404), (admin, district, 200), (supervisor, bureau, 403)]
    for account, org, status in cases:
        r = client.get(url, headers=bearer(token_for(session, clock, account, org)))
        assert r.status_code == status, (org.type, r.get_json())
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/orgs/no-such-org/staff",
                      headers=bearer(token_for(session, clock, admin, district))).status_code == 404
    assert {"admin", "manager"} <= STAFF_MANAGERS


# ---------------------------------------------------------------- CLI


def test_cli_create_staff_and_orgs_list(app, session, company):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["users", "create-staff", "--username", "cli.user", "--password-stdin",
                            "--org", company.code, "--role", "manager"], input="a strong password\n")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["username"] == "cli.user" and out["role"] == "manager" and "password" not in r.output
    r = runner.invoke(args=["users", "create-staff", "--username", "cli.two", "--password-stdin",
                            "--org", company.code, "--role", "pilot"], input="a strong password\n")
    assert r.exit_code != 0 and "role_unknown" in r.output
    r = runner.invoke(args=["users", "create-staff", "--username", "cli.three", "--password-stdin",
                            "--org", "missing-org", "--role", "manager"], input="a strong password\n")
    assert r.exit_code != 0 and "missing-org" in r.output
    r = runner.invoke(args=["users", "create-staff", "--username", "cli.four", "--password-stdin",
                            "--org", company.code, "--role", "manager"], input="weak\n")
    assert r.exit_code != 0 and "password_too_weak" in r.output

    r = runner.invoke(args=["orgs", "list", "--type", "property_company"])
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert all(row["type"] == "property_company" for row in rows)
    assert {"code", "name", "type", "parent"} <= set(rows[0])
    assert company.code in {row["code"] for row in rows}
    assert runner.invoke(args=["orgs", "list", "--type", "spaceport"]).exit_code != 0


def test_password_hash_profile_fast_in_tests(app):
    with app.app_context():
        assert "m=1024,t=1" in hash_password("whatever password")


def test_refresh_after_membership_disabled(client, session, clock, company):
    manager = make_staff(session, company, "manager")
    tech = make_staff(session, company, "technician", username="tech.refresh")
    session.commit()
    login = staff_login(client, "tech.refresh").get_json()
    mh = bearer(token_for(session, clock, manager, company))
    mid = session.scalar(sa.select(Membership.id).where(Membership.account_id == tech.id))
    assert client.patch(f"/api/v1/orgs/{company.code}/staff/{mid}", json={"status": "disabled"},
                        headers=mh).status_code == 200
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert r.status_code == 401 and r.get_json()["code"] == "refresh_token_invalid"  # revoked with the membership
    assert client.get("/api/v1/auth/staff/me", headers=bearer(login["access_token"])).status_code in (401, 403)


def test_require_staff_roles_guard(app, company):
    from flask import g

    from app.errors import ApiError
    from auth.principal import Principal, require_staff

    @require_staff(roles={"manager"})
    def view():
        return "ok"

    cases = [
        (Principal("staff", account_id=1, org_id=company.id, role="manager"), "ok"),
        (Principal("staff", account_id=1, org_id=company.id, role="technician"), "forbidden"),
        (Principal("resident", account_id=2, person_id=2), "forbidden"),
        (Principal("anonymous"), "unauthenticated"),
    ]
    for principal, expected in cases:
        with app.test_request_context("/"):
            g.principal, g.auth_error = principal, None
            try:
                outcome = view()
            except ApiError as err:
                outcome = err.code
        assert outcome == expected, principal
