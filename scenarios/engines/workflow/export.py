"""A list of tickets as a file, for a manager's spreadsheet: CSV (UTF-8 with a BOM, so Excel
reads the Chinese) or XLSX (``openpyxl``, written row by row).

The columns a manager expects (``COLUMNS``) and no personal data of residents: no names, no
phones, not even the ticket's text (residents write their phone numbers into it). Times are
Beijing's. Every ticket the filters select, in the list's order, up to ``MAX_ROWS`` (more is a
422 ``export_too_large``, decided from one query of ``MAX_ROWS + 1`` summary rows).

A cell never runs as a formula: in CSV a text starting with ``= + - @`` (or a tab or carriage
return) gets a leading ``'``; in XLSX every text is written as text.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.fields import CST
from auth.contacts import StaffContact
from auth.models import Account
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.presenters import summaries, summary_rows

MAX_ROWS = 10_000

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("number", "工单号", 22), ("status", "状态", 10), ("category", "类别", 10), ("priority", "优先级", 8),
    ("community", "小区", 20), ("building", "楼栋", 8), ("room", "房号", 8), ("created_at", "报修时间", 17),
    ("due_at", "截止时间", 17), ("overdue", "是否超时", 8), ("assignee", "处理人", 12),
    ("escalation_level", "督办级别", 8), ("appointment_at", "预约上门时间", 17),
)
"""(what, its header, its width in an XLSX sheet), in the file's order."""

STATUS_TITLES = {
    "submitted": "待受理", "acknowledged": "已受理", "assigned": "已派单", "in_progress": "处理中",
    "awaiting_reporter": "待补充信息", "resolved": "已处理", "closed": "已办结", "reopened": "重新打开",
    "rejected": "不予受理", "duplicate": "重复工单",
}
PRIORITY_TITLES = {"low": "低", "normal": "普通", "high": "高", "urgent": "紧急"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows(session: Session, stmt: sa.Select, *, now: datetime, limit: int | None = None) -> list[list[Any]]:
    """The file's rows (without the header) for a list's query; 422 beyond ``limit`` (``MAX_ROWS``)."""
    limit = MAX_ROWS if limit is None else limit
    found = session.execute(summary_rows(stmt).limit(limit + 1)).all()
    if len(found) > limit:
        raise ApiError("export_too_large", detail={"limit": limit},
                       message=f"最多导出 {limit} 条工单，请缩小筛选范围（如按状态、类别、小区或时间）。")
    items = summaries(session, found, now=now)
    names = _assignee_names(session, {i["assignee_account_id"] for i in items})
    out = []
    for i in items:
        place = i["location"]
        out.append([
            i["number"], STATUS_TITLES.get(i["status"], i["status"]), i["category"],
            PRIORITY_TITLES.get(i["priority"], i["priority"]),
            place["community_name"] or place["village_name"] or place["address"], place["building"], place["room"],
            _local(i["created_at"]), _local(i["due_at"]), "是" if i["overdue"] else "否",
            names.get(i["assignee_account_id"]), i["escalation_level"], _local(i["appointment_at"]),
        ])
    return out


def _assignee_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """Staff names (the name residents see, else the user name), in one query."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    found = session.execute(
        sa.select(Account.id, StaffContact.display_name, Account.username)
        .outerjoin(StaffContact, StaffContact.account_id == Account.id).where(Account.id.in_(ids)))
    return {account_id: display or username or str(account_id) for account_id, display, username in found}


def _local(value: datetime | None) -> datetime | None:
    """Beijing time without an offset (spreadsheets have no time zones)."""
    return value.astimezone(CST).replace(tzinfo=None, microsecond=0) if value is not None else None


def header() -> list[str]:
    return [title for _, title, _ in COLUMNS]


def to_csv(table: Sequence[Sequence[Any]], *, columns: Sequence[tuple[str, int]] | None = None) -> bytes:
    """The rows under the queue's header, or under ``columns`` ((header, XLSX width) each)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for title, _ in columns] if columns else header())
    for row in table:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_xlsx(table: Sequence[Sequence[Any]], *, title: str, columns: Sequence[tuple[str, int]] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(title))
    sheet.freeze_panes = "A2"
    columns = columns or [(title, width) for _, title, width in COLUMNS]
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width

    def cell(value: Any) -> Any:
        c = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # text, never a formula
        elif isinstance(value, datetime):
            c.number_format = "yyyy-mm-dd hh:mm"
        return c

    sheet.append([cell(title) for title, _ in columns])
    for row in table:
        sheet.append([cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join(c for c in title if c not in "[]:*?/\\").strip()
    return cleaned[:31] or "工单"


def write(fmt: str, table: Sequence[Sequence[Any]], *, config: WorkflowConfig) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(table, title=config.title_zh)
    if fmt == "csv":
        return to_csv(table)
    raise ApiError("validation_error", errors={"format": [f"可选：{', '.join(CONTENT_TYPES)}。"]})


def filename(config: WorkflowConfig, fmt: str, now: datetime, name: str = "queue") -> str:
    """``<slug>-<name>-<Beijing time>.<format>``: ASCII, safe in a header."""
    return f"{config.slug}-{name}-{now.astimezone(CST):%Y%m%d-%H%M}.{fmt}"
