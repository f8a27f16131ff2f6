"""gunicorn reads this file from the working directory (``gunicorn wsgi:app`` from the repository
root): errors gunicorn answers itself (an over-long URL or header) come back as our JSON."""
worker_class = "app.gunicorn_worker.JsonErrorsWorker"
