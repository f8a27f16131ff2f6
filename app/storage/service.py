"""Store cleaned images, look uploads up, and let tickets claim a reporter's own photos."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.storage import files, quota
from app.storage.images import EXTENSIONS, clean_image
from app.storage.models import Upload
from app.storage.urls import DEFAULT_TTL, signed_url

MAX_PHOTOS = 9

__all__ = [
    "MAX_PHOTOS", "claim_photos", "describe", "file_path", "find_upload", "get_owned_upload",
    "signed_url", "store_image",
]


def new_public_id() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, 128 random bits


def store_image(
    session: Session,
    *,
    data: bytes,
    owner_account_id: int,
    clock: Clock,
    upload_dir: str | os.PathLike[str],
    daily_quota: int | None = None,
) -> Upload:
    """Validate, clean and store an image for ``owner_account_id``; flush (the caller commits).

    Raises ``ApiError``: 413 ``payload_too_large`` over 10 MB, 415 ``unsupported_media_type``
    when not a JPEG, PNG or WebP, 422 ``image_invalid`` when corrupt, truncated or over 40 MP,
    429 ``upload_quota_exceeded`` when ``daily_quota`` uploads were made today (the slot is
    taken once the image is known good, before its files are written, in the caller's
    transaction: a rollback gives it back).
    The files are written before the row: a rolled-back transaction leaves an unreferenced
    file (harmless, content-addressed), never a row without its file.
    """
    clean = clean_image(data)
    if daily_quota is not None:
        quota.take_slot(session, account_id=owner_account_id, clock=clock, quota=daily_quota)
    sha = files.put(upload_dir, clean.full.data, clean.full.ext)
    thumb_sha = files.put(upload_dir, clean.thumb.data, clean.thumb.ext)
    upload = Upload(
        public_id=new_public_id(),
        owner_account_id=owner_account_id,
        sha256=sha,
        content_type=clean.full.content_type,
        width=clean.full.width,
        height=clean.full.height,
        bytes=len(clean.full.data),
        thumb_sha256=thumb_sha,
        thumb_content_type=clean.thumb.content_type,
        created_at=clock.now(),
    )
    session.add(upload)
    session.flush()
    return upload


def find_upload(session: Session, public_id: str) -> Upload | None:
    return session.scalar(sa.select(Upload).where(Upload.public_id == public_id))


def get_owned_upload(session: Session, *, public_id: str, owner_account_id: int) -> Upload:
    """The caller's own upload; anyone else's is 404, like one that does not exist."""
    upload = find_upload(session, public_id)
    if upload is None or upload.owner_account_id != owner_account_id:
        raise ApiError("not_found")
    return upload


def file_path(upload: Upload, variant: str, upload_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """(path on disk, content type) of an upload's ``full`` or ``thumb`` variant."""
    if variant == "thumb":
        sha, content_type = upload.thumb_sha256, upload.thumb_content_type
    else:
        sha, content_type = upload.sha256, upload.content_type
    return str(files.path_for(upload_dir, sha, EXTENSIONS[content_type])), content_type


def describe(upload: Upload, *, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> dict[str, Any]:
    """An upload as clients see it, with fresh signed URLs (only for viewers who may see it)."""
    return {
        "id": upload.public_id,
        "content_type": upload.content_type,
        "width": upload.width,
        "height": upload.height,
        "bytes": upload.bytes,
        "url": signed_url(upload, "full", clock=clock, ttl=ttl),
        "thumb_url": signed_url(upload, "thumb", clock=clock, ttl=ttl),
    }


def claim_photos(
    session: Session, *, public_ids: list[str], owner_account_id: int, max_count: int = MAX_PHOTOS
) -> list[Upload]:
    """The uploads a ticket (or a comment) attaches, in the order given.

    Refused with 422 ``validation_error`` on ``photos``: more than ``max_count``, the same
    photo twice, or an id that is unknown or not the owner's own upload (the two look the
    same, so nobody learns which ids exist).
    """
    if len(public_ids) > max_count:
        raise ApiError("validation_error", errors={"photos": [f"最多上传 {max_count} 张照片。"]})
    if len(set(public_ids)) != len(public_ids):
        raise ApiError("validation_error", errors={"photos": ["同一张照片不能重复添加。"]})
    if not public_ids:
        return []
    rows = session.scalars(sa.select(Upload).where(
        Upload.public_id.in_(public_ids), Upload.owner_account_id == owner_account_id,
    )).all()
    by_id = {u.public_id: u for u in rows}
    missing = [pid for pid in public_ids if pid not in by_id]
    if missing:
        raise ApiError("validation_error", errors={"photos": ["只能添加您本人上传的照片（照片不存在或不属于您）。"]})
    return [by_id[pid] for pid in public_ids]
