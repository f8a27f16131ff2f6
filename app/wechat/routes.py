"""``/api/v1/me/subscriptions`` (the resident's one-time grants) and ``/api/v1/wechat/callback``."""
from __future__ import annotations

import logging

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from app import json_input
from app.api import Blueprint, Schema, fields
from app.config import Settings
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.notify.templates import current_registry
from app.wechat import grants
from app.wechat.callback import dispatch, signature_valid
from app.wechat.config import WechatConfig
from auth.principal import current_principal, require_resident

log = logging.getLogger("app.wechat")

subscriptions_blp = Blueprint("me_subscriptions", __name__, url_prefix="/api/v1/me/subscriptions",
                              description="WeChat subscription messages the resident accepted")
wechat_blp = Blueprint("wechat", __name__, url_prefix="/api/v1/wechat", description="WeChat message push")

_TEMPLATE_ID = fields.String(validate=ma.validate.Length(min=1, max=64))


class SubscriptionReportSchema(Schema):
    template_ids = fields.List(_TEMPLATE_ID, required=True, validate=ma.validate.Length(min=1, max=10),
                               metadata={"description": "the tmplIds passed to wx.requestSubscribeMessage"})
    accepted = fields.List(_TEMPLATE_ID, load_default=list, validate=ma.validate.Length(max=10),
                           metadata={"description": "those the resident accepted ('accept'), a subset"})


class SubscriptionTemplateSchema(Schema):
    name = fields.String(required=True, metadata={"example": "ticket_acknowledged"})
    title = fields.String(required=True, metadata={"example": "工单受理通知"})
    template_id = fields.String(required=True)
    available = fields.Integer(required=True, metadata={"description": "messages the resident may still receive"})


class SubscriptionListSchema(Schema):
    items = fields.List(fields.Nested(SubscriptionTemplateSchema), required=True)


class SubscriptionReportResultSchema(SubscriptionListSchema):
    stored = fields.Integer(required=True, metadata={"description": "grants stored by this report"})


def blueprints(settings: Settings) -> list[Blueprint]:
    return [subscriptions_blp, wechat_blp]


@subscriptions_blp.route("")
class Subscriptions(MethodView):
    @require_resident
    @subscriptions_blp.response(200, SubscriptionListSchema)
    def get(self):
        """The subscription templates (ids to request) and how many messages each may still bring."""
        principal = current_principal()
        return {"items": grants.summary(get_session(), account_id=principal.account_id, registry=current_registry())}

    @idempotent
    @require_resident
    @subscriptions_blp.arguments(SubscriptionReportSchema)
    @subscriptions_blp.response(201, SubscriptionReportResultSchema)
    @subscriptions_blp.alt_response(422, description="subscription_template_unknown | validation_error")
    def post(self, args):
        """Report what the resident chose in wx.requestSubscribeMessage: each accepted template
        allows one message."""
        principal = current_principal()
        session = get_session()
        registry = current_registry()
        stored = grants.record_subscriptions(
            session, clock=current_app.extensions["clock"], account_id=principal.account_id, registry=registry,
            template_ids=args["template_ids"], accepted=args["accepted"])
        result = {"stored": stored, "items": grants.summary(session, account_id=principal.account_id,
                                                            registry=registry)}
        session.commit()  # after reading: nothing of this request's session outlives the commit
        return result


def _check_signature() -> None:
    config = WechatConfig.from_settings(current_app.extensions["settings"])
    now = current_app.extensions["clock"].now().timestamp()
    args = request.args
    if not signature_valid(config.callback_token, signature=args.get("signature", ""),
                           timestamp=args.get("timestamp", ""), nonce=args.get("nonce", ""), now=now,
                           max_age=config.callback_max_age_seconds):
        log.warning("wechat callback with a bad signature", extra={"remote": request.remote_addr})
        raise ApiError("wechat_signature_invalid")


@wechat_blp.route("/callback")
class Callback(MethodView):
    @wechat_blp.response(200, description="echostr, as text/plain")
    @wechat_blp.alt_response(403, description="wechat_signature_invalid")
    def get(self):
        """WeChat's check of the push URL: answers ``echostr`` when the signature is right."""
        _check_signature()
        return Response(request.args.get("echostr", "")[:200], mimetype="text/plain")

    @wechat_blp.response(200, description="'success', as text/plain")
    @wechat_blp.alt_response(403, description="wechat_signature_invalid")
    def post(self):
        """A push from WeChat (JSON, plaintext mode), e.g. ``wxa_media_check`` verdicts.

        Query: ``signature``, ``timestamp``, ``nonce`` (sha1 of the sorted token, timestamp and
        nonce). Answers ``success`` once handled, so WeChat does not push it again.
        """
        _check_signature()
        try:
            event = json_input.loads(request.get_data(cache=True) or b"{}")
        except ValueError as exc:
            raise ApiError("malformed_json") from exc
        if not isinstance(event, dict):
            raise ApiError("malformed_json")
        if "Encrypt" in event:
            raise ApiError("bad_request", message="仅支持明文模式的消息推送")
        appid = WechatConfig.from_settings(current_app.extensions["settings"]).appid
        if appid and event.get("appid") not in (None, appid):
            raise ApiError("wechat_signature_invalid")
        session = get_session()
        dispatch(session, event, current_app.extensions["clock"])
        session.commit()
        return Response("success", mimetype="text/plain")
