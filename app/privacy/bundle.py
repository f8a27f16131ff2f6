"""The export file: a zip of ``data.json`` (machine-readable, schema ``SCHEMA``) and
``index.html`` (the same data as a readable page in Chinese). Written to ``<path>.part`` and
renamed over ``path``, so a build interrupted by a crash leaves no second file and a rebuild
replaces the first."""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from datetime import datetime
from typing import Any

from jinja2 import Environment

from app.fields import CST

SCHEMA = "jinshan-personal-data-export/1"

_PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>我的个人信息副本</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top}</style></head>
<body><h1>我的个人信息副本</h1>
<p>生成时间：{{ generated_at }}（北京时间）。本文件包含金山生活数字化平台保存的您的全部个人信息；
其中他人的个人信息已作脱敏处理。机器可读的完整数据见同一压缩包中的 data.json。</p>
{% for key, section in sections.items() %}
<h2>{{ section.title_zh }}（{{ section.rows|length }} 条）</h2>
{% if section.rows %}<table><tr>{% for col in section.rows[0].keys() %}<th>{{ col }}</th>{% endfor %}</tr>
{% for row in section.rows %}<tr>{% for value in row.values() %}<td>{{ value if value is not none else "" }}</td>
{% endfor %}</tr>{% endfor %}</table>{% else %}<p>无</p>{% endif %}
{% endfor %}</body></html>
""")


def document(sections: dict[str, dict[str, Any]], *, person_id: int, generated_at: datetime) -> dict[str, Any]:
    return {"schema": SCHEMA, "person_id": person_id, "generated_at": generated_at.astimezone(CST).isoformat(),
            "sections": sections}


def write(path: str, doc: dict[str, Any]) -> tuple[int, str]:
    """Write the zip at ``path`` atomically; return its size and SHA-256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = path + ".part"
    page = _PAGE.render(sections=doc["sections"], generated_at=doc["generated_at"][:19].replace("T", " "))
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", json.dumps(doc, ensure_ascii=False, indent=1, default=str))
        zf.writestr("index.html", page)
    with open(part, "rb") as f:
        data = f.read()
    os.replace(part, path)
    return len(data), hashlib.sha256(data).hexdigest()
