"""HTTP API of uploads: ``POST /api/v1/uploads``, the owner's view, and signed content URLs."""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from flask import current_app, send_file
from flask.views import MethodView
from werkzeug.datastructures import FileStorage

from app.api import Blueprint, Schema, fields
from app.api import ErrorSchema as _ErrorSchema
from app.db import get_session
from app.errors import ApiError
from app.storage import service
from app.storage.images import MAX_BYTES
from app.storage.models import CONTENT_TYPES
from app.storage.quota import daily_quota
from app.storage.urls import URL_PREFIX, VARIANTS, verify
from auth.principal import Principal, check
from auth.visibility import SIGNED_URL, open_object, register, visible_object

log = logging.getLogger(__name__)

UPLOADER_KINDS = ("resident", "staff")


def current_account_id(kinds: Iterable[str] = UPLOADER_KINDS) -> int:
    """The calling account: 401 without one, 403 when its kind may not upload (devices)."""
    return check(tuple(kinds)).account_id


def _own_upload(session, principal: Principal, upload) -> bool:
    """An upload is seen (through this API) by the account that uploaded it; others see a
    photo only through the signed URLs of what they may see (a ticket)."""
    return principal.kind in UPLOADER_KINDS and principal.account_id == upload.owner_account_id


class UploadFormSchema(Schema):
    file = fields.Raw(
        required=True,
        error_messages={"required": "请选择要上传的图片（表单字段 file）。"},
        metadata={"type": "string", "format": "binary",
                  "description": "JPEG, PNG or WebP; at most 10 MB and 40 megapixels."},
    )


class UploadSchema(Schema):
    id = fields.String(required=True, metadata={"description": "public id, for `photos` of a ticket"})
    content_type = fields.String(required=True, metadata={"example": "image/jpeg"})
    width = fields.Integer(required=True, metadata={"description": "pixels, after EXIF orientation"})
    height = fields.Integer(required=True)
    bytes = fields.Integer(required=True, metadata={"description": "size of the stored (cleaned) file"})
    url = fields.String(required=True, metadata={"description": "signed URL of the image, valid 10–15 min"})
    thumb_url = fields.String(required=True, metadata={"description": "signed URL of a ≤320 px JPEG thumbnail"})


class ContentArgsSchema(Schema):
    variant = fields.String(load_default="full", validate=fields.ma.validate.OneOf(VARIANTS))
    exp = fields.Integer(required=True, strict=False, metadata={"description": "expiry, Unix seconds"})
    sig = fields.String(required=True, validate=fields.ma.validate.Length(max=128))


def blueprints(settings) -> list[Blueprint]:
    register("upload", load=service.find_upload, visible=_own_upload, description="a photo, to its uploader")
    blp = Blueprint(
        "uploads", __name__, url_prefix=URL_PREFIX,
        description="Photo uploads. Metadata (EXIF, GPS) is stripped; content is served "
                    "through signed, expiring URLs, since the mini-program's <image> sends no "
                    "Authorization header.",
    )

    @blp.route("")
    class Uploads(MethodView):
        @blp.arguments(UploadFormSchema, location="files")
        @blp.response(201, UploadSchema)
        @blp.alt_response(401, schema=_ErrorSchema, description="Not logged in")
        @blp.alt_response(403, schema=_ErrorSchema, description="A device may not upload")
        @blp.alt_response(413, schema=_ErrorSchema, description="`payload_too_large`: over 10 MB")
        @blp.alt_response(415, schema=_ErrorSchema,
                          description="`unsupported_media_type`: not a JPEG, PNG or WebP image")
        @blp.alt_response(422, schema=_ErrorSchema,
                          description="`image_invalid`: corrupt, truncated or over 40 megapixels; "
                                      "`validation_error`: no `file` field")
        @blp.alt_response(429, schema=_ErrorSchema,
                          description="`upload_quota_exceeded`: `UPLOAD_DAILY_QUOTA` uploads today "
                                      "(Beijing); `Retry-After` until midnight")
        def post(self, form):
            """Upload a photo (multipart/form-data, field `file`) as a resident or staff member.

            The type is decided by decoding the image, not by its name or declared type. EXIF
            orientation is applied and all metadata removed. Attach the returned `id` to a
            ticket's `photos` (up to 9, only your own uploads).
            """
            account_id = current_account_id()
            storage: FileStorage = form["file"]
            data = storage.stream.read(MAX_BYTES + 1)
            session = get_session()
            upload = service.store_image(
                session, data=data, owner_account_id=account_id,
                clock=current_app.extensions["clock"],
                upload_dir=current_app.extensions["settings"].upload_dir,
                daily_quota=daily_quota(current_app.extensions["settings"]),
            )
            session.commit()
            return service.describe(upload, clock=current_app.extensions["clock"])

    @blp.route("/<string:public_id>")
    class UploadItem(MethodView):
        @visible_object("upload", "public_id")
        @blp.response(200, UploadSchema)
        @blp.alt_response(404, schema=_ErrorSchema, description="Unknown, or not your upload")
        def get(self, public_id: str):
            """One of your own uploads, with fresh signed URLs."""
            account_id = current_account_id()
            upload = service.get_owned_upload(get_session(), public_id=public_id, owner_account_id=account_id)
            return service.describe(upload, clock=current_app.extensions["clock"])

    @blp.route("/<string:public_id>/content")
    class UploadContent(MethodView):
        @open_object("upload_content", SIGNED_URL)
        @blp.arguments(ContentArgsSchema, location="query", as_kwargs=True)
        @blp.response(200, description="The image bytes")
        @blp.doc(responses={"200": {
            "description": "The image bytes (image/jpeg, image/png or image/webp)",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in CONTENT_TYPES},
            "headers": {"Cache-Control": {"schema": {"type": "string"},
                                          "description": "private, max-age=<seconds until exp>"}},
        }})
        @blp.alt_response(403, schema=_ErrorSchema,
                          description="`forbidden`: wrong signature; `url_expired`: past `exp`")
        @blp.alt_response(404, schema=_ErrorSchema, description="Unknown upload")
        def get(self, public_id: str, variant: str, exp: int, sig: str):
            """The content of an upload through a signed URL (no Authorization header needed)."""
            clock = current_app.extensions["clock"]
            remaining = verify(public_id, variant, exp, sig, clock=clock)
            upload = service.find_upload(get_session(), public_id)
            if upload is None:
                raise ApiError("not_found")
            path, content_type = service.file_path(
                upload, variant, current_app.extensions["settings"].upload_dir)
            if not os.path.isfile(path):
                log.error("upload %s has no %s file on disk", upload.public_id, variant)
                raise ApiError("not_found")
            resp = send_file(path, mimetype=content_type, conditional=True,
                             etag=upload.thumb_sha256 if variant == "thumb" else upload.sha256)
            resp.headers["Cache-Control"] = f"private, max-age={remaining}"
            resp.headers.pop("Expires", None)
            resp.headers["X-Content-Type-Options"] = "nosniff"
            return resp

    return [blp]
