"""road-report's own endpoints: the roads, and public road notices (closures, works, detours)."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, PageArgs, paginate
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from auth.organisations import Organisation
from auth.principal import current_principal, require_staff
from auth.visibility import visible_object
from scenarios.road_report import notices
from scenarios.road_report.roads import active_roads
from scenarios.road_report.schemas import (
    NoticeArgsSchema,
    NoticeCreateSchema,
    NoticePageSchema,
    NoticeSchema,
    RoadPageSchema,
)


def blueprints() -> list[Blueprint]:
    notices.register_object_types()
    blp = Blueprint("road-report-info", __name__, url_prefix="/api/v1/road-report",
                    description="智慧路长: roads and public road information (closures, works, detours).")

    @blp.route("/roads")
    class Roads(MethodView):
        @blp.arguments(PageArgs, location="query")
        @blp.response(200, RoadPageSchema)
        def get(self, args):
            """Public: the roads one may report on, by code (with their course, WGS84)."""
            session = get_session()
            page = paginate(session, active_roads(), args)
            towns = {o.id: o for o in session.scalars(sa.select(Organisation).where(
                Organisation.id.in_({r.town_id for r in page["items"] if r.town_id})))}
            page["items"] = [{"code": r.code, "name": r.name, "points": r.points,
                              "town": {"code": towns[r.town_id].code, "name": towns[r.town_id].name}
                              if r.town_id in towns else None} for r in page["items"]]
            return page

    @blp.route("/notices")
    class Notices(MethodView):
        @blp.arguments(NoticeArgsSchema, location="query")
        @blp.response(200, NoticePageSchema)
        def get(self, args):
            """Public, no login: notices of closures, works and detours (`active=true`: in effect today)."""
            session = get_session()
            stmt = notices.listing(session, clock=current_clock(), road=args.pop("road", None),
                                   active=args.pop("active"))
            page = paginate(session, stmt, args)
            page["items"] = notices.views(session, list(page["items"]))
            return page

        @idempotent
        @require_staff
        @blp.arguments(NoticeCreateSchema)
        @blp.response(201, NoticeSchema)
        @blp.alt_response(403, schema=ErrorSchema, description="not acting for 区交通委 as supervisor or staff")
        @blp.alt_response(404, schema=ErrorSchema, description="staff of an organisation that cannot see 区交通委")
        @blp.alt_response(422, schema=ErrorSchema, description="`unknown_road`, `validation_error` (dates)")
        def post(self, args):
            """区交通委 staff publish a notice for a road, from a date to a date (Beijing, inclusive)."""
            session = get_session()
            notice = notices.publish(session, clock=current_clock(), principal=current_principal(), **args)
            body = notices.views(session, [notice])[0]
            session.commit()
            return body

    @blp.route("/notices/<int:notice_id>")
    class NoticeItem(MethodView):
        @visible_object("road_notice", "notice_id")
        @require_staff
        @blp.response(204)
        @blp.alt_response(403, schema=ErrorSchema, description="not acting for 区交通委 as supervisor or staff "
                                                                "(notices are public: anyone else signed in)")
        @blp.alt_response(404, schema=ErrorSchema, description="no such notice, or already withdrawn")
        def delete(self, notice_id: int):
            """区交通委 staff withdraw a notice."""
            session = get_session()
            notices.withdraw(session, clock=current_clock(), principal=current_principal(), notice_id=notice_id)
            session.commit()

    return [blp]
