"""HTTP API of ev-charging, mounted at ``/api/v1/ev-charging`` beside the booking engine's
(reservations: ``POST /bookings {slot_id}`` of a pile's arrival window) and the telemetry
engine's (the piles' devices: ``PUT /devices/me/state``, ``POST /devices/me/readings``).

Residents: ``GET /piles/nearby``, ``POST /sessions`` (scanning the pile's place code),
``GET /sessions``, ``GET /sessions/<id>`` and the session actions (actions.py). The piles'
devices: the device actions. Operators' staff: ``/operator/piles`` (managers create),
``/operator/sessions``, ``/operator/revenue``. Views build their answer, then commit.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response
from flask.views import MethodView

from app.action_routes import mount
from app.api import Blueprint, ErrorSchema, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from auth.organisations import Organisation
from auth.principal import current_principal, require_auth, require_device, require_resident, require_staff
from auth.visibility import loaded, visible_object
from scenarios.ev_charging import operator, piles, sessions
from scenarios.ev_charging.actions import DEVICE_ACTIONS, SESSION_ACTIONS, Action
from scenarios.ev_charging.models import SESSION_SUBJECT, EvPile, EvSession
from scenarios.ev_charging.schemas import (
    EvNearbyArgs,
    EvNearbyPileSchema,
    EvOperatorPileArgs,
    EvOperatorPileSchema,
    EvOperatorSessionArgs,
    EvPileCreateSchema,
    EvRevenueArgs,
    EvRevenueSchema,
    EvSessionListArgs,
    EvSessionSchema,
    EvStartSchema,
)
from scenarios.ev_charging.tariff import round_fen
from scenarios.ev_charging.visibility import register_object_types

SLUG = "ev-charging"


def session_view(row: EvSession, pile: Any) -> dict[str, Any]:
    return {"id": row.id, "pile": pile.code, "station": pile.station, "status": row.status,
            "started_via": row.started_via, "started_at": row.started_at, "stopped_at": row.stopped_at,
            "stop_reason": row.stop_reason, "energy_kwh": row.energy_wh / 1000,
            "fee_fen": row.fee_fen if row.fee_fen is not None else round_fen(row.fee_milli_fen),
            "payment_id": row.payment_id, "booking_id": row.booking_id, "paid_at": row.paid_at}


def _view(session, row: EvSession) -> dict[str, Any]:
    return session_view(row, session.get(EvPile, row.pile_id))


def _err(blp: Blueprint, errors: dict[int, str]) -> Callable:
    def wrap(func: Callable) -> Callable:
        for status, description in errors.items():
            func = blp.alt_response(status, schema=ErrorSchema, description=description)(func)
        return func

    return wrap


def make_blueprint() -> Blueprint:
    register_object_types()
    blp = Blueprint(f"{SLUG}-charging", __name__, url_prefix=f"/api/v1/{SLUG}",
                    description="公共充电桩: nearby piles with their state, charging sessions, operators' figures.")

    @blp.route("/piles/nearby")
    class Nearby(MethodView):
        @require_auth
        @blp.arguments(EvNearbyArgs(), location="query")  # one instance: webargs builds none per request
        @blp.response(200, page_of(EvNearbyPileSchema))
        def get(self, args):
            """Piles within `radius_m` (default 3 km) of a point, nearest first, with their state now
            (`state=free`: only piles reported free within the last 2 minutes; a silent pile is
            `offline`, never free) and the price per kWh now."""
            page = piles.nearby(get_session(), now=current_clock().now(), **args)
            # Sent as built (the schema documents it): dumping 20 piles through marshmallow cost a
            # quarter of the request.
            return Response(json.dumps(page, ensure_ascii=False), mimetype="application/json")

    @blp.route("/sessions")
    class Sessions(MethodView):
        @idempotent
        @require_resident
        @blp.arguments(EvStartSchema)
        @blp.response(201, EvSessionSchema)
        @_err(blp, {409: "`pile_in_use`, `pile_reserved` (someone else's arrival window now), `pile_faulty`, "
                         "`pile_offline`", 422: "`qr_*`: not a pile's place code"})
        def post(self, args):
            """Start charging: scan the pile's place code. Your reservation of this pile for now is used."""
            session = get_session()
            row = sessions.start_by_place_code(session, clock=current_clock(), principal=current_principal(),
                                               scanned=args["scanned"])
            answer = _view(session, row)
            session.commit()
            return answer

        @require_resident
        @blp.arguments(EvSessionListArgs, location="query")
        @blp.response(200, page_of(EvSessionSchema))
        def get(self, args):
            """Your charging sessions, newest first."""
            session = get_session()
            stmt = (sa.select(EvSession, EvPile).join(EvPile, EvPile.id == EvSession.pile_id)
                    .where(EvSession.person_id == current_principal().person_id))
            if args["status"]:
                stmt = stmt.where(EvSession.status == args["status"])
            page = paginate(session, stmt.order_by(EvSession.started_at.desc(), EvSession.id.desc()), args, rows=True)
            return {**page, "items": [session_view(r, p) for r, p in page["items"]]}

    @blp.route("/sessions/<int:session_id>")
    class SessionItem(MethodView):
        @visible_object(SESSION_SUBJECT, "session_id")
        @require_auth
        @blp.response(200, EvSessionSchema)
        def get(self, session_id: int):
            """A session with its energy and fee so far (its person; the operator's staff)."""
            return _view(get_session(), loaded(SESSION_SUBJECT))

    for action in SESSION_ACTIONS:
        _session_action(blp, action)
    for action in DEVICE_ACTIONS:
        _device_action(blp, action)

    @blp.route("/operator/piles")
    class OperatorPiles(MethodView):
        @require_staff
        @blp.arguments(EvOperatorPileArgs, location="query")
        @blp.response(200, page_of(EvOperatorPileSchema))
        def get(self, args):
            """Your organisation's piles with their state now and the link of each one's place code."""
            session, clock = get_session(), current_clock()
            org_id = operator.require_operator(current_principal())
            now = clock.now()
            page = paginate(session, piles.of_operator(org_id, state=args["state"], now=now), args, rows=True)
            items = [{**piles.pile_view(p, now, code), "place_code": sessions.place_code(session, p, clock=clock)}
                     for p, code in page["items"]]
            session.commit()  # place codes issued for piles that had none
            return {**page, "items": items}

        @idempotent
        @require_staff
        @blp.arguments(EvPileCreateSchema)
        @blp.response(201, EvOperatorPileSchema)
        @_err(blp, {409: "`resource_code_taken`", 422: "`location_outside_district`, `validation_error`"})
        def post(self, args):
            """A pile of your organisation (managers): its arrival windows are bookable at once and its
            `charger` device, when named, reports its state and energy."""
            session, clock = get_session(), current_clock()
            principal = current_principal()
            operator.require_operator(principal, manage=True)
            org = session.get(Organisation, principal.org_id)
            pile = operator.create_pile(session, clock=clock, org=org, **args)
            answer = {**piles.pile_view(pile, clock.now(), pile.code),
                      "place_code": sessions.place_code(session, pile, clock=clock)}
            session.commit()
            return answer

    @blp.route("/operator/sessions")
    class OperatorSessions(MethodView):
        @require_staff
        @blp.arguments(EvOperatorSessionArgs, location="query")
        @blp.response(200, page_of(EvSessionSchema))
        def get(self, args):
            """Your organisation's sessions started on a Beijing day (no personal data)."""
            session = get_session()
            org_id = operator.require_operator(current_principal())
            day = args.pop("date")
            page = paginate(session, operator.sessions_of_day(org_id, day), args, rows=True)
            return {**page, "items": [session_view(r, _Pile(code, station)) for r, code, station in page["items"]]}

    @blp.route("/operator/revenue")
    class Revenue(MethodView):
        @require_staff
        @blp.arguments(EvRevenueArgs, location="query")
        @blp.response(200, EvRevenueSchema)
        def get(self, args):
            """Per Beijing day: sessions stopped, energy, fees billed and paid (fen)."""
            org_id = operator.require_operator(current_principal())
            return operator.revenue(get_session(), org_id, args["date_from"], args["date_to"])

    return blp


class _Pile:
    __slots__ = ("code", "station")

    def __init__(self, code: str, station: str) -> None:
        self.code, self.station = code, station


def _session_action(blp: Blueprint, action: Action) -> None:
    """``POST /sessions/<id>/<path>``: visibility first (404), then the service decides 403/409."""
    guards = (require_auth, visible_object(SESSION_SUBJECT, "session_id"), idempotent)  # innermost first
    _mount(blp, action, lambda action, args, session_id: _run(action, args, charging=loaded(SESSION_SUBJECT)),
           guards, f"/sessions/<int:session_id>/{action.path}", f"session_{action.path}",
           "Not your session to change (the operator's staff see it)")


def _device_action(blp: Blueprint, action: Action) -> None:
    """``POST /device/sessions/<path>`` by the pile's own device."""
    _mount(blp, action, _run, (require_device, idempotent), f"/device/sessions/{action.path}",
           f"device_{action.path}", "Not a pile's device")


def _run(action: Action, args: dict, **objects: Any) -> dict[str, Any]:
    session = get_session()
    row = action.service(session, clock=current_clock(), principal=current_principal(), **objects, **args)
    answer = _view(session, row)
    session.commit()
    return answer


def _mount(blp: Blueprint, action: Action, run: Callable[..., Any], guards: tuple[Callable, ...], path: str,
           endpoint: str, forbidden: str) -> None:
    """``app.action_routes.mount`` with this scenario's answer (its status, the session) and errors by status."""
    name = "".join(part.capitalize() for part in endpoint.split("_"))
    mount(blp, action, rule=path, endpoint=endpoint, view_name=f"Ev{name}View", run=run,
          wraps=(_err(blp, {**action.errors, 403: forbidden}), blp.response(action.status, EvSessionSchema),
                 blp.arguments(action.schema), *guards))


def blueprints() -> list[Blueprint]:
    """The scenario's own endpoints and its devices' telemetry endpoints."""
    from scenarios.engines.telemetry import routes as telemetry_routes
    from scenarios.ev_charging.telemetry import TELEMETRY

    return [make_blueprint(), *_as_list(telemetry_routes.make_blueprint(TELEMETRY))]


def _as_list(value: Any) -> list[Blueprint]:
    return list(value) if isinstance(value, list | tuple) else [value]

