"""Residence claims for the organisations in charge of the places (neighbourhood and village
committees, property companies): the list (masked), verify or reject, and the unmasked read
that asks for a reason and is audited — the API's services (``auth.residences``,
``auth.reveal``), with the API's visibility first (``visible_object``)."""
from __future__ import annotations

from functools import cache

from flask import Blueprint, g, redirect, request, url_for

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render
from app.context import current_clock
from app.db import get_session
from auth import residences
from auth.models import Person
from auth.permissions import require_org_role
from auth.principal import Principal
from auth.ratelimit import rate_limit, staff_member_key
from auth.reveal import reveal_residence
from auth.schemas import ResidenceQuerySchema, RevealSchema, ReviewSchema
from auth.visibility import visible_object

STATUS_TITLES = {"claimed": "待核实", "verified": "已核实", "rejected": "已驳回", "ended": "已结束"}


def _reviews(principal: Principal) -> bool:
    return principal.is_staff and principal.role in residences.REVIEWER_ROLES and principal.org_type in (
        "neighbourhood_committee", "village_committee", "property_company", "housing_office")


@cache  # built once: its views (and their rate limits) are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    nav = (NavItem("居住登记核实", "console_committee.claims", _reviews),)
    blp = console_blueprint("committee", __name__, nav=nav)

    @blp.get("/residences")
    def claims():
        """The acting organisation's claims (``claimed`` first by default), masked."""
        return redirect(url_for("console_committee.org_claims", code=g.principal.org_code, **request.args))

    @blp.get("/orgs/<code>/residences")
    @visible_object("organisation", "code")
    def org_claims(code: str):
        session = get_session()
        args = form_args(ResidenceQuerySchema)
        status = args.pop("status", "claimed")
        org = require_org_role(session, g.principal, code, residences.REVIEWER_ROLES, via=("member",))
        stmt = residences.list_for_org(org, on=residences.today(current_clock()), status=status)
        page = paginate(session, stmt, {"page": args.get("page", 1), "page_size": args.get("page_size", 50)})
        items = [residences.describe(session, r, person=session.get(Person, r.person_id)) for r in page["items"]]
        return render("console/residences.html", org=org, items=items, page=page, status=status,
                      statuses=STATUS_TITLES)

    @blp.post("/orgs/<code>/residences/<int:residence_id>/review")
    @visible_object("org_residence", "code", "residence_id")
    def review(code: str, residence_id: int):
        session = get_session()
        args = form_args(ReviewSchema)
        org = require_org_role(session, g.principal, code, residences.REVIEWER_ROLES, via=("member",))
        residences.review(session, clock=current_clock(), principal=g.principal, org=org, residence_id=residence_id,
                          decision=args["decision"], note=args.get("note"))
        session.commit()
        return redirect(url_for("console_committee.org_claims", code=code, done=args["decision"]))

    @blp.route("/orgs/<code>/residences/<int:residence_id>/reveal", methods=["GET", "POST"])
    @visible_object("org_residence", "code", "residence_id")
    @rate_limit("reveal", key_func=staff_member_key, shared=True)
    def reveal(code: str, residence_id: int):
        """Ask the reason (GET), then show the fields named in full, once the read is audited."""
        session = get_session()
        if request.method == "GET":
            return render("console/reveal.html", code=code, residence_id=residence_id, shown=None,
                          ticket=request.args.get("ticket", ""))
        ticket = request.form.get("ticket", "")
        args = form_args(RevealSchema, lists=("fields",), skip=("ticket",))
        residence, wanted = reveal_residence(session, clock=current_clock(), principal=g.principal, code=code,
                                             residence_id=residence_id, fields=args["reveal"], reason=args["reason"])
        session.commit()
        shown = residences.describe(session, residence, person=session.get(Person, residence.person_id),
                                    revealed=wanted)
        return render("console/reveal.html", code=code, residence_id=residence_id, shown=shown, ticket=ticket)

    return [blp]
