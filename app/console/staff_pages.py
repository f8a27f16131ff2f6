"""An organisation's staff for its managers and administrators: invite (the initial password
shown once), change role, disable or enable, contact points — the API's services
(``auth.staff_admin``, ``auth.staff``, ``auth.contact_points``) behind the same visibility and
limits as ``/api/v1/orgs/<code>/staff``."""
from __future__ import annotations

from functools import cache

from flask import Blueprint, g, redirect, url_for

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render
from app.context import current_clock
from app.db import get_session
from auth import contact_points, staff, staff_admin
from auth.contact_routes import ContactPutSchema
from auth.ratelimit import rate_limit
from auth.roles import ROLE_TITLES, STAFF_MANAGERS, roles_for
from auth.schemas import MembershipPatchSchema, StaffInviteSchema
from auth.visibility import visible_object


def _manages(principal) -> bool:
    return principal.is_staff and principal.role in STAFF_MANAGERS


@cache  # built once: its views (and their rate limits) are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    blp = console_blueprint("staff", __name__, nav=(NavItem("本机构人员", "console_staff.mine", _manages),))

    def page(code: str, *, invited: dict | None = None):
        session = get_session()
        org = staff_admin.managed_org(session, g.principal, code)
        rows = paginate(session, staff_admin.members(org), {"page": 1, "page_size": 100})["items"]
        people = [(m, contact_points.view(contact_points.contact_of(session, m.account_id), full=True)) for m in rows]
        return render("console/staff.html", org=org, people=people, roles=roles_for(org.type), titles=ROLE_TITLES,
                      invited=invited)

    @blp.get("/staff")
    def mine():
        return redirect(url_for("console_staff.members", code=g.principal.org_code))

    @blp.get("/orgs/<code>/staff")
    @visible_object("organisation", "code")
    def members(code: str):
        return page(code)

    @blp.post("/orgs/<code>/staff")
    @visible_object("organisation", "code")
    @rate_limit("manage")
    def invite(code: str):
        session = get_session()
        org = staff_admin.managed_org(session, g.principal, code)
        args = form_args(StaffInviteSchema)
        _account, membership, initial = staff.create_staff(session, username=args["username"], password=None,
                                                           org=org, role=args["role"])
        session.commit()
        return page(code, invited={"username": membership.account.username, "password": initial})

    @blp.post("/orgs/<code>/staff/<int:membership_id>")
    @visible_object("membership", "code", "membership_id")
    def change(code: str, membership_id: int):
        session = get_session()
        org = staff_admin.managed_org(session, g.principal, code)
        args = form_args(MembershipPatchSchema)
        staff_admin.change(session, clock=current_clock(), principal=g.principal, org=org,
                           membership_id=membership_id, role=args.get("role"), status=args.get("status"))
        session.commit()
        return redirect(url_for("console_staff.members", code=code))

    @blp.post("/orgs/<code>/staff/<int:membership_id>/contact")
    @visible_object("membership", "code", "membership_id")
    @rate_limit("contact")
    def contact(code: str, membership_id: int):
        session = get_session()
        org = staff_admin.managed_org(session, g.principal, code)
        account = staff_admin.member(session, org, membership_id).account
        contact_points.update(session, clock=current_clock(), account=account, actor_account_id=g.principal.account_id,
                              values=form_args(ContactPutSchema))
        session.commit()
        return redirect(url_for("console_staff.members", code=code))

    return [blp]
