"""Publishing and reading discharge summaries.

- **Upload** (``upload_pdf``): staff of a hospital or health centre in ``AUTHOR_ROLES``; the
  bytes are a PDF (``pdf.checked``), stored once under their hash.
- **Publish** (``publish``): the patient is found by ID number (a person on record; never
  created here), the file must be one of the hospital's own uploads; the structured fields are
  kept encrypted; each follow-up becomes a ticket of the hospital's follow-up team
  (``followups.file_all``); the patient is told (outbox), with no health data in the notice.
- **Who reads** (``sees``): the patient, residents who may act for them (``book_medical``),
  and the publishing organisation's staff — each staff read audited (``read``). Anyone else:
  404, the same as a summary that does not exist.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.notify.service import AUTO, Recipient, enqueue
from auth.audit import record_unmasked_read
from auth.models import RESIDENT_ACCOUNT_KINDS, Account, Person
from auth.organisations import Organisation
from auth.principal import Principal
from auth.relations import may_act_for
from scenarios.discharge_summary import files, followups, pdf
from scenarios.discharge_summary.models import DsFile, DsSummary

ORG_TYPES = ("hospital", "community_health_centre")
AUTHOR_ROLES = ("clerk", "doctor")
READER_ROLES = ("admin", "clerk", "doctor", "followup", "department_head")
ACT_SCOPE = "book_medical"
AUDIT_REASON = "查看出院小结（诊后管理）"


def require_author(principal: Principal) -> None:
    if not (principal.is_staff and principal.org_type in ORG_TYPES and principal.role in AUTHOR_ROLES):
        raise ApiError("forbidden")


def upload_pdf(session: Session, *, clock: Clock, principal: Principal, data: bytes, upload_dir: str) -> DsFile:
    require_author(principal)
    pages = pdf.checked(data)
    digest = files.store(upload_dir, data)
    row = DsFile(public_id=files.new_public_id(), org_id=principal.org_id, uploaded_by_account_id=principal.account_id,
                 sha256=digest, bytes=len(data), pages=pages, created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def _patient(session: Session, id_number: str) -> Person:
    person = session.scalar(sa.select(Person).where(Person.id_number_hash == Person.id_number_lookup(id_number)))
    if person is None or person.is_anonymised:
        raise ApiError("patient_unknown", errors={"patient_id_number": ["没有登记该身份证号的患者。"]})
    return person


def _own_file(session: Session, principal: Principal, public_id: str | None) -> DsFile | None:
    if public_id is None:
        return None
    row = session.scalar(sa.select(DsFile).where(DsFile.public_id == public_id))
    if row is None or row.org_id != principal.org_id:
        raise ApiError("validation_error", errors={"file_id": ["没有这份 PDF（须是本院上传的）。"]})
    return row


def resident_accounts(session: Session, person_id: int) -> list[int]:
    return list(session.scalars(sa.select(Account.id).where(
        Account.person_id == person_id, Account.kind.in_(RESIDENT_ACCOUNT_KINDS), Account.status == "active")))


def publish(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> DsSummary:
    require_author(principal)
    patient = _patient(session, data["patient_id_number"])
    file = _own_file(session, principal, data.get("file_id"))
    now = clock.now()
    follow_ups = followups.checked(data.get("follow_ups") or [], now)
    summary = DsSummary(
        org_id=principal.org_id, patient_person_id=patient.id, author_account_id=principal.account_id,
        file_id=file.id if file else None, department=data["department"], admitted_on=_day(data.get("admitted_on")),
        discharged_on=_day(data["discharged_on"]), diagnosis=data["diagnosis"], advice=data.get("advice"),
        medicines_json=json.dumps(data.get("medicines") or [], ensure_ascii=False),
        follow_ups_json="[]", created_at=now)
    session.add(summary)
    session.flush()
    filed = followups.file_all(session, clock=clock, principal=principal, summary=summary, follow_ups=follow_ups)
    summary.follow_ups_json = json.dumps(filed, ensure_ascii=False, default=str)
    org = session.get(Organisation, principal.org_id)
    enqueue(session, event_key=f"discharge_summary:{summary.id}", template="discharge_summary_published",
            recipients=[Recipient.account(a) for a in resident_accounts(session, patient.id)], clock=clock,
            payload={"summary_id": summary.id, "hospital": org.name, "at": now.isoformat()}, channel=AUTO)
    session.flush()
    return summary


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def sees(session: Session, principal: Principal, summary: DsSummary) -> bool:
    """The visibility rule of ``ds_summary``."""
    if principal.is_resident and principal.person_id is not None:
        return may_act_for(session, principal.person_id, summary.patient_person_id, ACT_SCOPE)
    return principal.is_staff and principal.org_id == summary.org_id


def reads(principal: Principal) -> bool:
    """Staff roles with a clinical need to read a summary (others of the hospital: 403)."""
    return principal.is_staff and principal.role in READER_ROLES


def read(session: Session, *, clock: Clock, principal: Principal, summary: DsSummary,
         reason: str = AUDIT_REASON) -> DsSummary:
    """A reader's look; a staff read writes its audit entry first (in the same transaction), with
    ``reason`` (the console asks the reader for one; the API records its fixed purpose)."""
    if principal.is_staff:
        if not reads(principal):
            raise ApiError("forbidden")
        record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=summary.patient_person_id,
                             fields=["discharge_summary"], reason=reason, action="read_discharge_summary")
    return summary


def published_by(org_id: int) -> sa.Select:
    """A hospital's summaries, newest first (the console's list: no health data is shown there)."""
    return (sa.select(DsSummary).where(DsSummary.org_id == org_id)
            .order_by(DsSummary.created_at.desc(), DsSummary.id.desc()))


def mine(principal: Principal) -> sa.Select:
    """The caller's own summaries, newest first."""
    return (sa.select(DsSummary).where(DsSummary.patient_person_id == principal.person_id)
            .order_by(DsSummary.created_at.desc(), DsSummary.id.desc()))
