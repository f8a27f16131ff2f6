"""Who sees an alarm and an enrolment (``auth.visibility``: not visible → 404; visible but not
allowed → 403, decided by the service).

An alarm: the call centre's staff, its supervising organisation's (区民政局) and the
district's; the person's committee; its responder; the person, the contacts with accounts and
whoever raised it. An enrolment: the same organisations, the person and their contacts.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.organisations import Organisation
from auth.principal import Principal
from auth.visibility import register
from scenarios.elderly_sos.models import SosAlarm, SosContact, SosEnrolment
from scenarios.elderly_sos.places import CIVIL_AFFAIRS

ALARM, ENROLMENT = "sos_alarm", "sos_enrolment"


def is_call_centre_staff(principal: Principal, alarm: SosAlarm) -> bool:
    return principal.is_staff and principal.org_id == alarm.call_centre_org_id


def reads_health(principal: Principal, enrolment: SosEnrolment) -> bool:
    """Those who act on an alarm: the call centre, the person's committee, 区民政局 (each read audited)."""
    return principal.is_staff and (principal.org_type == "call_centre" or principal.org_code == CIVIL_AFFAIRS
                                   or principal.org_id == enrolment.committee_org_id)


def sees_figures(principal: Principal) -> bool:
    """The monthly figures: the call centre, 区民政局 and the district."""
    return principal.is_staff and (principal.org_type in ("call_centre", "district")
                                   or principal.org_code == CIVIL_AFFAIRS)


def lists_enrolments(principal: Principal) -> bool:
    """Who lists enrolments (``enrolment.listed``): the committees (their own), 区民政局, the call
    centre and the district (all)."""
    return principal.is_staff and (principal.org_type in ("neighbourhood_committee", "village_committee")
                                   or _overseer(principal))


def _overseer(principal: Principal) -> bool:
    return principal.is_staff and (principal.org_type == "district" or principal.org_code == CIVIL_AFFAIRS
                                   or principal.org_type == "call_centre")


def _family(session: Session, principal: Principal, enrolment_id: int | None) -> bool:
    if enrolment_id is None or not principal.is_resident:
        return False
    enrolment = session.get(SosEnrolment, enrolment_id)
    if enrolment is not None and enrolment.person_id == principal.person_id:
        return True
    return session.scalar(sa.select(SosContact.id).where(SosContact.enrolment_id == enrolment_id,
                                                         SosContact.account_id == principal.account_id)) is not None


def sees_alarm(session: Session, principal: Principal, alarm: SosAlarm) -> bool:
    if principal.is_staff:
        return (is_call_centre_staff(principal, alarm) or _overseer(principal)
                or principal.org_id == alarm.committee_org_id or principal.account_id == alarm.responder_account_id)
    if not principal.is_resident:
        return False
    return principal.account_id == alarm.raised_by_account_id or _family(session, principal, alarm.enrolment_id)


def sees_enrolment(session: Session, principal: Principal, enrolment: SosEnrolment) -> bool:
    if principal.is_staff:
        return _overseer(principal) or principal.org_id == enrolment.committee_org_id
    return _family(session, principal, enrolment.id)


def _load(model: type) -> Any:
    def load(session: Session, key: Any) -> Any:
        try:
            return session.get(model, int(key))
        except (TypeError, ValueError, OverflowError):
            return None
    return load


_load_alarm, _load_enrolment = _load(SosAlarm), _load(SosEnrolment)


def register_object_types() -> None:
    register(ALARM, load=_load_alarm, visible=sees_alarm,
             description="an elderly SOS alarm: the call centre, 区民政局, the district, the person's committee, "
                         "its responder, the person, their contacts with accounts and whoever raised it")
    register(ENROLMENT, load=_load_enrolment, visible=sees_enrolment,
             description="an elderly SOS enrolment: the call centre, 区民政局, the district, the committee, "
                         "the person and their contacts with accounts")


def committee_name(session: Session, org_id: int | None) -> str | None:
    org = session.get(Organisation, org_id) if org_id else None
    return org.name if org is not None else None


def committee_names(session: Session, org_ids: Iterable[int | None]) -> dict[int, str]:
    """The names of these organisations in one query (a list of alarms: not one ``session.get``
    per row, which the session's weak identity map does not spare once a name is copied out)."""
    wanted = {i for i in org_ids if i}
    if not wanted:
        return {}
    return dict(session.execute(sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))).all())
