"""A PDF upload is a PDF: it starts with ``%PDF-`` and pypdf reads it (pages counted), it is
at most ``MAX_BYTES``; it is stored once under its hash (``app.storage.files``). Not a PDF is
415 ``unsupported_media_type``; a PDF that does not parse (or is encrypted) is 422
``pdf_invalid``; too large 413. A PDF with JavaScript or embedded files is kept (hospital
systems write them) but only ever served as an attachment, never inline."""
from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from app.errors import ApiError

MAX_BYTES = 10 * 1024 * 1024
MAGIC = b"%PDF-"

logging.getLogger("pypdf").setLevel(logging.ERROR)


def checked(data: bytes) -> int:
    """The page count of ``data`` once it is known to be a readable PDF; else the 4xx."""
    if len(data) > MAX_BYTES:
        raise ApiError("payload_too_large")
    if not data.startswith(MAGIC):
        raise ApiError("unsupported_media_type", errors={"file": ["请上传 PDF 文件。"]})
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ApiError("pdf_invalid", errors={"file": ["PDF 已加密，无法读取。"]})
        pages = len(reader.pages)
        for page in reader.pages[:50]:
            page.mediabox  # noqa: B018 (parsing each page object is the check)
    except ApiError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            OSError) as exc:
        raise ApiError("pdf_invalid", errors={"file": ["PDF 文件已损坏，无法读取。"]}) from exc
    if pages < 1:
        raise ApiError("pdf_invalid", errors={"file": ["PDF 文件没有页面。"]})
    return pages
