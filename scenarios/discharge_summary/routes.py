"""discharge-summary's own endpoints (the follow-up tickets are the workflow engine's, under
the same prefix):

- ``POST /files`` (multipart ``file``): a hospital's clerk or doctor uploads the PDF (415 not a
  PDF, 413 over 10 MB, 422 ``pdf_invalid``).
- ``POST /summaries``: publish (with ``Idempotency-Key``); follow-ups become tickets.
- ``GET /summaries/<id>``: the patient, their carers, the hospital's staff (audited); else 404.
- ``GET /me/summaries``: the caller's own.
- ``GET /files/<id>/content?exp=&sig=``: the PDF through its signed URL, as an attachment.
"""
from __future__ import annotations

import os
from typing import Any

from flask import current_app, send_file
from flask.views import MethodView
from werkzeug.datastructures import FileStorage

from app.api import Blueprint, PageArgs, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.storage.urls import verify
from auth.principal import current_principal, require_auth, require_resident, require_staff
from auth.visibility import SIGNED_URL, loaded, open_object, register, visible_object
from scenarios.discharge_summary import files, pdf, service
from scenarios.discharge_summary.models import DsFile, DsSummary
from scenarios.discharge_summary.presenters import summary_view
from scenarios.discharge_summary.schemas import (
    DsContentArgsSchema,
    DsFileFormSchema,
    DsFileSchema,
    DsPublishSchema,
    DsSummarySchema,
)

SUBJECT = "ds_summary"

blp = Blueprint("discharge-summary", __name__, url_prefix="/api/v1/discharge-summary",
                description="电子出院小结: PDF and structured fields, read by the patient and their carers.")


@blp.route("/files")
class Files(MethodView):
    @require_staff
    @blp.arguments(DsFileFormSchema, location="files")
    @blp.response(201, DsFileSchema)
    def post(self, form):
        """Upload a summary's PDF (multipart, field `file`): checked by its magic bytes and a parse.
        415 not a PDF, 413 over 10 MB, 422 `pdf_invalid` (corrupt, encrypted, no pages)."""
        storage: FileStorage = form["file"]
        data = storage.stream.read(pdf.MAX_BYTES + 1)
        session = get_session()
        row = service.upload_pdf(session, clock=current_clock(), principal=current_principal(), data=data,
                                 upload_dir=current_app.extensions["settings"].upload_dir)
        session.commit()
        return row


@blp.route("/summaries")
class Summaries(MethodView):
    @idempotent
    @require_staff
    @blp.arguments(DsPublishSchema)
    @blp.response(201, DsSummarySchema)
    def post(self, args):
        """Publish a discharge summary (clerks and doctors of a hospital or health centre): the patient
        by ID number (`patient_unknown`), a PDF of yours (`file_id`), diagnosis, advice, medicines and
        follow-ups (each a ticket of the follow-up team, due at `due_at`: `follow_up_in_past`)."""
        session, clock = get_session(), current_clock()
        summary = service.publish(session, clock=clock, principal=current_principal(), data=args)
        answer = summary_view(session, summary, clock=clock)
        session.commit()
        return answer


@blp.route("/summaries/<int:summary_id>")
class Summary(MethodView):
    @visible_object(SUBJECT, "summary_id")
    @require_auth
    @blp.response(200, DsSummarySchema)
    def get(self, summary_id: int):
        """One summary: the patient and those who may act for them (`book_medical`); staff of the
        publishing hospital (each read audited; roles without clinical need: 403). Anyone else: 404."""
        session, clock = get_session(), current_clock()
        summary = service.read(session, clock=clock, principal=current_principal(), summary=loaded(SUBJECT))
        answer = summary_view(session, summary, clock=clock)
        session.commit()
        return answer


@blp.route("/me/summaries")
class MySummaries(MethodView):
    @require_resident
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(DsSummarySchema))
    def get(self, args):
        """Your own discharge summaries, newest first."""
        session, clock = get_session(), current_clock()
        page = paginate(session, service.mine(current_principal()), args)
        page["items"] = [summary_view(session, s, clock=clock) for s in page["items"]]
        return page


@blp.route("/files/<string:public_id>/content")
class FileContent(MethodView):
    @open_object("ds_file_content", SIGNED_URL)
    @blp.arguments(DsContentArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, description="The PDF, as an attachment")
    def get(self, public_id: str, exp: int, sig: str):
        """A summary's PDF through its signed URL (no Authorization header): always
        `Content-Disposition: attachment`, `application/pdf`, `nosniff`, no inline rendering."""
        remaining = verify(public_id, files.VARIANT, exp, sig, clock=current_clock())
        session = get_session()
        row = session.query(DsFile).filter_by(public_id=public_id).one_or_none()
        path = files.path_of(current_app.extensions["settings"].upload_dir, row) if row else None
        if row is None or not os.path.isfile(path):
            raise ApiError("not_found")
        resp = send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=f"discharge-summary-{public_id[:8]}.pdf", conditional=True, etag=row.sha256)
        resp.headers["Cache-Control"] = f"private, max-age={remaining}"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        resp.headers.pop("Expires", None)
        return resp


def _summary(session, key: Any) -> DsSummary | None:
    return session.get(DsSummary, key) if isinstance(key, int) and 0 < key < 2**63 else None


def blueprints() -> list[Blueprint]:
    register(SUBJECT, load=_summary, visible=service.sees,
             description="a discharge summary (its patient, those who may act for them, the publishing hospital)")
    return [blp]
