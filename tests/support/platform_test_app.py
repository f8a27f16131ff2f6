"""A small app with test-only endpoints exercising the platform (fields, errors, idempotency).

Built with the real factory and the real database; only the extra blueprint is test-only.
"""
from __future__ import annotations

import time

from flask.views import MethodView

from app import create_app
from app.api import Blueprint, PageArgs, Schema, fields, page_of, paginate
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.organisations import Organisation

blp = Blueprint("platform_test", __name__, url_prefix="/test")


class EchoSchema(Schema):
    text = fields.String(required=True)
    count = fields.Integer()
    when = fields.DateTime()
    tags = fields.List(fields.String())


class OrgIn(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    slow = fields.Float(load_default=0.0)
    crash = fields.String(load_default=None, metadata={
        "description": "before_commit | after_commit (process dies) | unavailable | unavailable_after_commit (a 503)"})


class Crash(BaseException):
    """Raised where a process would die: nothing in the app handles it."""


class OrgOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    created_at = fields.DateTime()


@blp.route("/echo")
class Echo(MethodView):
    @blp.arguments(EchoSchema)
    @blp.response(200, EchoSchema)
    def post(self, body):
        return body


@blp.route("/orgs")
class Orgs(MethodView):
    @idempotent
    @blp.arguments(OrgIn)
    @blp.response(201, OrgOut)
    def post(self, body):
        if body["slow"]:
            time.sleep(body["slow"])
        if body["code"] == "fail-422":
            raise ApiError("validation_error", errors={"code": ["不可用"]})
        session = get_session()
        org = Organisation(code=body["code"], name=body["name"], type="merchant")
        session.add(org)
        if body["crash"] == "before_commit":
            raise Crash
        if body["crash"] == "unavailable":
            raise ApiError("unavailable")
        session.commit()
        if body["crash"] == "after_commit":
            raise Crash
        if body["crash"] == "unavailable_after_commit":
            raise ApiError("unavailable")
        return org

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(OrgOut, "TestOrgPageSchema"))
    def get(self, args):
        from sqlalchemy import select

        return paginate(get_session(), select(Organisation).order_by(Organisation.id), args)


@blp.route("/orgs-read-after")
class OrgsReadAfterCommit(MethodView):
    @idempotent
    @blp.arguments(OrgIn)
    @blp.response(201, OrgOut)
    def post(self, body):
        session = get_session()
        org = Organisation(code=body["code"], name=body["name"], type="merchant")
        session.add(org)
        session.commit()
        session.refresh(org)  # a read after commit begins a new transaction
        return org


@blp.route("/boom")
class Boom(MethodView):
    def get(self):
        raise RuntimeError("secret 13912345678 exploded")


def build(settings, database, clock):
    app = create_app(settings, database=database, clock=clock)
    app.extensions["api"].register_blueprint(blp)
    return app
