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
from auth.principal import current_principal, require_auth
from auth.visibility import loaded, visible_object
from scenarios.engines.workflow.models import SUBJECT
from scenarios.online_consult import service
from scenarios.online_consult.models import OcConsult
from scenarios.online_consult.schemas import OcConsultSchema, OcPrescriptionSchema

SLUG = "online-consult"

blp = Blueprint("online-consult-own", __name__, url_prefix=f"/api/v1/{SLUG}",
                description="互联网医院 复诊续方: the request's health data and the renewal's pass.")


def consult_of(ticket) -> OcConsult:
    """The consultation beside a ticket of online-consult (404 for any other ticket)."""
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
        consult = service.read_request(session, clock=current_clock(), principal=principal, ticket=ticket,
                                       consult=consult_of(ticket))
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
                                    ticket=ticket, consult=consult_of(ticket))


def blueprints() -> list[Blueprint]:
    return [blp]
