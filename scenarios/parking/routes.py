"""parking's own endpoints under ``/api/v1/parking`` (the booking engine mounts the arrival
windows' resources, availability and bookings under the same prefix; the telemetry engine the
devices' readings).

The map and projects are public; passages are the lot operator's cameras (telemetry devices
bound to the lot) or staff; residents reserve, sign contracts, pay stays and debts. Views build
their answer, then commit.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.notify.service import Recipient, enqueue
from auth.organisations import Organisation
from auth.principal import current_principal, require_auth, require_resident, require_staff
from auth.visibility import loaded, visible_object
from scenarios.engines.booking.models import BkBooking, BkResource
from scenarios.engines.telemetry import service as telemetry
from scenarios.engines.telemetry.routes import make_blueprint as telemetry_blueprint
from scenarios.parking import contracts, figures, gate, lots, nonstop, payments, plates, reservations
from scenarios.parking.access import contracts_seen, operates, plate_rows, register_object_types, reservations_seen
from scenarios.parking.config import TELEMETRY
from scenarios.parking.models import PkDebt, PkLot, PkProject, PkReservation, PkSpace, PkStay, PkVehicle
from scenarios.parking.schemas import (
    ParkingContractInSchema,
    ParkingContractSchema,
    ParkingDebtSchema,
    ParkingDecideSchema,
    ParkingFiguresArgs,
    ParkingFiguresSchema,
    ParkingListArgs,
    ParkingLotSchema,
    ParkingNearbyArgs,
    ParkingOccupancySchema,
    ParkingPassageInSchema,
    ParkingPassageSchema,
    ParkingPaymentSchema,
    ParkingPaySchema,
    ParkingProjectListSchema,
    ParkingReservationInSchema,
    ParkingReservationListArgs,
    ParkingReservationSchema,
    ParkingStaySchema,
)
from scenarios.parking.views import contract_view, debt_view, hours, lot_code, passage_view, stay_view

blp = Blueprint("parking", __name__, url_prefix="/api/v1/parking",
                description="停车: the map of car parks, reservations, 错峰共享 contracts, entries and exits, fees.")


def _err(status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _resource_code(session, lot: PkLot) -> str | None:
    return None if lot.resource_id is None else session.scalar(
        sa.select(BkResource.code).where(BkResource.id == lot.resource_id))


def _map_snapshot() -> lots.MapSnapshot:
    ext = current_app.extensions
    snapshot = ext.get("parking_map")
    if snapshot is None:
        snapshot = ext["parking_map"] = lots.MapSnapshot(lots.snapshot_seconds(ext["settings"]))
    return snapshot


@blp.route("/lots")
class Lots(MethodView):
    @blp.arguments(ParkingNearbyArgs(), location="query")  # one instance: not a schema built per request
    @blp.response(200, page_of(ParkingLotSchema))
    def get(self, args):
        """一张图: car parks within ``radius_m`` (default 3 km) of a point, nearest first, with their
        tariff and free spaces now (``status`` unknown when the lot's counter is silent: not free).
        ``free_only``, ``pilot``. Anyone, signed in or not."""
        now = current_clock().now()
        found = lots.nearby(_map_snapshot().rows(lambda: lots.map_rows(get_session())), lat=args["lat"],
                            lon=args["lon"], radius_m=args["radius_m"], now=now, free_only=args["free_only"],
                            pilot=args["pilot"])
        page, size = args["page"], args["page_size"]
        items = ", ".join(lot.view_json(now, d) for lot, d in found[(page - 1) * size: page * size])
        # Sent as built (times already in +08:00; the schema documents it): each lot's unchanging part
        # was encoded once with the snapshot; marshmallow's dump of a page cost more than the search.
        return Response(f'{{"items": [{items}], "page": {page}, "page_size": {size}, "total": {len(found)}}}',
                        mimetype="application/json")


@blp.route("/lots/<code>")
class LotItem(MethodView):
    @visible_object("pk_lot", "code", anonymous=True)
    @blp.response(200, ParkingLotSchema)
    def get(self, code: str):
        """One car park with its tariff, free spaces now and its booking resource (arrival windows)."""
        session = get_session()
        lot = loaded("pk_lot")
        return {**lots.lot_view(lot, current_clock().now(), operator=lot_code_of_operator(session, lot)),
                "resource": _resource_code(session, lot)}


def lot_code_of_operator(session, lot: PkLot) -> str:
    return session.scalar(sa.select(Organisation.code).where(Organisation.id == lot.operator_id))


def _lot_device_or_staff(session, principal, lot: PkLot) -> None:
    if not operates(session, principal, lot.id):
        raise ApiError("forbidden")


@blp.route("/lots/<code>/occupancy")
class Occupancy(MethodView):
    @visible_object("pk_lot", "code")
    @require_auth(kinds=("device", "staff", "resident"))
    @blp.arguments(ParkingOccupancySchema)
    @blp.response(200, ParkingLotSchema)
    @_err(422, "`reading_out_of_range` (above capacity or negative), `reading_from_future`")
    def put(self, args, code: str):
        """The operator's counter reports how many cars are inside (a device bound to the lot for
        ``occupancy``). Above capacity or negative: 422 ``reading_out_of_range``; from the future: 422
        ``reading_from_future``; an older reading than the latest is kept in the history only."""
        session = get_session()
        principal = current_principal()
        lot = loaded("pk_lot")
        _lot_device_or_staff(session, principal, lot)
        if not principal.is_device:
            raise ApiError("forbidden")
        clock = current_clock()
        telemetry.report(session, clock=clock, config=TELEMETRY, device=principal, kind="occupancy",
                         value={"occupied": args["occupied"]}, at=args["at"], subject_id=lot.id)
        session.flush()
        session.refresh(lot)
        answer = lots.lot_view(lot, clock.now(), operator=principal.org_code)
        session.commit()
        return answer


def _tell_staff(session, lot: PkLot, stay: PkStay) -> None:
    enqueue(session, event_key=f"parking.no_entry:{stay.id}", template="parking_exit_without_entry",
            recipients=[Recipient("org", lot.operator_id)], clock=current_clock(), channel="auto", urgent=True,
            payload={"lot": lot.name, "at": stay.exited_at.isoformat(), "stay_id": stay.id,
                     "ticket_no": f"PK{stay.id}"})


def _passage_view(direction: str) -> type[MethodView]:
    def post(self, args, code: str):
        session = get_session()
        principal = current_principal()
        lot = loaded("pk_lot")
        _lot_device_or_staff(session, principal, lot)
        clock = current_clock()
        at = args["at"] or clock.now()
        if principal.is_device:  # the camera's reading: alive, bound to this lot, not from the future
            telemetry.report(session, clock=clock, config=TELEMETRY, device=principal, kind="plate",
                             value={"direction": direction, "colour": args["colour"] or "blue"}, at=at,
                             subject_id=lot.id)
        elif at > clock.now():
            raise ApiError("reading_from_future", errors={"at": ["时间不能晚于现在。"]})
        device_id = principal.device_id if principal.is_device else None
        if direction == "entry":
            passage = gate.enter(session, lot=lot, plate=args["plate"], colour=args["colour"], at=at,
                                 device_id=device_id)
            if not passage.duplicate:
                nonstop.after_entry(session, passage.stay, at)
        else:
            passage = gate.leave(session, lot=lot, plate=args["plate"], colour=args["colour"], at=at,
                                 device_id=device_id, tell_staff=_tell_staff, charge_without_stopping=nonstop.charge)
        answer = passage_view(session, principal, passage)
        session.commit()
        return answer

    post.__doc__ = {
        "entry": "A camera (bound to the lot for ``plate``) or the operator's staff records an entry. The same plate "
                 "read again while inside is that entry (``duplicate``). A reservation for now is checked in. "
                 "422 ``plate_invalid``.",
        "exit": "An exit: the fee (tariff; contract hours free; paid before leaving counts) and the barrier "
                "(``open`` / ``closed``). Unpaid: the operator's rule opens and records a debt, or keeps it "
                "closed. No recorded entry: a flat fee, or staff decide (closed, staff told)."}[direction]
    decorated = _err(422, "`plate_invalid`, `reading_from_future`")(post)
    decorated = blp.response(200, ParkingPassageSchema)(decorated)
    decorated = blp.arguments(ParkingPassageInSchema)(decorated)
    decorated = require_auth(kinds=("device", "staff", "resident"))(decorated)
    decorated = visible_object("pk_lot", "code")(decorated)
    decorated = idempotent(decorated)
    view = type(f"Parking{direction.capitalize()}View", (MethodView,), {"post": decorated})
    blp.route(f"/lots/<code>/{'entries' if direction == 'entry' else 'exits'}", endpoint=f"lot_{direction}")(view)
    return view


_passage_view("entry")
_passage_view("exit")


# ---------------------------------------------------------------- reservations


def reservation_view(session, row: PkReservation, *, plate: str | None = None, status: str | None = None,
                     lot: str | None = None, masked: bool = False) -> dict[str, Any]:
    """A reservation; what the caller already holds (the plate, the booking's status, the lot's
    code) is not read again. ``masked``: the plate as staff see it."""
    if plate is None:
        plate = session.get(PkVehicle, row.vehicle_id).plate
        plate = plates.mask(plate) if masked else plate
    if status is None:
        status = session.scalar(sa.select(BkBooking.status).where(BkBooking.id == row.booking_id))
    return {"id": row.id, "booking_id": row.booking_id, "lot": lot or lot_code(session, row.lot_id), "plate": plate,
            "arrive_from": row.arrive_from, "held_until": row.held_until, "status": status}


@blp.route("/reservations")
class Reservations(MethodView):
    @idempotent
    @require_resident
    @blp.arguments(ParkingReservationInSchema)
    @blp.response(201, ParkingReservationSchema)
    @_err(409, "`slot_full`, `already_booked`, `booking_limit_reached`")
    @_err(422, "`plate_invalid`, `lot_not_reservable`, `slot_not_at_lot`, `slot_in_past`, `slot_too_far`")
    def post(self, args):
        """Reserve a space for an arrival window (``slot_id`` of the lot's resource): held until the window
        ends + 15 minutes, then released as a no-show. Cancel with ``POST /bookings/<booking_id>/cancel``
        before the window starts; the booking carries a pass for the gate."""
        session = get_session()
        principal = current_principal()
        lot = lots.load_lot(session, args["lot"])
        if lot is None or not lot.active:
            raise ApiError("validation_error", errors={"lot": ["没有这个停车场。"]})
        row, booked, vehicle = reservations.reserve(session, clock=current_clock(), principal=principal, lot=lot,
                                                    slot_id=args["slot_id"], plate=args["plate"],
                                                    colour=args["colour"])
        answer = reservation_view(session, row, plate=vehicle.plate, status=booked.status, lot=lot.code)
        session.commit()
        return answer

    @require_auth
    @blp.arguments(ParkingReservationListArgs, location="query")
    @blp.response(200, page_of(ParkingReservationSchema))
    def get(self, args):
        """Residents: their reservations, latest first. Operators' staff: their car parks' (``lot``;
        plates masked); ``date``: the arrival windows of that Beijing day, earliest first."""
        session = get_session()
        principal = current_principal()
        page = paginate(session, reservations_seen(principal, args.pop("lot"), args.pop("date")), args)
        return {**page, "items": [reservation_view(session, r, masked=not principal.is_resident)
                                  for r in page["items"]]}


# ---------------------------------------------------------------- 错峰共享


@blp.route("/projects")
class Projects(MethodView):
    @blp.response(200, ParkingProjectListSchema)
    def get(self):
        """错峰共享 projects: a car park's spaces shared at set hours for a monthly fee. Anyone."""
        session = get_session()
        spaces = dict(session.execute(sa.select(PkSpace.project_id, sa.func.count()).group_by(PkSpace.project_id))
                      .all())
        rows = session.scalars(sa.select(PkProject).where(PkProject.active.is_(True)).order_by(PkProject.code))
        return {"items": [{"code": p.code, "name": p.name, "lot": lot_code(session, p.lot_id),
                           "hours": hours(p.start_minute, p.end_minute), "monthly_fee_fen": p.monthly_fee_fen,
                           "spaces": spaces.get(p.id, 0)} for p in rows]}


@blp.route("/contracts")
class Contracts(MethodView):
    @idempotent
    @require_resident
    @blp.arguments(ParkingContractInSchema)
    @blp.response(201, ParkingContractSchema)
    @_err(409, "`contract_overlap` (the space is taken in those hours), `no_shared_space`")
    @_err(422, "`plate_invalid`, `contract_in_past`")
    def post(self, args):
        """Sign a monthly contract for a project's hours on a space (named, or the first free); pay it through
        ``payment_id`` (unpaid when the payment expires: cancelled)."""
        session = get_session()
        principal = current_principal()
        project = session.scalar(sa.select(PkProject).where(PkProject.code == args["project"],
                                                            PkProject.active.is_(True)))
        if project is None:
            raise ApiError("validation_error", errors={"project": ["没有这个错峰共享项目。"]})
        now = current_clock().now()
        contract = contracts.sign(session, principal=principal, project=project, month=args["month"],
                                  months=args["months"], plate=args["plate"], colour=args["colour"], now=now,
                                  space=args["space"])
        if contract.fee_fen > 0:
            payments.charge_contract(session, contract=contract, lot=session.get(PkLot, project.lot_id), now=now)
        answer = contract_view(session, principal, contract)
        session.commit()
        return answer

    @require_auth
    @blp.arguments(ParkingListArgs, location="query")
    @blp.response(200, page_of(ParkingContractSchema))
    def get(self, args):
        """Residents: their contracts. Operators' staff: their car parks' (``lot``)."""
        session = get_session()
        principal = current_principal()
        page = paginate(session, contracts_seen(principal, args.pop("lot")), args)
        return {**page, "items": [contract_view(session, principal, c) for c in page["items"]]}


@blp.route("/contracts/<int:contract_id>")
class ContractItem(MethodView):
    @visible_object("pk_contract", "contract_id")
    @require_auth
    @blp.response(200, ParkingContractSchema)
    def get(self, contract_id: int):
        """A contract (its resident; the lot operator's staff)."""
        return contract_view(get_session(), current_principal(), loaded("pk_contract"))


@blp.route("/contracts/<int:contract_id>/cancel")
class ContractCancel(MethodView):
    @idempotent
    @visible_object("pk_contract", "contract_id")
    @require_auth
    @blp.response(200, ParkingContractSchema)
    @_err(409, "`contract_started`, `contract_not_active`")
    def post(self, contract_id: int):
        """Cancel before the first day (the resident)."""
        session = get_session()
        principal = current_principal()
        contract = contracts.cancel(session, principal=principal, contract=loaded("pk_contract"),
                                    now=current_clock().now())
        answer = contract_view(session, principal, contract)
        session.commit()
        return answer


# ---------------------------------------------------------------- stays and debts


@blp.route("/stays")
class Stays(MethodView):
    @require_auth
    @blp.arguments(ParkingListArgs, location="query")
    @blp.response(200, page_of(ParkingStaySchema))
    def get(self, args):
        """Residents: stays of their vehicles' plates. Operators' staff: their car parks' (plates masked)."""
        session = get_session()
        principal = current_principal()
        page = paginate(session, plate_rows(PkStay, principal, args.pop("lot")), args)
        return {**page, "items": [stay_view(session, principal, s) for s in page["items"]]}


@blp.route("/stays/<int:stay_id>")
class StayItem(MethodView):
    @visible_object("pk_stay", "stay_id")
    @require_auth
    @blp.response(200, ParkingStaySchema)
    def get(self, stay_id: int):
        """A stay, with what it owes now while inside."""
        session = get_session()
        stay = loaded("pk_stay")
        view = stay_view(session, current_principal(), stay)
        if stay.status == "inside":
            view["owed_fen"] = max(0, gate.due(session, session.get(PkLot, stay.lot_id), stay,
                                               current_clock().now()) - stay.paid_fen)
        return view


def _payment(intent) -> dict[str, Any]:
    return {"payment_id": intent.id, "amount_fen": intent.amount_fen, "expires_at": intent.expires_at}


@blp.route("/stays/<int:stay_id>/pay")
class StayPay(MethodView):
    @idempotent
    @visible_object("pk_stay", "stay_id")
    @require_resident
    @blp.arguments(ParkingPaySchema)
    @blp.response(201, ParkingPaymentSchema)
    @_err(409, "`nothing_owed`")
    def post(self, args, stay_id: int):
        """Pay before leaving (the plate's owner): an intent for what the stay owes now, paid through
        ``POST /api/v1/payments/<payment_id>/pay``; the fee then holds for 15 minutes."""
        session = get_session()
        stay = loaded("pk_stay")
        lot = session.get(PkLot, stay.lot_id)
        now = current_clock().now()
        owed = (gate.due(session, lot, stay, now) if stay.status == "inside" else (stay.fee_fen or 0)) - stay.paid_fen
        if stay.status not in ("inside", "pending_staff") or (stay.status == "pending_staff" and stay.fee_fen is None):
            raise ApiError("nothing_owed")
        intent = payments.charge_stay(session, principal=current_principal(), lot=lot, stay=stay, owed=owed, now=now)
        answer = _payment(intent)
        session.commit()
        return answer


@blp.route("/stays/<int:stay_id>/decide")
class StayDecide(MethodView):
    @idempotent
    @visible_object("pk_stay", "stay_id")
    @require_auth
    @blp.arguments(ParkingDecideSchema)
    @blp.response(200, ParkingPassageSchema)
    @_err(409, "`stay_not_pending`")
    def post(self, args, stay_id: int):
        """An exit with no recorded entry under the staff rule: the operator's staff set its fee; it then
        settles like any exit (a debt if the lot opens unpaid)."""
        session = get_session()
        principal = current_principal()
        stay = loaded("pk_stay")
        passage = gate.decide(session, principal=principal, lot=session.get(PkLot, stay.lot_id), stay=stay,
                              fee_fen=args["fee_fen"], now=current_clock().now(),
                              charge_without_stopping=nonstop.charge)
        answer = passage_view(session, principal, passage)
        session.commit()
        return answer


@blp.route("/debts")
class Debts(MethodView):
    @require_auth
    @blp.arguments(ParkingListArgs, location="query")
    @blp.response(200, page_of(ParkingDebtSchema))
    def get(self, args):
        """Residents: unpaid exits of their vehicles' plates. Operators' staff: their car parks'."""
        session = get_session()
        principal = current_principal()
        page = paginate(session, plate_rows(PkDebt, principal, args.pop("lot")), args)
        return {**page, "items": [debt_view(session, principal, d) for d in page["items"]]}


@blp.route("/debts/<int:debt_id>/pay")
class DebtPay(MethodView):
    @idempotent
    @visible_object("pk_debt", "debt_id")
    @require_resident
    @blp.arguments(ParkingPaySchema)
    @blp.response(201, ParkingPaymentSchema)
    @_err(409, "`debt_not_open`")
    def post(self, args, debt_id: int):
        """Pay a debt (the plate's owner), through ``POST /api/v1/payments/<payment_id>/pay``."""
        session = get_session()
        debt = loaded("pk_debt")
        intent = payments.charge_debt(session, principal=current_principal(), debt=debt,
                                      lot=session.get(PkLot, debt.lot_id), now=current_clock().now())
        answer = _payment(intent)
        session.commit()
        return answer


@blp.route("/figures")
class Figures(MethodView):
    @require_staff
    @blp.arguments(ParkingFiguresArgs, location="query")
    @blp.response(200, ParkingFiguresSchema)
    def get(self, args):
        """Per car park and Beijing day: entries, exits, peak occupancy counted, reservations and no-shows,
        active contracts, fees, paid and unpaid. Operators: their car parks; 区交通委 and the district: all.
        At most 62 days."""
        session = get_session()
        items = figures.daily(session, principal=current_principal(), first=args["date_from"], last=args["date_to"],
                              lot=args["lot"])
        return {"items": items}


def blueprints() -> list[Blueprint]:
    register_object_types()
    return [blp, telemetry_blueprint(TELEMETRY)]

