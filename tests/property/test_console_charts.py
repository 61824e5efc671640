"""The console's SVG charts: well-formed, one point per (series, day) with a count and one bar per (group,
outcome) above zero, each carrying its exact value, every name escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from exchange.console.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
names = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)  # markup included
days = st.dates().map(lambda d: d.isoformat())
counts = st.integers(min_value=1, max_value=10**9)


@given(st.dictionaries(names, st.dictionaries(days, counts, max_size=8), max_size=6))
def test_a_line_chart_has_one_point_per_count(series: dict[str, dict[str, int]]) -> None:
    chart = line_chart("<title> & co", series)
    root = ET.fromstring(chart.svg)
    points = root.findall(f".//{SVG}circle")
    expected = sorted((k, d, v) for k, per in series.items() for d, v in per.items())
    got = sorted((p.get("data-key"), p.get("data-day"), int(p.get("data-value") or 0)) for p in points)
    assert got == expected and chart.points == len(expected)
    assert len(root.findall(f".//{SVG}polyline")) == len(series)
    assert root.find(f"{SVG}title").text == "<title> & co"  # type: ignore[union-attr]


@given(
    st.dictionaries(names, st.dictionaries(st.sampled_from(["confirmed", "actioned", "not_found"]),
                                           st.integers(min_value=0, max_value=10**6)), max_size=6)
)  # fmt: skip
def test_a_bar_chart_has_one_bar_per_count_above_zero(groups: dict[str, dict[str, int]]) -> None:
    chart = bar_chart("feedback", groups, ["confirmed", "actioned", "not_found"])
    root = ET.fromstring(chart.svg)
    bars = [(b.get("data-group"), b.get("data-outcome"), int(b.get("data-value") or 0))
            for b in root.findall(f".//{SVG}rect") if b.get("class") == "bar"]  # fmt: skip
    expected = [(g, o, v) for g, per in groups.items() for o, v in per.items() if v > 0]
    assert sorted(bars) == sorted(expected) and chart.points == len(expected)
    heights = [float(b.get("height") or 0) for b in root.findall(f".//{SVG}rect") if b.get("class") == "bar"]
    assert all(h > 0 for h in heights)


@given(st.text(max_size=20))
def test_any_name_makes_a_well_formed_chart(name: str) -> None:
    ET.fromstring(line_chart(name, {name: {"2026-01-01": 1}}).svg)
    ET.fromstring(bar_chart(name, {name: {name: 1}}, [name]).svg)
