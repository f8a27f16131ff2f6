"""online-consult's own read endpoints (the consultation itself is the workflow engine's ticket):

- ``GET /api/v1/online-consult/tickets/<id>/request``: the symptoms and the prescription asked
  for (encrypted beside the ticket): its patient, and the hospital's doctors (each read audited).
- ``GET /api/v1/online-consult/tickets/<id>/prescription``: the decision and, once renewed,
  the items and the pass, for the patient only (staff who see the ticket: 403; anyone else 404).
"""
from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.audit import record_unmasked_read
from auth.principal import current_principal, require_auth
from auth.visibility import loaded, visible_object
from scenarios.engines.workflow.models import SUBJECT
from scenarios.online_consult import service
from scenarios.online_consult.models import OcConsult
from scenarios.online_consult.schemas import OcConsultSchema, OcPrescriptionSchema

SLUG = "online-consult"
READERS = ("doctor", "admin", "department_head")

blp = Blueprint("online-consult-own", __name__, url_prefix=f"/api/v1/{SLUG}",
                description="互联网医院 复诊续方: the request's health data and the renewal's pass.")


def _consult(ticket) -> OcConsult:
    consult = get_session().get(OcConsult, ticket.id) if ticket.scenario == SLUG else None
    if consult is None:
        raise ApiError("not_found")
    return consult


@blp.route("/tickets/<int:ticket_id>/request")
class ConsultRequest(MethodView):
    @visible_object(SUBJECT, "ticket_id")
    @require_auth
    @blp.response(200, OcConsultSchema)
    def get(self, ticket_id: int):
        """The symptoms and the prescription asked for: the patient; the hospital's doctors (audited)."""
        session, principal = get_session(), current_principal()
        ticket = loaded(SUBJECT)
        consult = _consult(ticket)
        if principal.is_staff:
            if principal.org_id != ticket.org_id or principal.role not in READERS:
                raise ApiError("forbidden")
            record_unmasked_read(session, clock=current_clock(), principal=principal,
                                 subject_person_id=consult.patient_person_id, fields=["consult_request"],
                                 reason="互联网医院复诊：查看病情与续方申请", action="read_consult")
            session.commit()
        return consult


@blp.route("/tickets/<int:ticket_id>/prescription")
class Prescription(MethodView):
    @visible_object(SUBJECT, "ticket_id")
    @require_auth
    @blp.response(200, OcPrescriptionSchema)
    def get(self, ticket_id: int):
        """The doctor's decision; once renewed, the items and the single-use pass for the pharmacy.
        The patient only (staff who see the consultation: 403)."""
        ticket = loaded(SUBJECT)
        return service.prescription(get_session(), clock=current_clock(), principal=current_principal(),
                                    ticket=ticket, consult=_consult(ticket))


def blueprints() -> list[Blueprint]:
    return [blp]
