"""Demo data of privacy-flags (``flask seed demo``), idempotent by natural keys.

``demo-resident-1`` (dev login) finds two staff reads of their data in ``GET
/api/v1/me/data-access`` — 区水务局's supervisor read their phone to confirm a repair address,
and again a week later with a thin reason — and has flagged the second: a ticket of the
district's administrators (``demo-310116-admin``, password ``DEMO_PASSWORD``) to answer.
A second run finds the reads (by subject and reason) and the flag, and changes nothing.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import as_resident, dev_resident, staff_account
from auth.models import AuditEntry
from auth.organisations import Organisation
from scenarios.privacy_flags import service
from scenarios.privacy_flags.policy import district

WATER = "310116-bureau-water"
READS = ((10 * 24 * 60, "核实报修地址，联系住户"), (3 * 24 * 60, "查看"))


def load(session: Session, clock: Clock) -> None:
    water = session.scalar(sa.select(Organisation).where(Organisation.code == WATER))
    if water is None or session.scalar(sa.select(Organisation.id).where(Organisation.type == "district")) is None:
        return  # reference data not loaded
    owner = district(session)
    staff_account(session, f"demo-{owner.code}-admin", owner, "admin")
    reader = staff_account(session, f"demo-{WATER}-supervisor", water, "supervisor")
    resident = dev_resident(session, 1)
    entries = []
    for ago, reason in READS:
        entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.subject_person_id == resident.person_id,
                                                           AuditEntry.reason == reason))
        if entry is None:
            entry = AuditEntry(at=clock.now() - timedelta(minutes=ago), actor_account_id=reader.id,
                               acting_org_id=water.id, subject_person_id=resident.person_id, fields=["phone"],
                               reason=reason)
            session.add(entry)
            session.flush()
        entries.append(entry)
    service.flag(session, clock=clock, principal=as_resident(resident), entry=entries[-1],
                 note="我最近没有找过水务局，不知道为什么要看我的手机号。")
    session.flush()
