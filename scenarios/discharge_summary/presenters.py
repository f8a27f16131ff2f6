"""A summary as its readers see it: the structured fields in full (they are the patient's and
their carers', or the hospital's audited read), the patient's name masked, the PDF as a signed URL."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from auth import pii
from auth.models import Person
from auth.organisations import Organisation
from scenarios.discharge_summary import files
from scenarios.discharge_summary.models import DsFile, DsSummary


def summary_header(session: Session, summary: DsSummary) -> dict[str, Any]:
    """What a list shows without a read being audited: no health data, the patient masked."""
    org = session.get(Organisation, summary.org_id)
    patient = session.get(Person, summary.patient_person_id)
    return {
        "id": summary.id, "hospital": {"code": org.code, "name": org.name},
        "patient": {"name": pii.mask_name(patient.name)}, "department": summary.department,
        "admitted_on": summary.admitted_on, "discharged_on": summary.discharged_on, "created_at": summary.created_at,
    }


def summary_view(session: Session, summary: DsSummary, *, clock: Clock) -> dict[str, Any]:
    file = session.get(DsFile, summary.file_id) if summary.file_id else None
    return {
        **summary_header(session, summary),
        "diagnosis": summary.diagnosis, "advice": summary.advice, "medicines": summary.medicines,
        "follow_ups": summary.follow_ups,
        "file": ({"url": files.signed_url(file, clock=clock), "pages": file.pages, "bytes": file.bytes}
                 if file else None),
    }
