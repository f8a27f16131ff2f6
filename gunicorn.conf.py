"""gunicorn's settings file (``make run`` passes it with ``--config``; gunicorn also reads it by
itself when started from the repository root, as ``gunicorn wsgi:app`` is).

- Errors gunicorn answers itself (an over-long URL or header, an unparsable request) come back
  as our JSON error body with a request id: the sync worker's error writer is ours.
- Answers name no server software: gunicorn's ``Server`` header (``gunicorn``, no version since
  20.1) becomes ``jinshan``. gunicorn offers no setting for it; the header is taken from
  ``gunicorn.http.wsgi.SERVER``, which this file sets in the master before any worker forks.
"""
import gunicorn
import gunicorn.http.wsgi

worker_class = "app.gunicorn_worker.JsonErrorsWorker"

SERVER_NAME = "jinshan"

gunicorn.SERVER = SERVER_NAME
gunicorn.http.wsgi.SERVER = SERVER_NAME
