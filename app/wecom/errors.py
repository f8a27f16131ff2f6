"""What the WeCom client raises."""
from __future__ import annotations


class WecomUnavailable(Exception):
    """No answer worth acting on now (timeout, -1, 5xx, circuit open, no token): retry later.

    The message is a short reason without personal data or credentials.
    """
