"""``GET /api/v1/admin/notify/undeliverable``: urgent notices nobody received, and why."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow.validate import Length, Range

from app.api import Blueprint, Schema, fields
from app.config import Settings
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.notify.undeliverable import MAX_DAYS, undeliverable
from auth.permissions import org_by_code, require_role_in
from auth.principal import current_principal, require_staff
from auth.roles import STAFF_MANAGERS

notify_blp = Blueprint("notify-admin", __name__, url_prefix="/api/v1/admin/notify",
                       description="Notices that could not reach their recipients")


class UndeliverableArgs(Schema):
    days = fields.Integer(load_default=7, strict=False, validate=Range(min=1, max=MAX_DAYS))
    org = fields.String(validate=Length(min=1, max=64), metadata={
        "description": "an organisation's code: its staff only (required unless you are a district administrator)"})


class AttemptSchema(Schema):
    channel = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "failed | no_grant | skipped"})
    reason = fields.String(allow_none=True, metadata={"description": "no WeCom id, no phone, invalid WeCom user..."})


class RecipientSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "account | org"})
    id = fields.Integer(required=True)
    username = fields.String(allow_none=True)
    account_kind = fields.String(allow_none=True)
    org_code = fields.String(allow_none=True)
    org_name = fields.String(allow_none=True)


class UndeliverableSchema(Schema):
    event_key = fields.String(required=True)
    template = fields.String(required=True)
    recipient = fields.Nested(RecipientSchema, required=True)
    attempts = fields.List(fields.Nested(AttemptSchema), required=True)
    first_at = fields.DateTime(required=True)
    last_at = fields.DateTime(required=True)


class UndeliverableListSchema(Schema):
    items = fields.List(fields.Nested(UndeliverableSchema), required=True)


@notify_blp.route("/undeliverable")
class Undeliverable(MethodView):
    @require_staff
    @notify_blp.arguments(UndeliverableArgs, location="query")
    @notify_blp.response(200, UndeliverableListSchema)
    def get(self, args):
        """Urgent notices of the last ``days`` days that reached nobody, with each channel's reason:
        district administrators see all; an organisation's managers and admins its own staff's."""
        principal, session = current_principal(), get_session()
        org_id = None
        if args.get("org"):
            org = org_by_code(session, args["org"])
            if not principal.is_district_admin:
                require_role_in(principal, org, STAFF_MANAGERS, session=session, via=("member",))
            org_id = org.id
        elif not principal.is_district_admin:
            raise ApiError("validation_error", errors={"org": ["请指定机构代码。"]})
        return {"items": undeliverable(session, now=current_clock().now(), days=args["days"], org_id=org_id)}


def blueprints(settings: Settings) -> list[Blueprint]:
    return [notify_blp]
