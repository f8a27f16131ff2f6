"""``POST /api/v1/me/data-access/<audit id>/flag {note}``: flag a staff read of one's own data as
unexpected. Another person's read, or no such read: 404 alike (object type ``audit_read``)."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api import Blueprint, Schema, fields
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from auth.models import AuditEntry
from auth.principal import Principal, current_principal, require_resident
from auth.visibility import loaded, register, visible_object
from scenarios.privacy_flags import CONFIG, service

SUBJECT = "audit_read"


class FlagSchema(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=fields.ma.validate.Length(max=CONFIG.text_max),
                         metadata={"description": "what was unexpected about it (optional)"})


class FlagAnswerSchema(Schema):
    audit_entry_id = fields.Integer(required=True)
    ticket_id = fields.Integer(required=True, metadata={"description": "follow it at "
                                                                       "`GET /api/v1/privacy-flags/tickets/<id>`"})
    number = fields.String(required=True)
    status = fields.String(required=True)
    flagged_before = fields.Boolean(required=True, metadata={"description": "true: this read was already flagged "
                                                                            "(the same ticket)"})


def _load(session: Session, key: Any) -> AuditEntry | None:
    return session.get(AuditEntry, key) if isinstance(key, int) and 0 < key < 2**63 else None


def _own(session: Session, principal: Principal, entry: AuditEntry) -> bool:
    return principal.is_resident and principal.person_id is not None and entry.subject_person_id == principal.person_id


def blueprints() -> list[Blueprint]:
    register(SUBJECT, load=_load, visible=_own, description="a staff read of a person's data (that person)")
    blp = Blueprint("privacy-flags-me", __name__, url_prefix="/api/v1/me",
                    description="Flag a staff read of your personal data as unexpected (PIPL art. 44)")

    @blp.route("/data-access/<int:entry_id>/flag")
    class Flag(MethodView):
        @visible_object(SUBJECT, "entry_id")
        @idempotent
        @require_resident
        @blp.arguments(FlagSchema)
        @blp.response(201, FlagAnswerSchema)
        @blp.alt_response(200, schema=FlagAnswerSchema, description="Flagged before: the same ticket")
        def post(self, args, entry_id: int):
            """Flag a read of your data (`GET /api/v1/me/data-access`) as unexpected: the district's
            administrators get a ticket with the read attached and answer within 15 working days;
            you are told of the outcome. Flagging the same read again answers the same ticket."""
            session = get_session()
            ticket, filed = service.flag(session, clock=current_clock(), principal=current_principal(),
                                         entry=loaded(SUBJECT), note=args.get("note"))
            answer = {"audit_entry_id": entry_id, "ticket_id": ticket.id, "number": ticket.number,
                      "status": ticket.status, "flagged_before": not filed}
            session.commit()
            return answer, 201 if filed else 200

    return [blp]
