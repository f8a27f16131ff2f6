"""Photo uploads: cleaned, content-addressed files served through signed, expiring URLs.

- ``images``: decode untrusted bytes, apply the EXIF orientation, drop every piece of metadata;
- ``files``: the content-addressed store under ``UPLOAD_DIR`` (``ab/cd/<sha256>.<ext>``);
- ``urls``: signed URLs (the mini-program's ``<image>`` sends no Authorization header);
- ``service``: ``store_image``, ``claim_photos`` and look-ups; ``routes``: the HTTP API.
"""
