"""Imports every model module so ``metadata`` is complete (Alembic and tests use it)."""
from __future__ import annotations

from app.db import Base

metadata = Base.metadata

# Each module below registers its tables on Base.metadata when imported.
MODEL_MODULES = (
    "app.idempotency",
    "auth.organisations",
    "app.places.models",
    "auth.models",
    "app.timers", "app.periodic", "app.worker",  # timers and the worker
    "app.notify.models", "app.notify.service",  # the outbox (service registers its timer handler)
    "app.storage.models",
    "qr.models", "qr.jobs",  # signed QR codes (jobs: the periodic purge and identity events)
    "app.wechat.models", "app.wechat.channel", "app.sms.models", "app.sms.channel",  # WeChat and SMS channels
    "app.moderation.models", "app.moderation.service",  # moderation (service handles WeChat media verdicts)
    "app.notify.erasure",  # account cancellation for grants, SMS records and moderation items
    "scenarios.engines.workflow.models", "scenarios.engines.workflow.escalation",  # workflow engine
    "scenarios.place_checkin.models",
    "scenarios.engines.workflow.routing",  # its moderation_decided receiver
    "scenarios.road_report.models",  # road-report: roads and road notices
)


def load_all() -> None:
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)


load_all()
