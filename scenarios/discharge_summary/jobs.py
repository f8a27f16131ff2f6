"""discharge-summary's signal receivers: two persons found to be one keep one patient's summaries.
Erasure keeps them (medical records: personal_data.py's retention)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.signals import person_merged
from scenarios.discharge_summary.models import DsSummary


@person_merged.connect
def _on_person_merged(sender: object, *, session: Session, keep_id: int, drop_id: int, **_: object) -> None:
    session.execute(sa.update(DsSummary).where(DsSummary.patient_person_id == drop_id)
                    .values(patient_person_id=keep_id), execution_options={"synchronize_session": False})
