"""Server-rendered SVG charts (reports/charts.py): safe, accessible, proportional."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.template import Context, Template

from reports.charts import Series, bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert('x')</script> & co"


def parse(markup: str) -> ET.Element:
    """The markup must be well-formed XML for the browser to draw it at all."""
    return ET.fromstring(markup)


def bars(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == css_class]


def test_bar_chart_escapes_labels_and_series_names() -> None:
    markup = bar_chart(
        [Series(EVIL, "bar-a", [(EVIL, 3.0)]), Series("B", "bar-b", [(EVIL, 1.0)])],
        title=f"Title {EVIL}",
        description=f"Desc {EVIL}",
    )
    assert "<script" not in markup
    assert "&lt;script&gt;" in markup
    root = parse(markup)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(t.startswith("<script>") for t in texts)  # shown as text, not run


def test_column_chart_escapes_labels() -> None:
    markup = column_chart([Series("Incidents", "bar-a", [(EVIL, 2)])], title=EVIL, description="d")
    assert "<script" not in markup
    assert parse(markup).get("aria-label") == EVIL


def test_charts_are_accessible_images_that_scale() -> None:
    for chart in (bar_chart, column_chart):
        root = parse(
            chart(
                [Series("Incidents", "bar-a", [("Mon", 1), ("Tue", 2)])],
                title="Incidents per day",
                description="Two days of incidents.",
            )
        )
        assert root.get("role") == "img"
        assert root.get("aria-label") == "Incidents per day"
        assert root.findtext(f"{SVG}title") == "Incidents per day"
        assert root.findtext(f"{SVG}desc") == "Two days of incidents."
        assert root.get("viewBox", "").startswith("0 0 ")
        assert root.get("width") is None and root.get("height") is None  # CSS sizes it
        assert "font-family" not in ET.tostring(root, encoding="unicode")


def test_chart_output_is_safe_to_render_in_a_template_unescaped() -> None:
    markup = bar_chart([Series("A", "bar-a", [("x", 1)])], title="T", description="D")
    rendered = Template("{{ chart }}").render(Context({"chart": markup}))
    assert rendered.startswith("<svg")


def test_bar_lengths_are_proportional_to_values() -> None:
    root = parse(
        bar_chart(
            [Series("MTTA", "bar-mtta", [("a", 100.0), ("b", 50.0), ("c", 0.0), ("d", None)])],
            title="t",
            description="d",
            value_text=lambda v: f"{v:g} s",
        )
    )
    widths = [float(r.get("width", "0")) for r in bars(root, "bar-mtta")]
    assert len(widths) == 2  # zero and missing values draw no bar
    assert widths[1] == pytest.approx(widths[0] / 2)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert {"100 s", "50 s", "0 s", "n/a"} <= set(texts)


def test_grouped_bars_get_a_legend_and_row_tooltips() -> None:
    markup = bar_chart(
        [
            Series("MTTA", "bar-mtta", [("Billing", 60.0)]),
            Series("MTTR", "bar-mttr", [("Billing", None)]),
        ],
        title="t",
        description="d",
        value_text=lambda v: f"{v:g} s",
    )
    root = parse(markup)
    assert len(bars(root, "bar-mtta")) == 2  # the bar and its legend swatch
    assert len(bars(root, "bar-mttr")) == 1  # the legend swatch only
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "Billing: MTTA 60 s, MTTR n/a" in titles


def test_long_labels_are_shortened_but_kept_whole_in_the_tooltip() -> None:
    label = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:ConsoleSigninFailures"
    root = parse(bar_chart([Series("N", "bar-a", [(label, 1)])], title="t", description="d"))
    (shown,) = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert shown.endswith("…") and label.startswith(shown[:-1]) and len(shown) < 20
    assert f"{label}: N 1" in [t.text for t in root.iter(f"{SVG}title")]


def test_column_chart_has_a_slot_for_every_point_including_zeros() -> None:
    days = [(f"day {n}", float(n % 3)) for n in range(30)]
    root = parse(column_chart([Series("Incidents", "bar-i", days)], title="t", description="d"))
    slots = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-hit"]
    assert len(slots) == 30
    assert len(bars(root, "bar-i")) == 20  # the ten zero days draw no column
    heights = {float(r.get("height", "0")) for r in bars(root, "bar-i")}
    assert len(heights) == 2  # 1s and 2s
    assert max(heights) == pytest.approx(2 * min(heights))
    tooltips = [t.text for t in root.iter(f"{SVG}title")]
    assert "day 0: Incidents 0" in tooltips
    axis = [t.text for t in root.iter(f"{SVG}text") if (t.text or "").startswith("day")]
    assert 0 < len(axis) <= 7  # not every day is labelled under the axis


def test_overlaid_columns_draw_the_first_series_wider() -> None:
    root = parse(
        column_chart(
            [Series("Alarms", "bar-al", [("d", 4)]), Series("Incidents", "bar-in", [("d", 2)])],
            title="t",
            description="d",
        )
    )
    (alarms,) = [r for r in bars(root, "bar-al") if r.get("rx") is None]
    (incidents,) = [r for r in bars(root, "bar-in") if r.get("rx") is None]
    assert float(alarms.get("width", "0")) > float(incidents.get("width", "0"))
    assert float(alarms.get("height", "0")) == pytest.approx(
        2 * float(incidents.get("height", "0"))
    )


def test_series_must_share_labels_and_classes_must_be_class_names() -> None:
    with pytest.raises(ValueError, match="share"):
        bar_chart(
            [Series("A", "a", [("x", 1)]), Series("B", "b", [("y", 1)])],
            title="t",
            description="d",
        )
    with pytest.raises(ValueError, match="CSS class"):
        bar_chart([Series("A", 'a" onclick="x', [("x", 1)])], title="t", description="d")


def test_an_empty_chart_still_renders() -> None:
    root = parse(bar_chart([Series("A", "bar-a", [])], title="Nothing", description="d"))
    assert root.findtext(f"{SVG}title") == "Nothing"
