"""elderly-sos's enrolment pages of the staff console (mounted on ``console.py``'s blueprint):
the enrolled persons, masked (``/console/sos/enrolments``: a committee its own, 区民政局, the
call centre and the district all); the enrol form (``/enrolments/new``: the API's
``SosEnrolSchema``, contacts in order); the enrolment page (``/enrolments/<id>``: masked, its
ways to raise an alarm, the call centre manager's device form, the end form); the health notes
only through the audited read (``/enrolments/<id>/health``: a reason asked, an audit row
written before they are shown). Each runs the API's own service (``enrolment.enrol``,
``end``, ``read_health``, ``register_device``); visibility first (``visible_object``)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, g, redirect, request, url_for

from app.api import PageArgs, paginate
from app.console.pages import form_args, load_form, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError, message_for
from auth.models import Account, Device
from auth.organisations import Organisation
from auth.principal import Principal
from auth.ratelimit import rate_limit, staff_member_key
from auth.visibility import load_visible, visible_object
from scenarios.elderly_sos import enrolment, views
from scenarios.elderly_sos.access import ENROLMENT, lists_enrolments, reads_health
from scenarios.elderly_sos.models import CONTACT_RELATIONS, SosDevice, SosEnrolment
from scenarios.elderly_sos.schemas import SosDeviceSchema, SosEndSchema, SosEnrolSchema, SosReasonSchema

CONTACT_ROWS = 3
RELATIONS = {"family": "家属", "neighbour": "邻居", "friend": "朋友", "other": "其他"}
END_REASONS = {"moved_away": "迁出", "moved_in_with_family": "与家人同住", "died": "去世", "other": "其他"}
DEVICE_KINDS = {"pull_cord": "拉绳报警器", "wearable": "手环"}
ENROLMENT_STATES = {"active": "在册", "ended": "已结束"}
assert set(RELATIONS) == set(CONTACT_RELATIONS)


def _registers_devices(principal: Principal) -> bool:
    return principal.is_staff and principal.org_type == "call_centre" and principal.role == "manager"


def _enrol_data(form: Any) -> dict[str, Any]:
    """The form as the API's body: the two checks as booleans, the contacts in their rows' order."""
    data: dict[str, Any] = {k: v for k in ("id_number", "address", "lat", "lon", "health", "committee_org_id")
                            if (v := form.get(k, "").strip())}
    data["hukou_shanghai"] = form.get("hukou_shanghai") == "yes"
    data["lives_alone"] = form.get("lives_alone") == "yes"
    contacts = []
    for i in range(1, CONTACT_ROWS + 1):
        row = {k: form.get(f"c{i}_{k}", "").strip() for k in ("relation", "name", "phone")}
        if row["name"] or row["phone"]:
            contacts.append({k: v for k, v in row.items() if v})
    data["contacts"] = contacts
    return data


def _committees(principal: Principal) -> list[Organisation]:
    """区民政局 names the committee in charge; a committee enrols for itself."""
    if principal.org_type in enrolment.COMMITTEE_TYPES:
        return []
    return list(get_session().scalars(sa.select(Organisation).where(Organisation.type.in_(enrolment.COMMITTEE_TYPES),
                                                                    Organisation.active).order_by(Organisation.code)))


def _free_devices(principal: Principal) -> list[Device]:
    """The call centre's devices not worn by anyone (to register as a pull cord or wearable)."""
    worn = sa.select(SosDevice.device_id).where(SosDevice.enrolment_id.is_not(None))
    return list(get_session().scalars(sa.select(Device).where(
        Device.organisation_id == principal.org_id, Device.status == "active", Device.id.not_in(worn))
        .order_by(Device.id)))


def _page(session, found: SosEnrolment, *, health: str | None = None, revealed: bool = False) -> str:
    view = views.enrolment_view(session, found, current_clock().now())
    own_app = session.scalar(sa.select(Account.id).where(Account.person_id == found.person_id,
                                                         Account.kind != "staff", Account.status == "active")
                             .limit(1)) is not None
    p = g.principal
    return render("console/sos/enrolment.html", e=view, own_app=own_app, relations=RELATIONS,
                  end_reasons=END_REASONS, kinds=DEVICE_KINDS, states=ENROLMENT_STATES,
                  may_end=found.state == "active" and enrolment.can_enrol(p)
                  and (p.org_type not in enrolment.COMMITTEE_TYPES or p.org_id == found.committee_org_id),
                  may_read_health=reads_health(p, found),
                  devices=_free_devices(p) if _registers_devices(p) and found.state == "active" else None,
                  health=health, revealed=revealed)


def mount(blp: Blueprint) -> None:
    """The enrolment pages on elderly-sos's console blueprint."""

    @blp.get("/enrolments")
    @requires(lists_enrolments)
    def enrolments():
        state = request.args.get("state", "active")
        session = get_session()
        stmt = enrolment.listed(g.principal, state=state if state in ENROLMENT_STATES else None)
        page = paginate(session, stmt, {**form_args(PageArgs, skip=("state",)), "page_size": 50})
        now = current_clock().now()
        items = [views.enrolment_view(session, e, now) for e in page["items"]]
        return render("console/sos/enrolments.html", page=page, items=items, state=state, states=ENROLMENT_STATES,
                      may_enrol=enrolment.can_enrol(g.principal))

    @blp.route("/enrolments/new", methods=["GET", "POST"])
    @requires(enrolment.can_enrol)
    def enrol():
        """The API's ``POST /enrolments``; a refusal shows the form again with what was typed."""
        if request.method == "GET":
            return render("console/sos/enrol.html", form={}, errors={}, error=None, rows=CONTACT_ROWS,
                          relations=RELATIONS, committees=_committees(g.principal))
        session = get_session()
        try:
            args = load_form(SosEnrolSchema, _enrol_data(request.form))
            created = enrolment.enrol(session, clock=current_clock(), principal=g.principal, data=args)
            session.commit()
        except ApiError as exc:
            session.rollback()
            page = render("console/sos/enrol.html", form=request.form, errors=exc.errors or {},
                          error=exc.message or message_for(exc.code), rows=CONTACT_ROWS, relations=RELATIONS,
                          committees=_committees(g.principal))
            return page, exc.status
        return redirect(url_for("console_elderly_sos.enrolment_page", enrolment_id=created.id, done="enrol"))

    @blp.get("/enrolments/<int:enrolment_id>")
    @visible_object(ENROLMENT, "enrolment_id")
    def enrolment_page(enrolment_id: int):
        session = get_session()
        return _page(session, load_visible(session, g.principal, ENROLMENT, enrolment_id))

    @blp.route("/enrolments/<int:enrolment_id>/health", methods=["GET", "POST"])
    @visible_object(ENROLMENT, "enrolment_id")
    @rate_limit("reveal", key_func=staff_member_key, shared=True)
    def health(enrolment_id: int):
        """Ask the reason (GET), then show the notes once the read is in the audit log."""
        session = get_session()
        found = load_visible(session, g.principal, ENROLMENT, enrolment_id)
        if not reads_health(g.principal, found):
            raise ApiError("forbidden")
        if request.method == "GET":
            return render("console/sos/health.html", e=views.enrolment_view(session, found, current_clock().now()))
        notes = enrolment.read_health(session, clock=current_clock(), principal=g.principal, enrolment=found,
                                      reason=form_args(SosReasonSchema)["reason"])
        session.commit()
        return _page(session, found, health=notes, revealed=True)

    @blp.post("/enrolments/<int:enrolment_id>/end")
    @visible_object(ENROLMENT, "enrolment_id")
    def end(enrolment_id: int):
        session = get_session()
        args = form_args(SosEndSchema)
        enrolment.end(session, clock=current_clock(), principal=g.principal, enrolment_id=enrolment_id,
                      reason=args["reason"], on=args.get("on"))
        session.commit()
        return redirect(url_for("console_elderly_sos.enrolment_page", enrolment_id=enrolment_id, done="end"))

    @blp.post("/enrolments/<int:enrolment_id>/devices")
    @visible_object(ENROLMENT, "enrolment_id")
    def device(enrolment_id: int):
        """The call centre's manager registers one of its devices as worn by this person (``POST /devices``)."""
        session = get_session()
        args = form_args(SosDeviceSchema, skip=("enrolment_id",))
        enrolment.register_device(session, clock=current_clock(), principal=g.principal,
                                  data={**args, "enrolment_id": enrolment_id})
        session.commit()
        return redirect(url_for("console_elderly_sos.enrolment_page", enrolment_id=enrolment_id, done="device"))
