"""gunicorn's settings file (``make run`` passes it with ``--config``; gunicorn also reads it by
itself when started from the repository root, as ``gunicorn wsgi:app`` is).

- ``WEB_THREADS`` (default 1): threads per worker process. 1 is gunicorn's sync worker (one
  request at a time per process); more is its ``gthread`` worker, each process serving that many
  requests at once (a request waiting on PostgreSQL or Redis leaves the CPU to another). Either
  way ours (``app/gunicorn_worker.py``). Not ``--threads``: gunicorn switches worker class on it
  only for its own ``sync``.
- Errors gunicorn answers itself (an over-long URL or header, an unparsable request) come back
  as our JSON error body with a request id: the sync worker's error writer is ours.
- Answers name no server software: gunicorn's ``Server`` header (``gunicorn``, no version since
  20.1) becomes ``jinshan``. gunicorn offers no setting for it; the header is taken from
  ``gunicorn.http.wsgi.SERVER``, which this file sets in the master before any worker forks.
"""
import os

import gunicorn
import gunicorn.http.wsgi


def _threads() -> int:
    raw = os.environ.get("WEB_THREADS", "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise SystemExit(f"WEB_THREADS must be a whole number from 1 to 64, not {raw!r}")
    return int(raw)


threads = _threads()
worker_class = ("app.gunicorn_worker.JsonErrorsThreadWorker" if threads > 1
                else "app.gunicorn_worker.JsonErrorsWorker")

SERVER_NAME = "jinshan"

gunicorn.SERVER = SERVER_NAME
gunicorn.http.wsgi.SERVER = SERVER_NAME
