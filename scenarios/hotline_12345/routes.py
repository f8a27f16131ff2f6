"""hotline-12345's own read endpoints, for the hotline office only (other staff: 403;
residents and devices: 403 from the staff guard):

- ``GET /api/v1/hotline-12345/figures?month=YYYY-MM``: per department, the month's figures.
- ``GET /api/v1/hotline-12345/tickets/<id>/caller``: the caller's phone, masked, and whether
  it matched a resident's account (the phone itself only through the audited reveal, not here).
"""
from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint, Schema, fields
from app.db import get_session
from app.errors import ApiError
from auth import pii
from auth.principal import current_principal, require_staff
from auth.visibility import visible_object
from scenarios.engines.workflow.models import SUBJECT
from scenarios.hotline_12345.catalogue import HOTLINE_OFFICE
from scenarios.hotline_12345.figures import monthly
from scenarios.hotline_12345.models import HotlineCaller
from scenarios.hotline_12345.policy import org_by_code
from scenarios.hotline_12345.schemas import HotlineFiguresArgsSchema, HotlineFiguresSchema

SLUG = "hotline-12345"


class HotlineCallerSchema(Schema):
    phone = fields.String(required=True, metadata={"description": "masked: 139****5678"})
    resident_matched = fields.Boolean(required=True)


def office_only():
    """The acting hotline office (its session and organisation); other staff: 403."""
    session = get_session()
    office = org_by_code(session, HOTLINE_OFFICE)
    if current_principal().org_id != office.id:
        raise ApiError("forbidden")
    return session, office


def blueprints() -> list[Blueprint]:
    blp = Blueprint("hotline-12345-office", __name__, url_prefix=f"/api/v1/{SLUG}",
                    description="12345 hotline: the office's figures and callers.")

    @blp.route("/figures")
    class Figures(MethodView):
        @require_staff
        @blp.arguments(HotlineFiguresArgsSchema, location="query")
        @blp.response(200, HotlineFiguresSchema)
        def get(self, args):
            """The hotline office: per department and month, on-time contact and resolution rates,
            the callers' verdicts and the orders sent back. Other staff: 403."""
            session, office = office_only()
            return monthly(session, month=args["month"], office_id=office.id)

    @blp.route("/tickets/<int:ticket_id>/caller")
    class Caller(MethodView):
        @visible_object(SUBJECT, "ticket_id")
        @require_staff
        @blp.response(200, HotlineCallerSchema)
        def get(self, ticket_id: int):
            """The hotline office: the caller's phone (masked) and whether it is a resident's."""
            session, _ = office_only()
            caller = session.get(HotlineCaller, ticket_id)
            if caller is None:
                raise ApiError("not_found")
            return {"phone": pii.mask_mobile(caller.phone), "resident_matched": caller.resident_account_id is not None}

    return [blp]
