"""elderly-sos's own endpoints under ``/api/v1/elderly-sos`` (the operators' offers, duty and
acknowledgement — ``POST /calls/<job_id>/accept`` — are the dispatch engine's):

- ``POST /alarms``: the person, a relative's account or a registered device presses (never
  rate-limited; anonymous 401; 201 a new alarm, 200 a press merged into the last 2 minutes');
  a resident not enrolled pressing their own button still raises one, for the operators
  (``POST /alarms/<id>/caller-phone``: their phone to call back, audited).
- ``GET /alarms``: the call centre's board (open alarms by age with their limits);
  ``GET /alarms/<id>``; ``POST /alarms/<id>/<action>``: the rows of ``ALARM_ACTIONS`` (a
  responder takes the visit, confirms arrival; staff or the responder close with an outcome),
  served by one view.
- ``GET /figures?month=``: acknowledgement and arrival times against the limits.
- ``POST /enrolments``, ``GET /enrolments/<id>``, ``POST /enrolments/<id>/end``,
  ``POST /enrolments/<id>/health`` (the notes, with a reason: audited), ``POST /devices``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask.views import MethodView

from app.action_routes import Action, mount
from app.api import Blueprint, ErrorSchema
from app.calendar import CST
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.audit import record_unmasked_read
from auth.principal import current_principal, require_auth, require_staff
from auth.ratelimit import exempt
from auth.visibility import load_visible, visible_object
from scenarios.elderly_sos import alarms, enrolment, views
from scenarios.elderly_sos.access import (
    ALARM,
    ENROLMENT,
    is_call_centre_staff,
    register_object_types,
    sees_figures,
)
from scenarios.elderly_sos.schemas import (
    SosAlarmRequestSchema,
    SosAlarmSchema,
    SosBoardSchema,
    SosCallerPhoneSchema,
    SosCloseSchema,
    SosDeviceOutSchema,
    SosDeviceSchema,
    SosEmptySchema,
    SosEndSchema,
    SosEnrolmentSchema,
    SosEnrolSchema,
    SosFiguresArgs,
    SosFiguresSchema,
    SosHealthSchema,
    SosReasonSchema,
)

SLUG = "elderly-sos"




ALARM_ACTIONS: tuple[Action, ...] = (
    Action("visit", SosEmptySchema, alarms.take_visit,
                "A responder of the person's committee goes (after the call centre acknowledged): one wins, the "
                "others 409 `already_taken`; the family is told someone is on the way."),
    Action("arrived", SosEmptySchema, alarms.arrived,
                "The responder is at the door: the arrival chain stops; the family is told."),
    Action("close", SosCloseSchema, alarms.close,
                "Close with an outcome (false_alarm, helped_at_home, taken_to_hospital, other with a text): the "
                "call centre's staff or the responder, once acknowledged. Every pending step stops."),
)


def _config() -> Any:
    from scenarios.elderly_sos import CONFIG

    return CONFIG


def _show(session, alarm, *, trail: bool = True) -> dict[str, Any]:
    return views.alarm_view(session, current_principal(), alarm, current_clock().now(), trail=trail)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=CST)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=CST)
    return start, end


def blueprints() -> list[Blueprint]:
    register_object_types()
    blp = Blueprint("elderly-sos", __name__, url_prefix=f"/api/v1/{SLUG}",
                    description="高龄独居老人应急呼叫 (elderly-sos): enrolment, alarms, the escalation chain.")

    @blp.route("/alarms")
    class Alarms(MethodView):
        @exempt
        @idempotent
        @require_auth(kinds=("resident", "device"))
        @blp.arguments(SosAlarmRequestSchema)
        @blp.response(201, SosAlarmSchema)
        @blp.alt_response(200, schema=SosAlarmSchema, description="merged into the alarm pressed within 2 minutes")
        @blp.alt_response(403, schema=ErrorSchema, description="`sos_not_enrolled` (asking for someone you may not "
                                                               "alarm for), `sos_device_unknown`")
        def post(self, args):
            """Raise an alarm (the app's button of the person or a relative, a registered pull cord or
            wearable; a resident not enrolled pressing their own button too: the operators get what is
            known and call back). Offered at once to every on-duty operator; the chain starts after 60 s without
            an acknowledgement, at once with nobody on duty. Never rate-limited. The answer has no
            trail (`GET /alarms/<id>` has)."""
            session = get_session()
            alarm, merged = alarms.raise_alarm(session, clock=current_clock(), principal=current_principal(),
                                               config=_config(), enrolment_id=args.get("enrolment_id"))
            answer = {**_show(session, alarm, trail=False), "merged": merged}
            session.commit()
            return answer, 200 if merged else 201

        @require_auth(kinds=("resident", "staff"))
        @blp.response(200, SosBoardSchema)
        def get(self):
            """Staff: the call centre's board, open alarms you see, oldest first, with their limits and
            the next step. Residents: the alarms of the people you are a contact of (or your own), newest
            first, to follow in the app (no limits, no chain)."""
            session, principal, now = get_session(), current_principal(), current_clock().now()
            if principal.is_resident:
                return {"items": views.followed(session, principal, now)}
            return {"items": views.board(session, principal, now)}

    @blp.route("/alarms/<int:alarm_id>")
    class AlarmItem(MethodView):
        @visible_object(ALARM, "alarm_id")
        @require_auth
        @blp.response(200, SosAlarmSchema)
        def get(self, alarm_id: int):
            """The alarm as you may see it: staff the limits, the chain and the trail; the family its progress."""
            session = get_session()
            return _show(session, load_visible(session, current_principal(), ALARM, alarm_id))

    for action in ALARM_ACTIONS:
        _action_view(blp, action)

    @blp.route("/alarms/<int:alarm_id>/caller-phone")
    class AlarmCallerPhone(MethodView):
        @visible_object(ALARM, "alarm_id")
        @require_staff
        @blp.arguments(SosReasonSchema)
        @blp.response(200, SosCallerPhoneSchema)
        def post(self, args, alarm_id: int):
            """The call centre calls back a resident who pressed their own button without being enrolled:
            their phone, with a reason; every read is in the audit log. 404 for an enrolled person's alarm."""
            session, principal = get_session(), current_principal()
            alarm = load_visible(session, principal, ALARM, alarm_id)
            if not is_call_centre_staff(principal, alarm):
                raise ApiError("forbidden")
            person = views.caller(session, alarm)
            if person is None:
                raise ApiError("not_found")
            record_unmasked_read(session, clock=current_clock(), principal=principal, subject_person_id=person.id,
                                 fields=("phone",), reason=args["reason"])
            answer = {"phone": person.phone}
            session.commit()
            return answer

    @blp.route("/figures")
    class Figures(MethodView):
        @require_staff
        @blp.arguments(SosFiguresArgs, location="query")
        @blp.response(200, SosFiguresSchema)
        def get(self, args):
            """Per month (Beijing time): alarms, acknowledgement and arrival times against their limits,
            outcomes. The call centre, 区民政局 and the district."""
            if not sees_figures(current_principal()):
                raise ApiError("forbidden")
            start, end = month_bounds(args["month"])
            return {"month": args["month"], **views.figures(get_session(), start, end)}

    _enrolment_routes(blp)
    from scenarios.elderly_sos.visit import VISIT_POOL
    from scenarios.engines.dispatch.routes import agent_routes

    agent_routes(blp, VISIT_POOL, prefix="/responders")  # responders' duty and positions
    from scenarios.elderly_sos.inactivity import TELEMETRY
    from scenarios.engines.telemetry.routes import make_blueprint as telemetry_blueprint

    return [blp, telemetry_blueprint(TELEMETRY)]  # the devices' heartbeats


def _action_view(blp: Blueprint, action: Action) -> None:
    def run(action: Action, args: dict[str, Any], alarm_id: int) -> dict[str, Any]:
        session = get_session()
        alarm = action.service(session, clock=current_clock(), principal=current_principal(), alarm_id=alarm_id,
                               config=_config(), **args)
        answer = _show(session, alarm)
        session.commit()
        return answer

    view_name = f"SosAlarm{action.path.capitalize()}"
    mount(blp, action, rule=f"/alarms/<int:alarm_id>/{action.path}", endpoint=view_name, view_name=view_name,
          run=run, wraps=(blp.arguments(action.schema), blp.response(200, SosAlarmSchema),
                          blp.alt_response(409, schema=ErrorSchema,
                                           description="`already_taken`, `invalid_transition`"),
                          require_staff, idempotent, visible_object(ALARM, "alarm_id")))


def _enrolment_routes(blp: Blueprint) -> None:
    @blp.route("/enrolments")
    class Enrolments(MethodView):
        @idempotent
        @require_staff
        @blp.arguments(SosEnrolSchema)
        @blp.response(201, SosEnrolmentSchema)
        @blp.alt_response(422, schema=ErrorSchema, description="`sos_not_eligible`, `sos_person_unverified`")
        @blp.alt_response(409, schema=ErrorSchema, description="`sos_already_enrolled`")
        def post(self, args):
            """A committee (its own residents) or 区民政局 enrols a person aged 80+ (from the verified ID
            number) with 本市户籍 who lives alone; contacts in order (none: the committee is first)."""
            session = get_session()
            e = enrolment.enrol(session, clock=current_clock(), principal=current_principal(), data=args)
            answer = views.enrolment_view(session, e, current_clock().now())
            session.commit()
            return answer, 201

    @blp.route("/enrolments/<int:enrolment_id>")
    class EnrolmentItem(MethodView):
        @visible_object(ENROLMENT, "enrolment_id")
        @require_auth
        @blp.response(200, SosEnrolmentSchema)
        def get(self, enrolment_id: int):
            """The enrolment, names and phones masked; whether there are health notes (not the notes)."""
            session = get_session()
            return views.enrolment_view(session, load_visible(session, current_principal(), ENROLMENT, enrolment_id),
                                        current_clock().now())

    @blp.route("/enrolments/<int:enrolment_id>/end")
    class EnrolmentEnd(MethodView):
        @visible_object(ENROLMENT, "enrolment_id")
        @idempotent
        @require_staff
        @blp.arguments(SosEndSchema)
        @blp.response(200, SosEnrolmentSchema)
        def post(self, args, enrolment_id: int):
            """End with a reason (moved_away, moved_in_with_family, died, other) and a date; devices released."""
            session = get_session()
            e = enrolment.end(session, clock=current_clock(), principal=current_principal(),
                              enrolment_id=enrolment_id, reason=args["reason"], on=args.get("on"))
            answer = views.enrolment_view(session, e, current_clock().now())
            session.commit()
            return answer

    @blp.route("/enrolments/<int:enrolment_id>/health")
    class EnrolmentHealth(MethodView):
        @visible_object(ENROLMENT, "enrolment_id")
        @require_staff
        @blp.arguments(SosReasonSchema)
        @blp.response(200, SosHealthSchema)
        def post(self, args, enrolment_id: int):
            """The health notes, with a reason: every read is in the audit log (``GET /admin/audit``)."""
            session = get_session()
            e = load_visible(session, current_principal(), ENROLMENT, enrolment_id)
            answer = {"health": enrolment.read_health(session, clock=current_clock(), principal=current_principal(),
                                                      enrolment=e, reason=args["reason"])}
            session.commit()
            return answer

    @blp.route("/devices")
    class Devices(MethodView):
        @idempotent
        @require_staff
        @blp.arguments(SosDeviceSchema)
        @blp.response(201, SosDeviceOutSchema)
        def post(self, args):
            """The call centre's manager registers one of its devices (``devices``, created with the
            staff device API) as a pull cord or wearable, worn by an enrolled person or nobody yet."""
            session = get_session()
            d = enrolment.register_device(session, clock=current_clock(), principal=current_principal(), data=args)
            answer = {"id": d.id, "kind": d.kind, "enrolment_id": d.enrolment_id}
            session.commit()
            return answer, 201

