"""``/api/v1/admin/moderation``: staff list what waits for review and clear or reject it.

Moderators are district administrators and the staff of the organisations named in
``MODERATION_ORG_CODES`` (comma-separated; default ``310116-bureau-city-ops``, 区城运中心).
An item is visible (``auth.visibility``: type ``moderation_item``) to moderators and to the
staff who see its subject (the ticket whose text or photo it is: they see that content
anyway); only moderators read or decide it, so those staff get 403 and everyone else 404,
as for an item that does not exist (residents, the author too, follow their content through
the ticket). Other staff get 403 on the list; residents and devices 403; anonymous callers 401.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api import Blueprint, PageArgs, Schema, fields, page_of, paginate
from app.config import Settings
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.moderation import service
from app.moderation.models import KINDS, STATES, ModerationItem
from app.storage.models import Upload
from app.storage.urls import signed_url
from auth.principal import Principal, current_principal, require_staff
from auth.visibility import is_visible, object_type, object_types, register, visible_object

DEFAULT_MODERATION_ORGS = "310116-bureau-city-ops"

moderation_blp = Blueprint("moderation_admin", __name__, url_prefix="/api/v1/admin/moderation",
                           description="Content moderation by staff")


def blueprints(settings: Settings) -> list[Blueprint]:
    register("moderation_item", load=_item_by_id, visible=_sees_item,
             description="an item of content waiting for (or past) review")
    return [moderation_blp]


def is_moderator(principal: Principal, settings: Any) -> bool:
    if not principal.is_staff:
        return False
    if principal.is_district_admin:
        return True
    codes = settings.get("MODERATION_ORG_CODES") or DEFAULT_MODERATION_ORGS
    return principal.org_code in {c.strip() for c in codes.split(",") if c.strip()}


def _moderator() -> Principal:
    """After visibility (items) or for the list: 403 unless the caller moderates."""
    principal = current_principal()
    if not is_moderator(principal, current_app.extensions["settings"]):
        raise ApiError("forbidden")
    return principal


def _item_by_id(session: Session, key: int) -> ModerationItem | None:
    return session.get(ModerationItem, key)


def _sees_item(session: Session, principal: Principal, item: ModerationItem) -> bool:
    if is_moderator(principal, current_app.extensions["settings"]):
        return True
    if not principal.is_staff or item.subject_type not in object_types():
        return False
    subject = object_type(item.subject_type).load(session, _subject_key(item.subject_id))
    return is_visible(session, principal, item.subject_type, subject)


def _subject_key(subject_id: str) -> int | str:
    return int(subject_id) if subject_id.isdigit() else subject_id




class ModerationQuerySchema(PageArgs):
    state = fields.String(load_default="pending_review", validate=ma.validate.OneOf(STATES))
    subject_type = fields.String(validate=ma.validate.Length(min=1, max=60))
    kind = fields.String(validate=ma.validate.OneOf(KINDS))


class PhotoSchema(Schema):
    url = fields.String(required=True, metadata={"description": "signed, expiring"})
    thumb_url = fields.String(required=True)


class ModerationItemSchema(Schema):
    id = fields.Integer(required=True)
    subject_type = fields.String(required=True, metadata={"example": "city_report"})
    subject_id = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "text | media"})
    state = fields.String(required=True, metadata={"description": "pending_review | cleared | rejected"})
    text = fields.String(allow_none=True)
    photo = fields.Nested(PhotoSchema, allow_none=True)
    author_account_id = fields.Integer(allow_none=True)
    provider = fields.String(required=True, metadata={"description": "keyword | wechat"})
    suggest = fields.String(required=True, metadata={"description": "the machine's verdict: pass | review | "
                                                                     "risky | pending"})
    label = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    decided_by = fields.Integer(allow_none=True, metadata={"description": "staff account; null: automatic"})
    decided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


class ClearSchema(Schema):
    reason = fields.String(validate=ma.validate.Length(max=300))


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=ma.validate.Length(min=1, max=300),
                           metadata={"description": "told to the author"})


def describe(item: ModerationItem, upload: Upload | None) -> dict[str, Any]:
    clock = current_app.extensions["clock"]
    photo = None
    if upload is not None:
        photo = {"url": signed_url(upload, "full", clock=clock), "thumb_url": signed_url(upload, "thumb", clock=clock)}
    return {
        "id": item.id, "subject_type": item.subject_type, "subject_id": item.subject_id, "kind": item.kind,
        "state": item.state, "text": item.text, "photo": photo, "author_account_id": item.author_account_id,
        "provider": item.provider, "suggest": item.suggest, "label": item.label, "reason": item.reason,
        "decided_by": item.decided_by, "decided_at": item.decided_at, "created_at": item.created_at,
    }


def with_uploads(items: list[ModerationItem]) -> list[dict[str, Any]]:
    ids = {i.upload_id for i in items if i.upload_id is not None}
    uploads = {u.id: u for u in get_session().scalars(sa.select(Upload).where(Upload.id.in_(ids)))} if ids else {}
    return [describe(i, uploads.get(i.upload_id) if i.upload_id else None) for i in items]


@moderation_blp.route("")
class ModerationQueue(MethodView):
    @require_staff
    @moderation_blp.arguments(ModerationQuerySchema, location="query")
    @moderation_blp.response(200, page_of(ModerationItemSchema))
    def get(self, args):
        """Items in a state (default ``pending_review``), oldest first."""
        _moderator()
        paging = {"page": args.pop("page"), "page_size": args.pop("page_size")}
        page = paginate(get_session(), service.queue(**args), paging)
        page["items"] = with_uploads(list(page["items"]))
        return page


@moderation_blp.route("/<int:item_id>")
class ModerationItemView(MethodView):
    @visible_object("moderation_item", "item_id")
    @require_staff
    @moderation_blp.response(200, ModerationItemSchema)
    def get(self, item_id: int):
        """One item."""
        _moderator()
        item = get_session().get(ModerationItem, item_id)
        if item is None:
            raise ApiError("not_found")
        return with_uploads([item])[0]


def _decide(item_id: int, decision: str, reason: str | None) -> dict[str, Any]:
    principal = _moderator()
    session = get_session()
    item = service.decide(session, item_id=item_id, decision=decision, clock=current_app.extensions["clock"],
                          staff_account_id=principal.account_id, reason=reason)
    result = with_uploads([item])[0]
    session.commit()
    return result


@moderation_blp.route("/<int:item_id>/clear")
class ClearItem(MethodView):
    @idempotent
    @visible_object("moderation_item", "item_id")
    @require_staff
    @moderation_blp.arguments(ClearSchema)
    @moderation_blp.response(200, ModerationItemSchema)
    @moderation_blp.alt_response(409, description="moderation_already_decided")
    def post(self, args, item_id: int):
        """Clear an item waiting for review (others may then see it)."""
        return _decide(item_id, "cleared", args.get("reason"))


@moderation_blp.route("/<int:item_id>/reject")
class RejectItem(MethodView):
    @idempotent
    @visible_object("moderation_item", "item_id")
    @require_staff
    @moderation_blp.arguments(RejectSchema)
    @moderation_blp.response(200, ModerationItemSchema)
    @moderation_blp.alt_response(409, description="moderation_already_decided")
    def post(self, args, item_id: int):
        """Reject an item waiting for review, with a reason for its author."""
        return _decide(item_id, "rejected", args["reason"])
