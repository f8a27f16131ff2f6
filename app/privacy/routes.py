"""HTTP API of residents' rights over their data: ``/api/v1/me/export`` (a copy, PIPL art. 45)."""
from __future__ import annotations

import os

import sqlalchemy as sa
from flask import send_file
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, PageArgs, Schema, fields, page_of
from app.config import Settings
from app.context import current_clock, current_settings
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.privacy import access, consents, exports, retention
from app.privacy.models import DataExport
from auth.principal import current_principal, require_resident
from auth.visibility import SIGNED_URL, open_object

blp = Blueprint("my_data", __name__, url_prefix="/api/v1/me",
                description="Residents' rights over their personal data (PIPL): a copy of everything held")


class ExportRequestSchema(Schema):
    person_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                               metadata={"description": "a person you act for (a confirmed relation allowing "
                                                        "`act_all`); default: yourself"})


class ExportSchema(Schema):
    id = fields.String(required=True)
    person_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "building | ready"})
    requested_at = fields.DateTime(required=True)
    ready_at = fields.DateTime(allow_none=True)
    deleted_after = fields.DateTime(required=True, metadata={"description": "the file is deleted then (7 days)"})
    bytes = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    url = fields.String(allow_none=True, metadata={"description": "signed download link (no Authorization "
                                                                   "header needed), valid 24 h; when ready"})


class ExportListSchema(Schema):
    items = fields.List(fields.Nested(ExportSchema), required=True)


class DownloadArgsSchema(Schema):
    id = fields.String(required=True, validate=fields.ma.validate.Length(min=1, max=32))
    exp = fields.Integer(required=True, strict=False, metadata={"description": "expiry, Unix seconds"})
    sig = fields.String(required=True, validate=fields.ma.validate.Length(max=128))


def _describe(export: DataExport) -> dict:
    return exports.describe(export, clock=current_clock(), secret_key=current_settings().secret_key)


@blp.route("/export")
class Export(MethodView):
    @idempotent
    @require_resident
    @blp.arguments(ExportRequestSchema)
    @blp.response(202, ExportSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="`not_found`: a person you may not act for")
    @blp.alt_response(429, schema=ErrorSchema, description="`export_daily_limit`: one a day per person (Beijing "
                                                           "day); `next_allowed_at` and `Retry-After` say when")
    def post(self, args):
        """Ask for a copy of everything held about you (or a person you act for).

        The worker builds a zip of `data.json` (schema `jinshan-personal-data-export/1`, README
        "Your data") and `index.html` (readable, in Chinese); you are notified and download it
        through `url` (`GET /api/v1/me/exports`). Other people's personal data in it is masked."""
        session = get_session()
        export = exports.request_export(session, clock=current_clock(), principal=current_principal(),
                                        directory=exports.export_dir(current_settings()),
                                        person_id=args.get("person_id"))
        session.commit()
        return _describe(export)


@blp.route("/exports")
class Exports(MethodView):
    @require_resident
    @blp.response(200, ExportListSchema)
    def get(self):
        """Your exports (kept 7 days), newest first, with signed download links when ready."""
        return {"items": [_describe(e) for e in exports.mine(get_session(), current_principal())]}


@blp.route("/export/download")
class Download(MethodView):
    @open_object("data_export_file", SIGNED_URL)
    @blp.arguments(DownloadArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, description="The zip file")
    @blp.alt_response(403, schema=ErrorSchema, description="`forbidden`: wrong signature; `url_expired`: past `exp`")
    @blp.alt_response(404, schema=ErrorSchema, description="Deleted (after 7 days) or unknown")
    def get(self, id: str, exp: int, sig: str):
        """An export's zip through its signed link."""
        exports.verify_link(id, exp, sig, clock=current_clock(), secret_key=current_settings().secret_key)
        export = get_session().execute(sa.select(DataExport.file_path, DataExport.status, DataExport.day)
                                       .where(DataExport.public_id == id)).first()
        if export is None or export.status != "ready" or not os.path.isfile(export.file_path):
            raise ApiError("not_found")
        resp = send_file(export.file_path, mimetype="application/zip", as_attachment=True,
                         download_name=f"personal-data-{export.day.isoformat()}.zip")
        resp.headers["Cache-Control"] = "private, no-store"
        return resp


class DataAccessSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    action = fields.String(required=True, metadata={"description": "read_unmasked, or an act on your data"})
    fields_ = fields.List(fields.String(), required=True, attribute="fields", data_key="fields",
                          metadata={"description": "what was read: phone, id_number..."})
    reason = fields.String(required=True, metadata={"description": "the reason the staff member stated"})
    organisation = fields.String(allow_none=True)
    organisation_type = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    role_title = fields.String(allow_none=True)
    reader = fields.String(allow_none=True, metadata={"description": "the staff member's name, masked unless "
                                                                     "the district's policy shows it"})


@blp.route("/data-access")
class DataAccess(MethodView):
    @require_resident
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(DataAccessSchema))
    def get(self, args):
        """Every unmasked read of your personal data by staff (the audit log), newest first."""
        return access.reads(get_session(), person_id=current_principal().person_id, page=args,
                            reader_names=current_settings().get("DATA_ACCESS_READER_NAMES"))


class ConsentGiveSchema(Schema):
    purpose = fields.String(required=True, validate=fields.ma.validate.OneOf(tuple(consents.PURPOSES)))
    version = fields.String(required=True, validate=fields.ma.validate.Length(min=1, max=20),
                            metadata={"description": "the version of the text you were shown"})


class ConsentWithdrawSchema(Schema):
    purpose = fields.String(required=True, validate=fields.ma.validate.OneOf(tuple(consents.PURPOSES)))


class ConsentHistorySchema(Schema):
    version = fields.String(required=True)
    given_at = fields.DateTime(required=True)
    withdrawn_at = fields.DateTime(allow_none=True)


class ConsentSchema(Schema):
    purpose = fields.String(required=True)
    title_zh = fields.String(required=True)
    version = fields.String(required=True, metadata={"description": "the current version of the text"})
    text_zh = fields.String(required=True)
    given = fields.Boolean(required=True, metadata={"description": "consent to the current text is in effect"})
    given_at = fields.DateTime(allow_none=True)
    history = fields.List(fields.Nested(ConsentHistorySchema), required=True)


class ConsentListSchema(Schema):
    items = fields.List(fields.Nested(ConsentSchema), required=True)


@blp.route("/consents")
class Consents(MethodView):
    @require_resident
    @blp.response(200, ConsentListSchema)
    def get(self):
        """Optional processing you may consent to, whether you do, and your history."""
        return {"items": consents.describe(get_session(), current_principal().person_id)}

    @idempotent
    @require_resident
    @blp.arguments(ConsentGiveSchema)
    @blp.response(200, ConsentListSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="`consent_version_outdated`: not the current text")
    def post(self, args):
        """Give consent to a purpose's current text (in effect at once)."""
        principal = current_principal()
        session = get_session()
        consents.give(session, clock=current_clock(), person_id=principal.person_id,
                      account_id=principal.account_id, purpose=args["purpose"], version=args["version"])
        session.commit()
        return {"items": consents.describe(session, principal.person_id)}

    @require_resident
    @blp.arguments(ConsentWithdrawSchema, location="query")
    @blp.response(200, ConsentListSchema)
    def delete(self, args):
        """Withdraw a consent (in effect at once: later requests needing it are refused)."""
        principal = current_principal()
        session = get_session()
        consents.withdraw(session, clock=current_clock(), person_id=principal.person_id, purpose=args["purpose"])
        session.commit()
        return {"items": consents.describe(session, principal.person_id)}


privacy_blp = Blueprint("privacy", __name__, url_prefix="/api/v1/privacy",
                        description="How the platform treats personal data (public)")


class RetentionSchema(Schema):
    table = fields.String(required=True)
    kind_zh = fields.String(required=True)
    keep_days = fields.Float(allow_none=True, metadata={"description": "null: while the account lives"})
    basis_zh = fields.String(required=True)
    enforced_by = fields.String(required=True, metadata={"description": "the periodic job, or account_cancellation"})


class RetentionListSchema(Schema):
    items = fields.List(fields.Nested(RetentionSchema), required=True)


@privacy_blp.route("/retention")
class Retention(MethodView):
    @privacy_blp.response(200, RetentionListSchema)
    def get(self):
        """How long each kind of personal data is kept, and what enforces it (no login needed)."""
        return {"items": [k.describe() for k in retention.schedule()]}


def blueprints(settings: Settings) -> list[Blueprint]:
    return [blp, privacy_blp]
