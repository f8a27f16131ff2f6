"""place-checkin: places and their codes, check-ins by residents and by sentinels, flow counts.

Who may do what (the routes call these with the acting principal):
- operators: staff acting for the organisation that runs the place (``reach == "member"``).
  Anyone else gets 404 for the place: it is not visible (supervisors and the district
  included: flow data is the operator's). Managers (``auth.roles.STAFF_MANAGERS``) create,
  change and equip places; every member sees them, their posters and their flow.
- a resident checks in with a place code and sees their own history only;
- a sentinel device (kind ``sentinel``) bound to a place of its own organisation scans a
  resident's personal code and records a check-in for the holder there.

Services never commit, except around a rejected code (see ``verify_or_record``): the scan's
record is committed before the error goes out.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import hours_since_epoch
from app.errors import ApiError
from app.geo import require_inside_district
from auth.devices import device_of_org
from auth.models import Device
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from auth.roles import STAFF_MANAGERS
from qr.holders import HolderView, holder_view
from qr.models import PERSONAL_PURPOSE, PLACE_CHECKIN_PURPOSE
from qr.place_codes import issue_place_code, token_from_scan
from qr.service import Scanner, Verified, verify
from qr.tokens import QrError
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.models import Checkin, CheckinPlace, CheckinSentinel, place_ref

CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{2,39}")
MAX_FLOW_RANGE = timedelta(days=31)
DEFAULT_FLOW_RANGE = timedelta(hours=24)
HOUR = timedelta(hours=1)


def _invalid(field: str, msg: str) -> ApiError:
    return ApiError("validation_error", errors={field: [msg]})


# ---------------------------------------------------------------- places (operators)


def require_operator_member(principal: Principal, org: Organisation, session: Session) -> None:
    """Staff acting for ``org`` itself; anyone else does not see its places (404)."""
    if reach(principal, org, session=session) != "member":
        raise ApiError("not_found")


def require_manager(principal: Principal) -> None:
    if principal.role not in STAFF_MANAGERS:
        raise ApiError("forbidden")


def acting_org(session: Session, principal: Principal) -> Organisation:
    org = session.get(Organisation, principal.org_id) if principal.org_id is not None else None
    if org is None or not org.active:
        raise ApiError("forbidden")
    return org


def place_for_operator(session: Session, principal: Principal, code: str, *, manage: bool = False) -> CheckinPlace:
    """The place with ``code`` if the principal operates it (404 otherwise; 403 when
    ``manage`` and the role may not change it)."""
    place = session.scalar(sa.select(CheckinPlace).where(CheckinPlace.code == code)) if CODE_RE.fullmatch(
        code) else None
    if place is None:
        raise ApiError("not_found")
    org = session.get(Organisation, place.operator_id)
    if org is None:
        raise ApiError("not_found")
    require_operator_member(principal, org, session)
    if manage:
        require_manager(principal)
    return place


def _check_fields(*, name: str | None = None, kind: str | None = None, address: str | None = None) -> None:
    if name is not None and not 1 <= len(name.strip()) <= 100:
        raise _invalid("name", "名称须为 1–100 个字符。")
    if kind is not None and kind not in PLACE_KINDS:
        raise _invalid("kind", "未知的场所类型，见 GET /api/v1/place-checkin/kinds。")
    if address is not None and not 1 <= len(address.strip()) <= 200:
        raise _invalid("address", "地址须为 1–200 个字符。")


def create_place(
    session: Session,
    *,
    clock: Clock,
    principal: Principal,
    name: str,
    kind: str,
    address: str,
    lat: float,
    lon: float,
    code: str | None = None,
    operator: Organisation | None = None,
) -> tuple[CheckinPlace, str]:
    """A new place of the acting organisation (a manager's act) and its place-code link.
    ``operator``/``code`` are for the demo data; routes pass neither."""
    if operator is None:
        operator = acting_org(session, principal)
        require_manager(principal)
    _check_fields(name=name, kind=kind, address=address)
    require_inside_district(lat, lon)
    place = CheckinPlace(code=code or f"pl-{secrets.token_hex(6)}", name=name.strip(), kind=kind,
                         operator_id=operator.id, address=address.strip(), lat=lat, lon=lon, active=True)
    session.add(place)
    session.flush()
    _, link = issue_place_code(session, place_ref=place.ref, place_id=place.id, clock=clock)
    return place, link


def update_place(session: Session, place: CheckinPlace, *, clock: Clock, changes: dict) -> CheckinPlace:
    """Rename, move the address, close or reopen. Closing revokes the place code (a poster
    left on a wall stops working); reopening issues a new one."""
    from qr.passes import revoke_passes_for

    _check_fields(name=changes.get("name"), address=changes.get("address"))
    for key in ("name", "address"):
        if key in changes:
            setattr(place, key, changes[key].strip())
    if "active" in changes and changes["active"] != place.active:
        place.active = changes["active"]
        if not place.active:
            revoke_passes_for(session, purpose=PLACE_CHECKIN_PURPOSE, ref=place.ref, clock=clock, reason="closed")
        else:
            issue_place_code(session, place_ref=place.ref, place_id=place.id, clock=clock)
    session.flush()
    return place


def place_link(session: Session, place: CheckinPlace, *, clock: Clock) -> str | None:
    """The live place-code link (issued again if it expired); None for a closed place."""
    if not place.active:
        return None
    _, link = issue_place_code(session, place_ref=place.ref, place_id=place.id, clock=clock)
    return link


def places_of(org_id: int, *, kind: str | None = None) -> sa.Select:
    stmt = sa.select(CheckinPlace).where(CheckinPlace.operator_id == org_id)
    if kind is not None:
        stmt = stmt.where(CheckinPlace.kind == kind)
    return stmt.order_by(CheckinPlace.id)


# ---------------------------------------------------------------- sentinels


def bind_sentinel(session: Session, place: CheckinPlace, device_uid: str, *, clock: Clock) -> CheckinSentinel:
    """Put a sentinel of the place's operator at the place (moving it from another one)."""
    org = session.get(Organisation, place.operator_id)
    device = device_of_org(session, org, device_uid)  # another organisation's device: 404
    if device.kind != "sentinel":
        raise _invalid("device_id", "只有数字哨兵 (sentinel) 可以绑定到场所。")
    row = session.get(CheckinSentinel, device.id)
    if row is None:
        row = CheckinSentinel(device_id=device.id, place_id=place.id, bound_at=clock.now())
        session.add(row)
    elif row.place_id != place.id:
        row.place_id, row.bound_at = place.id, clock.now()
    session.flush()
    return row


def unbind_sentinel(session: Session, place: CheckinPlace, device_uid: str) -> None:
    org = session.get(Organisation, place.operator_id)
    device = device_of_org(session, org, device_uid)
    row = session.get(CheckinSentinel, device.id)
    if row is None or row.place_id != place.id:
        raise ApiError("not_found")
    session.delete(row)
    session.flush()


def sentinels_at(session: Session, place: CheckinPlace) -> list[tuple[Device, CheckinSentinel]]:
    return list(session.execute(
        sa.select(Device, CheckinSentinel).join(CheckinSentinel, CheckinSentinel.device_id == Device.id)
        .where(CheckinSentinel.place_id == place.id).order_by(Device.id)).all())


_SENTINEL_PLACE = (
    sa.select(CheckinPlace).join(CheckinSentinel, CheckinSentinel.place_id == CheckinPlace.id)
    .where(CheckinSentinel.device_id == sa.bindparam("device_id"),
           CheckinPlace.operator_id == sa.bindparam("org_id"))
)


def place_of_sentinel(session: Session, principal: Principal) -> CheckinPlace:
    """The place the calling sentinel stands at: 403 for other devices, 409 when unbound."""
    if not principal.is_device or principal.device_kind != "sentinel":
        raise ApiError("forbidden")
    place = session.scalar(_SENTINEL_PLACE, {"device_id": principal.device_id, "org_id": principal.org_id})
    if place is None:
        raise ApiError("sentinel_not_bound")
    return place


# ---------------------------------------------------------------- check-ins


@dataclass(frozen=True)
class CheckinResult:
    checkin: Checkin
    place: CheckinPlace
    holder: HolderView | None = None


def _verify_or_keep_record(session: Session, token: str, *, clock: Clock, purpose: str,
                           scanner: Scanner) -> Verified:
    """``qr.service.verify``; a rejection's scan record is committed before it is raised."""
    try:
        return verify(session, token, clock=clock, allowed_purposes=(purpose,), scanner=scanner)
    except QrError:
        session.commit()
        raise


def _record(session: Session, *, place: CheckinPlace, person_id: int, via: str, now: datetime) -> Checkin:
    row = Checkin(place_id=place.id, person_id=person_id, via=via, at=now)
    session.add(row)
    session.flush()
    return row


def check_in_with_place_code(session: Session, *, clock: Clock, principal: Principal, scanned: str) -> CheckinResult:
    """A resident scanned a place code (the link, or the bare token) in the mini-program.

    The QR layer's scan record names no resident (``Scanner("resident")`` without an id):
    who was where lives only in ``checkins``, which are deleted after the retention period.
    """
    if not principal.is_resident or principal.person_id is None:
        raise ApiError("forbidden")
    token = token_from_scan(scanned)  # a link to anywhere else: qr_malformed
    result = _verify_or_keep_record(session, token, clock=clock, purpose=PLACE_CHECKIN_PURPOSE,
                                    scanner=Scanner("resident"))
    place = None
    if result.holder is not None and result.holder.type == "place":
        place = session.get(CheckinPlace, result.holder.id)
    if place is None or place_ref(place.code) != result.ref:
        raise ApiError("not_found")
    if not place.active:
        raise ApiError("place_closed")
    now = clock.now()
    return CheckinResult(_record(session, place=place, person_id=principal.person_id, via="resident_scan",
                                 now=now), place)


def check_in_by_sentinel(session: Session, *, clock: Clock, principal: Principal, token: str) -> CheckinResult:
    """A sentinel scanned a resident's personal code at its place."""
    place = place_of_sentinel(session, principal)
    if not place.active:
        raise ApiError("place_closed")
    result = _verify_or_keep_record(session, token, clock=clock, purpose=PERSONAL_PURPOSE,
                                    scanner=Scanner("device", principal.device_id))
    if result.holder is None or result.holder.type != "person":
        raise ApiError("not_found")
    row = _record(session, place=place, person_id=result.holder.id, via="sentinel", now=clock.now())
    return CheckinResult(row, place, holder_view(session, result.holder, result.holder_facts))


def history_of(person_id: int) -> sa.Select:
    return sa.select(Checkin).where(Checkin.person_id == person_id).order_by(Checkin.at.desc(), Checkin.id.desc())


def places_by_id(session: Session, ids: set[int]) -> dict[int, CheckinPlace]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(sa.select(CheckinPlace).where(CheckinPlace.id.in_(ids)))}


# ---------------------------------------------------------------- flow


def floor_hour(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def flow_range(start: datetime | None, end: datetime | None, *, clock: Clock) -> tuple[datetime, datetime]:
    """Whole hours ``[start, end)``: by default the last 24 hours up to the current one."""
    if end is None:
        end = floor_hour(clock.now()) + HOUR
    elif floor_hour(end) != end:
        end = floor_hour(end) + HOUR
    start = floor_hour(start) if start else end - DEFAULT_FLOW_RANGE
    if start >= end:
        raise _invalid("from", "开始时间须早于结束时间。")
    if end - start > MAX_FLOW_RANGE:
        raise _invalid("to", "时间范围不能超过 31 天。")
    return start, end


def hourly_flow(session: Session, place: CheckinPlace, start: datetime, end: datetime) -> list[dict]:
    """Check-ins per hour at the place in ``[start, end)``, every hour listed (zeros too)."""
    hour = hours_since_epoch(session, Checkin.at).label("hour")
    counts = dict(session.execute(
        sa.select(hour, sa.func.count()).where(Checkin.place_id == place.id, Checkin.at >= start, Checkin.at < end)
        .group_by(hour)).all())
    out, t = [], start
    while t < end:
        out.append({"hour": t, "count": int(counts.get(int(t.timestamp()) // 3600, 0))})
        t += HOUR
    return out


# ---------------------------------------------------------------- retention


PURGE_CHUNK = 5000
PURGE_MAX_PER_RUN = 200_000


def purge_old_checkins(session: Session, *, clock: Clock, retention: timedelta) -> int:
    """Delete check-ins older than ``retention``, in chunks (PostgreSQL has no DELETE … LIMIT)."""
    cutoff = clock.now() - retention
    deleted = 0
    while deleted < PURGE_MAX_PER_RUN:
        ids = sa.select(Checkin.id).where(Checkin.at < cutoff).limit(PURGE_CHUNK).scalar_subquery()
        n = session.execute(sa.delete(Checkin).where(Checkin.id.in_(ids))).rowcount or 0
        deleted += n
        if n < PURGE_CHUNK:
            break
    return deleted
