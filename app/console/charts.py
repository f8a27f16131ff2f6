"""Charts drawn on the server as SVG (no charting library, no script): grouped bars with
their values written out, a title and a legend, readable by a screen reader (``role="img"``
with a ``<title>``; the page shows the same figures as a table). Presentation attributes
only, never ``style=`` (the console's CSP allows no inline style)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

COLOURS = ("#0b5cad", "#a4161a", "#1d6b35", "#8a5300")
WIDTH, BAR_AREA, LEFT, TOP, BOTTOM = 760, 220, 48, 40, 64


def _label(text: str, limit: int = 10) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ceiling(value: float) -> float:
    """The axis' top: the smallest of 1, 2, 4, 5 or 8 × 10ⁿ at or above ``value`` (1 for nothing),
    so its quarters are round numbers."""
    if value <= 0:
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 2, 4, 5, 8, 10) if m * scale >= value - 1e-9)


def bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str,
              unit: str = "") -> Markup:
    """Grouped bars: one group per label, one bar per series (None: no bar, "—" written)."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = nice_ceiling(max(values, default=0))
    groups = max(len(labels), 1)
    group_w = (WIDTH - LEFT - 16) / groups
    bar_w = max(4.0, min(40.0, group_w * 0.8 / max(len(series), 1)))
    height = TOP + BAR_AREA + BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'aria-labelledby="chart-title" class="chart"><title id="chart-title">{escape(title)}</title>',
           f'<text x="{LEFT}" y="20" font-size="15" font-weight="600" fill="#1b1f24">{escape(title)}</text>',
           f'<line x1="{LEFT}" y1="{TOP + BAR_AREA}" x2="{WIDTH - 8}" y2="{TOP + BAR_AREA}" stroke="#4a5360"/>']
    for step in range(5):
        y = TOP + BAR_AREA - BAR_AREA * step / 4
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.0f}" font-size="11" text-anchor="end" fill="#4a5360">'
                   f'{top * step / 4:g}</text>')
    for g, label in enumerate(labels):
        x0 = LEFT + g * group_w + group_w * 0.1
        for s, (name, vs) in enumerate(series.items()):
            v = vs[g] if g < len(vs) else None
            x = x0 + s * bar_w
            if v is None:
                out.append(f'<text x="{x + bar_w / 2:.1f}" y="{TOP + BAR_AREA - 4}" font-size="11" '
                           f'text-anchor="middle" fill="#4a5360">—</text>')
                continue
            h = BAR_AREA * v / top
            out.append(f'<rect x="{x:.1f}" y="{TOP + BAR_AREA - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(label)} {escape(name)}：{v}{unit}'
                       f'</title></rect>')
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{TOP + BAR_AREA - h - 3:.1f}" font-size="10" '
                       f'text-anchor="middle" fill="#1b1f24">{v:g}</text>')
        out.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{TOP + BAR_AREA + 16}" font-size="12" '
                   f'text-anchor="middle" fill="#1b1f24">{escape(_label(label))}</text>')
    for s, name in enumerate(series):
        x = LEFT + s * 220
        out.append(f'<rect x="{x}" y="{height - 22}" width="12" height="12" fill="{COLOURS[s % len(COLOURS)]}"/>'
                   f'<text x="{x + 18}" y="{height - 12}" font-size="12" fill="#1b1f24">{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every text in it went through escape)
