"""smart-village's endpoints under ``/api/v1/smart-village``.

Who sees a village here (``sv_village``) and its notices (``sv_notice``): its committee's staff and
devices, and villagers with a verified residence in it; anyone else gets 404. The committee
publishes; villagers read (recorded) and confirm the important ones; the hall's screen (a device
of the committee, Basic credentials) or the committee reads the summary.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import validate

from app.api import Blueprint, PageArgs, Schema, fields, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.places.models import Village
from app.places.service import local_date
from auth.principal import current_principal, require_auth
from auth.visibility import loaded, register, visible_object
from scenarios.smart_village import service as svc
from scenarios.smart_village.models import KINDS, SvNotice, SvReceipt

blp = Blueprint("smart-village", __name__, url_prefix="/api/v1/smart-village",
                description="智慧村庄: notices, village-affairs disclosures (村务公开) and the village summary.")


class NoticeInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS), metadata={
        "description": "notice | finance | project | decision (村务公开: the last three)"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    attachments = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
                              validate=validate.Length(max=20), metadata={"description": "upload public ids"})
    important = fields.Boolean(load_default=False, metadata={"description": "villagers are asked to confirm"})


class NoticeListArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    unread = fields.Boolean(load_default=None, metadata={"description": "villagers: only what is new to them"})


class NoticeSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    attachments = fields.List(fields.String(), required=True)
    important = fields.Boolean(required=True)
    published_at = fields.DateTime(required=True)
    read = fields.Boolean(required=True)
    confirmed = fields.Boolean(required=True)
    confirmations = fields.Integer(allow_none=True, metadata={"description": "committee: villagers who confirmed"})
    unconfirmed = fields.Integer(allow_none=True, metadata={
        "description": "committee, an important notice: villagers (persons) who have not confirmed yet"})


class UnconfirmedSchema(Schema):
    name = fields.String(allow_none=True, metadata={"description": "masked"})
    house_number = fields.Integer(allow_none=True)
    read = fields.Boolean(required=True, metadata={"description": "read it without confirming"})


class SummarySchema(Schema):
    village = fields.String(required=True)
    name = fields.String(required=True)
    date = fields.String(required=True)
    residents = fields.Integer(required=True)
    rental = fields.Dict(required=True, metadata={"description": "houses by state, beds, current tenants"})
    open_tickets = fields.Integer(required=True)
    notices = fields.List(fields.Dict(), required=True)


def _village(session, key: Any) -> Village | None:
    return session.scalar(sa.select(Village).where(Village.code == key)) if isinstance(key, str) else None


def _sees_village(session, principal, village: Village) -> bool:
    return svc.is_committee(principal, village) or svc.is_villager(session, principal, village,
                                                                    local_date(current_clock()))


def _notice(session, key: Any) -> SvNotice | None:
    return session.get(SvNotice, key) if isinstance(key, int) and 0 < key < 2**63 else None


def _sees_notice(session, principal, notice: SvNotice) -> bool:
    return _sees_village(session, principal, session.get(Village, notice.village_id))


def notice_view(session, notice: SvNotice, principal, receipt: SvReceipt | None = None) -> dict[str, Any]:
    view = {c: getattr(notice, c) for c in ("id", "kind", "title", "body", "attachments", "important",
                                            "published_at")}
    view["read"] = receipt is not None
    view["confirmed"] = receipt is not None and receipt.confirmed_at is not None
    if not principal.is_resident:
        view["confirmations"] = session.scalar(sa.select(sa.func.count()).select_from(SvReceipt).where(
            SvReceipt.notice_id == notice.id, SvReceipt.confirmed_at.is_not(None)))
        view["unconfirmed"] = session.scalar(sa.select(sa.func.count()).select_from(
            svc.unconfirmed(notice, local_date(current_clock())).subquery())) if notice.important else None
    return view


def notices_listed(principal, village: Village, *, kind: str | None = None, unread: bool | None = None) -> sa.Select:
    """The village's notices, newest first (``unread``: villagers, what is new to them or not)."""
    mine = sa.select(SvReceipt.notice_id).where(SvReceipt.account_id == (principal.account_id or 0))
    stmt = sa.select(SvNotice).where(SvNotice.village_id == village.id)
    if kind:
        stmt = stmt.where(SvNotice.kind == kind)
    if unread is not None and principal.is_resident:
        stmt = stmt.where(SvNotice.id.not_in(mine) if unread else SvNotice.id.in_(mine))
    return stmt.order_by(SvNotice.published_at.desc(), SvNotice.id.desc())


@blp.route("/villages/<code>/notices")
class Notices(MethodView):
    @visible_object("sv_village", "code")
    @require_auth
    @blp.arguments(NoticeListArgs, location="query")
    @blp.response(200, page_of(NoticeSchema, "SmartVillageNoticePageSchema"))
    def get(self, args, code: str):
        """The village's notices and disclosures, newest first (``kind``; ``unread`` for villagers)."""
        session = get_session()
        principal = current_principal()
        village = loaded("sv_village")
        stmt = notices_listed(principal, village, kind=args.pop("kind"), unread=args.pop("unread"))
        page = paginate(session, stmt, args)
        ids = [n.id for n in page["items"]]
        receipts = {r.notice_id: r for r in session.scalars(sa.select(SvReceipt).where(
            SvReceipt.account_id == (principal.account_id or 0), SvReceipt.notice_id.in_(ids)))} if ids else {}
        return {**page, "items": [notice_view(session, n, principal, receipts.get(n.id)) for n in page["items"]]}

    @idempotent
    @visible_object("sv_village", "code")
    @require_auth
    @blp.arguments(NoticeInSchema)
    @blp.response(201, NoticeSchema)
    def post(self, args, code: str):
        """Publish a notice or a disclosure (the village committee's staff)."""
        session = get_session()
        principal = current_principal()
        notice = svc.publish(session, clock=current_clock(), principal=principal, village=loaded("sv_village"),
                             data=args)
        answer = notice_view(session, notice, principal)
        session.commit()
        return answer


@blp.route("/villages/<code>/summary")
class Summary(MethodView):
    @visible_object("sv_village", "code")
    @require_auth(kinds=("staff", "device"))
    @blp.doc(security=[{"deviceBasic": []}, {"bearerAuth": []}])
    @blp.response(200, SummarySchema)
    def get(self, code: str):
        """一屏尽知全村事: residents, rental houses and occupancy, open tickets in the village and recent
        notices, for the screen in the village hall (a device of the committee) or the committee."""
        return svc.summary(get_session(), clock=current_clock(), village=loaded("sv_village"))


@blp.route("/notices/<int:notice_id>")
class NoticeItem(MethodView):
    @visible_object("sv_notice", "notice_id")
    @require_auth
    @blp.response(200, NoticeSchema)
    def get(self, notice_id: int):
        """A notice (a villager's reading is recorded: it is no longer new to them)."""
        session = get_session()
        principal = current_principal()
        notice = loaded("sv_notice")
        receipt = svc.read(session, clock=current_clock(), principal=principal, notice=notice)
        answer = notice_view(session, notice, principal, receipt)
        session.commit()
        return answer


@blp.route("/notices/<int:notice_id>/confirm")
class Confirm(MethodView):
    @idempotent
    @visible_object("sv_notice", "notice_id")
    @require_auth
    @blp.response(200, NoticeSchema)
    def post(self, notice_id: int):
        """A villager confirms they have read an important notice (once; again is harmless)."""
        session = get_session()
        principal = current_principal()
        notice = loaded("sv_notice")
        if not notice.important:
            raise ApiError("notice_not_important")
        receipt = svc.confirm(session, clock=current_clock(), principal=principal, notice=notice)
        answer = notice_view(session, notice, principal, receipt)
        session.commit()
        return answer


@blp.route("/notices/<int:notice_id>/unconfirmed")
class Unconfirmed(MethodView):
    @visible_object("sv_notice", "notice_id")
    @require_auth(kinds=("staff",))
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(UnconfirmedSchema, "SmartVillageUnconfirmedPageSchema"))
    def get(self, args, notice_id: int):
        """The committee: villagers who have not confirmed an important notice (names masked), by house
        number; they are reminded 24 h and 72 h after publication, and the committee told at 96 h."""
        session = get_session()
        notice = loaded("sv_notice")
        if not notice.important:
            raise ApiError("notice_not_important")
        page = paginate(session, svc.unconfirmed(notice, local_date(current_clock())), args, rows=True)
        return {**page, "items": svc.unconfirmed_view(session, page["items"])}


def blueprints() -> list[Blueprint]:
    register("sv_village", load=_village, visible=_sees_village,
             description="a village here (its committee's staff and devices; its verified villagers)")
    register("sv_notice", load=_notice, visible=_sees_notice, description="a village notice (as its village)")
    return [blp]
