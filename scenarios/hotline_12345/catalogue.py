"""The hotline's catalogue as data: categories, the department in charge of each, and the
response time limits per category and urgency (as the city sets them).

``contact``: minutes to contact the caller (the department's first response); ``resolve``:
minutes to resolve. ``business`` limits count working time (09:00–17:00, holidays and
make-up working days 调休; one working day is 480 minutes); urgent ones run round the clock
(a gas smell or a burst main does not wait for Monday). They are the first rows of
``wf_sla_policies`` under the key ``<category>/<urgency>`` and may be changed there.
"""
from __future__ import annotations

from scenarios.engines.workflow.config import SlaDefault

HOTLINE_OFFICE = "310116-hotline"  # 金山区12345市民服务热线
TOWN = "town"  # the town whose centre is nearest the point

URGENCIES = ("normal", "urgent")
WORKING_DAY = 8 * 60

# category → the department in charge: an organisation code, TOWN, or None (the office routes it)
DEPARTMENTS: dict[str, str | None] = {
    "供水排水": "310116-bureau-water",  # 区水务局
    "市容环境": "310116-bureau-greening",  # 区绿化市容局
    "交通出行": "310116-bureau-transport",  # 区交通委
    "环境污染": "310116-bureau-ecology",  # 区生态环境局
    "市场消费": "310116-bureau-market",  # 区市场监管局
    "住房物业": "310116-bureau-housing",  # 区房管局
    "社区治理": TOWN,
    "其他": None,
}
CATEGORIES = tuple(DEPARTMENTS)

NORMAL = SlaDefault(response_minutes=WORKING_DAY, resolution_minutes=5 * WORKING_DAY, calendar="business")
URGENT = SlaDefault(response_minutes=120, resolution_minutes=24 * 60, calendar="24x7")

LIMITS: dict[str, SlaDefault] = {
    **{f"{c}/normal": NORMAL for c in CATEGORIES},
    **{f"{c}/urgent": URGENT for c in CATEGORIES},
}


def sla_key(category: str, data: dict) -> str:
    return f"{category}/{data.get('priority') or 'normal'}"
