"""Delivery channels. A channel answers for one message: sent, retry later, or give up.

The log channel is the default: it writes one line (no personal data: template, event and
recipient ids only) and counts as sent. WeChat subscription messages and SMS plug in here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from app.notify.models import OutboxMessage

log = logging.getLogger("app.notify")


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | retry | failed | no_grant | skipped
    detail: str = ""


class Channel(Protocol):
    name: str

    def deliver(self, message: OutboxMessage) -> Outcome: ...


class LogChannel:
    name = "log"

    def deliver(self, message: OutboxMessage) -> Outcome:
        log.info("notification", extra={
            "template": message.template, "event_key": message.event_key,
            "recipient": f"{message.recipient_kind}:{message.recipient_id}", "outbox_id": message.id,
        })
        return Outcome("sent")


CHANNELS: dict[str, Channel] = {"log": LogChannel()}


def register_channel(channel: Channel) -> None:
    CHANNELS[channel.name] = channel
