"""The dispatch engine's part of a person's export: the jobs they requested (a taxi ride: its
origin and private destination) and, for an agent (a driver), their agent records and the
position history still kept (7 days, retention.py). The serving agent is not named."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import ON_CANCELLATION, Keep
from scenarios.engines.dispatch.models import DispatchAgent, DispatchJob, DispatchPosition


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    agents = list(session.scalars(sa.select(DispatchAgent).where(DispatchAgent.account_id.in_(subject.account_ids))
                                  .order_by(DispatchAgent.id)))
    return {
        "dispatch_jobs": [plain(j, exclude=("requester_account_id", "agent_id")) for j in session.scalars(
            sa.select(DispatchJob).where(sa.or_(DispatchJob.requester_account_id.in_(subject.account_ids),
                                                DispatchJob.requester_person_id == subject.person_id))
            .order_by(DispatchJob.id))],
        "dispatch_agents": [plain(a, exclude=("job_id",)) for a in agents],
        "dispatch_positions": [plain(p) for p in session.scalars(
            sa.select(DispatchPosition).where(DispatchPosition.agent_id.in_([a.id for a in agents]))
            .order_by(DispatchPosition.at))],
    }


PERSONAL_DATA = PersonalData(
    name="dispatch",
    tables=("dispatch_jobs", "dispatch_agents", "dispatch_positions"),
    sections=(Section("dispatch_jobs", "叫车、呼叫记录"), Section("dispatch_agents", "服务人员（司机）登记"),
              Section("dispatch_positions", "服务人员位置记录")),
    collect=_collect,
    retention=(Keep("dispatch_jobs", "叫车记录（上车点、目的地）", None, ON_CANCELLATION + "（目的地删除，行程匿名）；"
                    "服务地点加密保存，行程结束满7天删除", job="purge_dispatch_positions"),
               Keep("dispatch_agents", "服务人员登记", None, "服务期间"),
               Keep("dispatch_positions", "服务人员位置", timedelta(days=7), "7天（各场景可设）",
                    job="purge_dispatch_positions")),
)
