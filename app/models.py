"""The platform's own model and job modules, and ``metadata``.

Importing this module loads only the platform's modules (``app``, ``auth``, ``qr``). The
engines' and scenarios' modules are named by the registry and loaded by the application
factory (``app.load_modules``), which Alembic's environment and every process call before
they need the whole ``metadata``.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable

from app.db import Base

metadata = Base.metadata

# Each module registers its tables on Base.metadata, its timer handlers, periodic jobs or
# signal receivers when imported.
PLATFORM_MODULES = (
    "app.idempotency",
    "auth.organisations",
    "app.places.models",
    "app.calendar",  # the holiday and make-up working day calendar (调休)
    "auth.models",
    "auth.known_addresses",  # addresses staff signed in from (sign-in throttling spares them)
    "auth.contacts",  # staff contact points and SMS verification codes
    "auth.password_reset",  # its timer handler (the worker sends reset codes)
    "app.timers", "app.periodic", "app.worker",  # timers and the worker
    "app.chains",  # versions of escalation chains, set by district administrators
    "app.notify.models", "app.notify.service",  # the outbox (service registers its timer handler)
    "app.storage.models", "app.storage.quota",  # uploads and their daily quota (with its purge)
    "qr.models", "qr.jobs",  # signed QR codes (jobs: the periodic purge and identity events)
    "app.wechat.models", "app.wechat.channel", "app.sms.models", "app.sms.channel",  # WeChat and SMS channels
    "app.wecom.channel",  # WeCom application messages to staff (its token shares wechat_access_tokens)
    "app.moderation.models", "app.moderation.service",  # moderation (service handles WeChat media verdicts)
    "app.notify.erasure",  # account cancellation for grants, SMS records and moderation items
    "app.privacy.platform", "app.privacy.models", "app.privacy.exports",
    "app.privacy.consents",  # PIPL: copies of a person's data, consents
)


def load(names: Iterable[str]) -> None:
    for name in names:
        importlib.import_module(name)


load(PLATFORM_MODULES)
