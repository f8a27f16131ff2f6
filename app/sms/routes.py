"""``/api/v1/admin/sms``: the text messages sent (or recorded by the ``record`` provider)."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView

from app.api import Blueprint, PageArgs, Schema, fields, page_of, paginate
from app.config import Settings
from app.db import get_session
from app.errors import ApiError
from app.sms.models import SmsMessage
from auth.principal import current_principal, require_staff

sms_blp = Blueprint("sms_admin", __name__, url_prefix="/api/v1/admin/sms", description="Text messages sent")


def blueprints(settings: Settings) -> list[Blueprint]:
    return [sms_blp]


class SmsMessageSchema(Schema):
    id = fields.Integer(required=True)
    provider = fields.String(required=True, metadata={"description": "record | http"})
    to = fields.String(required=True, metadata={"description": "masked", "example": "139****5678"})
    template = fields.String(required=True)
    params = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    outbox_id = fields.Integer(allow_none=True)
    provider_ref = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


SECRET_PARAMS = frozenset({"code"})
"""Parameters nobody reads back: a verification or password-reset code is its recipient's alone."""


def _shown(params: dict) -> dict:
    return {k: ("******" if k in SECRET_PARAMS else v) for k, v in (params or {}).items()}


@sms_blp.route("")
class SmsMessages(MethodView):
    @require_staff
    @sms_blp.arguments(PageArgs, location="query")
    @sms_blp.response(200, page_of(SmsMessageSchema))
    def get(self, args):
        """Newest first, numbers masked (district administrators)."""
        if not current_principal().is_district_admin:
            raise ApiError("forbidden")
        page = paginate(get_session(), sa.select(SmsMessage).order_by(SmsMessage.created_at.desc(),
                                                                     SmsMessage.id.desc()), args)
        page["items"] = [{"id": m.id, "provider": m.provider, "to": m.to_masked, "template": m.template,
                          "params": _shown(m.params), "outbox_id": m.outbox_id, "provider_ref": m.provider_ref,
                          "created_at": m.created_at} for m in page["items"]]
        return page
