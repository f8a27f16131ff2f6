"""The dispatch engine's HTTP actions on one job as data: ``POST /<jobs>/<id>/<path>``, one row
per action, served by one generic view (routes.py). The engine's own rows (accept, decline,
cancel) come first, then one row per stage of the scenario (``config.stages``): path, body
schema, service, who may call it, summary. A service takes the schema's fields as keyword
arguments and returns the job."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from scenarios.engines.dispatch import service as svc
from scenarios.engines.dispatch.config import DispatchConfig
from scenarios.engines.dispatch.schemas import DispatchEmptySchema, DispatchReasonSchema

AGENT, REQUESTER, EITHER = "agent", "requester", "either"
"""Who may call an endpoint at all (staff, residents, both); the service decides on the job."""


@dataclass(frozen=True)
class Action:
    path: str
    endpoint: str
    schema: type
    service: Callable[..., Any]
    callers: str
    summary: str


ENGINE_ACTIONS: tuple[Action, ...] = (
    Action("accept", "accept", DispatchEmptySchema, svc.accept, AGENT,
           "Take the job you were offered. Of agents accepting at once one wins; the others get 409 "
           "`already_taken`. `offer_expired` after the offer's time, `agent_off_duty` off duty, `agent_busy` "
           "while serving another job."),
    Action("decline", "decline", DispatchEmptySchema, svc.decline, AGENT,
           "Decline the job you were offered: the next agent is offered it at once."),
    Action("cancel", "cancel", DispatchReasonSchema, svc.cancel, EITHER,
           "Cancel with a reason: the requester before the trip starts, the serving agent after accepting. "
           "The other side is told."),
)


def actions(config: DispatchConfig) -> tuple[Action, ...]:
    """The engine's rows, then one per stage of the scenario."""
    stages = tuple(
        Action(stage.action, stage.action.replace("-", "_"), stage.schema or DispatchEmptySchema,
               partial(svc.advance, stage=stage), AGENT, stage.summary)
        for stage in config.stages)
    return ENGINE_ACTIONS + stages
