"""Actions on one object, as data: ``POST <collection>/<id>/<path>`` routes from rows.

An engine or scenario lists its actions (``Action``: the path, the body's schema, the service,
the summary the spec shows, the 409 codes it documents) and mounts each with ``mount``: one
generic view per row, its guards (visibility, idempotency, who may call) and documentation as
the caller gives them, innermost first. The listing and approval engines, elderly-sos's alarms,
rural-rental's requests, parcel lockers and ev-charging's sessions use it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flask.views import MethodView


@dataclass(frozen=True)
class Action:
    path: str
    schema: type
    service: Callable[..., Any]
    summary: str
    errors: str = ""
    """The 409 codes the route may answer, for the spec (``` `listing_state_changed` ```)."""


class Mountable(Protocol):
    """What ``mount`` reads of a row: its summary (a scenario may keep rows of its own shape,
    as ev-charging's with a status and errors by status)."""

    summary: str


def mount(blp: Any, action: Mountable, *, rule: str, endpoint: str, view_name: str,
          run: Callable[..., Any], wraps: Sequence[Callable[[Callable], Callable]]) -> None:
    """Register ``action`` at ``rule``: ``run(action, args, **url_values)`` does the work and
    returns the answer; ``wraps`` decorate the view, innermost first (``blp.arguments``,
    ``blp.response``, the guards)."""
    def post(self: Any, args: dict[str, Any], **url_values: Any) -> Any:
        return run(action, args, **url_values)

    post.__doc__ = action.summary
    view: Callable = post
    for wrap in wraps:
        view = wrap(view)
    blp.route(rule, endpoint=endpoint)(type(view_name, (MethodView,), {"post": view}))
