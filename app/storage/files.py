"""The content-addressed file store under ``UPLOAD_DIR``: ``ab/cd/<sha256>.<ext>``.

Files are written to a temporary file in the target directory and renamed into place, so a
reader never sees half a file and two writers of the same content both end with the same
bytes. Equal content is stored once.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^[a-z0-9]{1,8}$")


def path_for(upload_dir: str | os.PathLike[str], sha256: str, ext: str) -> Path:
    """Where the file with this hash lives (it may not exist)."""
    if not _SHA256.match(sha256) or not _EXT.match(ext):
        raise ValueError("not a sha256 hex digest or a plain extension")
    return Path(upload_dir) / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"


def put(upload_dir: str | os.PathLike[str], data: bytes, ext: str) -> str:
    """Store ``data`` under its SHA-256 unless already there; return the hex digest."""
    digest = hashlib.sha256(data).hexdigest()
    target = path_for(upload_dir, digest, ext)
    if target.is_file() and target.stat().st_size == len(data):
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest
