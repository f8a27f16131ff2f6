"""The server-drawn SVG chart: round axis tops, text escaped, no inline style (the CSP)."""
from __future__ import annotations

import pytest

from app.console.charts import bar_chart, nice_ceiling


@pytest.mark.parametrize(("value", "top"), [(0, 1), (0.3, 0.4), (1, 1), (3.7, 4), (21.7, 40), (37.8, 40), (41, 50),
                                            (120, 200), (790, 800)])
def test_the_axis_ends_on_a_round_number(value, top):
    assert nice_ceiling(value) == pytest.approx(top)


def test_labels_are_escaped_and_nothing_is_styled_inline():
    svg = str(bar_chart(['<script>alert(1)</script>', "公司乙"], {"中位数": [3.5, None]}, title="标题 & <b>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg
    assert " style=" not in svg and 'role="img"' in svg and "—" in svg  # the missing value is written, not drawn
