"""WeChat's message push (消息推送) in plaintext JSON mode: signature and event handlers.

WeChat signs each push with ``signature = sha1(sorted([token, timestamp, nonce]) joined)``
in the query string (``WECHAT_CALLBACK_TOKEN`` is the token configured in the mini-program's
console). The body is NOT covered by that signature, so a captured (timestamp, nonce,
signature) could carry a forged body: pushes older than ``WECHAT_CALLBACK_MAX_AGE_SECONDS``
are refused, and handlers act only on what they are waiting for (a media verdict needs the
unguessable ``trace_id`` WeChat gave us). WeChat's secure mode (AES bodies) is not
implemented: configure the push as 明文模式, JSON.

Modules register handlers per event: ``@on_event("wxa_media_check")`` →
``handler(session, event, clock)``, run in the request's transaction.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock

EventHandler = Callable[[Session, dict[str, Any], Clock], None]
EVENT_HANDLERS: dict[str, EventHandler] = {}


def on_event(name: str) -> Callable[[EventHandler], EventHandler]:
    def register(func: EventHandler) -> EventHandler:
        EVENT_HANDLERS[name] = func
        return func

    return register


def expected_signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324 (WeChat's scheme)


def signature_valid(token: str, *, signature: str, timestamp: str, nonce: str, now: float,
                    max_age: int) -> bool:
    """The signature matches and the timestamp is within ``max_age`` seconds of ``now``."""
    if not token or not signature or not timestamp or not nonce or len(nonce) > 64:
        return False
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    if age > max_age:
        return False
    return hmac.compare_digest(expected_signature(token, timestamp, nonce), signature.lower())


def dispatch(session: Session, event: dict[str, Any], clock: Clock) -> bool:
    """Run the handler of the event (``MsgType`` event, ``Event`` name); False when none."""
    if event.get("MsgType") != "event":
        return False
    handler = EVENT_HANDLERS.get(str(event.get("Event")))
    if handler is None:
        return False
    handler(session, event, clock)
    return True
