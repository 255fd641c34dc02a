"""Tests of araneus.report.formatting: values as people read them, in every report."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from araneus.errors import InputError
from araneus.report.formatting import count_noun, fmt, fmt_all, humanize_figure, with_unit

NBSP = "\u00a0"


@pytest.mark.parametrize(
    "value, kind, text",
    [
        (16536.0, None, "16,536"),  # the case: not 1.654e+04
        (1.654e4, None, "16,540"),
        (16618, None, "16,618"),
        (np.int64(1283272), None, "1,283,272"),
        (np.float32(0.6112), None, "0.611"),
        (1.955, None, "1.96"),
        (0.02551, None, "0.0255"),
        (8638.4, None, "8,638"),
        (999.7, None, "1,000"),  # rounding into the next decade stays plain
        (-108.06, None, "-108"),
        (2.0, None, "2"),
        (0.0, None, "0"),
        (1.262e-11, None, f"1.26{NBSP}×{NBSP}10⁻¹¹"),
        (8.0e10, None, f"8{NBSP}×{NBSP}10¹⁰"),
        (0.9167, "percent", "92%"),  # the case: not 0.9167
        (0.078, "percent", "7.8%"),
        (0.0031, "percent", "0.31%"),
        (0.9996, "percent", "99.96%"),  # never rounds to a false 100%
        (1.0, "percent", "100%"),
        (0, "percent", "0%"),
        (1.58, "ratio", "1.58×"),
        (16535.7, "count", "16,536"),
        (True, None, "yes"),
        (np.bool_(False), None, "no"),
        (None, None, "–"),
        (float("nan"), None, "–"),
        (float("inf"), None, "∞"),
        (None, "percent", "–"),
        ([], None, "none"),
        ((), None, "none"),
        ({}, None, "none"),
        ([160, 20, 20], None, "160, 20, 20"),
        ([("sheet_radius", 50.0), ("rim_threads", 30)], None, "sheet_radius: 50, rim_threads: 30"),
        ({"a": None, "b": True}, None, "a: –, b: yes"),
        ("", None, "–"),
        ("tension-z", None, "tension-z"),
        (Path("out/x"), None, "out/x"),
        (np.array(2.5), None, "2.5"),
    ],
)
def test_fmt_cases(value, kind, text):
    assert fmt(value, kind) == text


def test_fmt_options_and_helpers():
    assert fmt(None, missing="undefined") == "undefined"
    assert fmt(3.14159, digits=5) == "3.1416"
    assert fmt_all([0.97, 1.0, None], "percent") == "97% / 100% / –"
    assert fmt_all([1, 2], sep=" × ") == "1 × 2"
    assert with_unit("stiffness", "N/mm") == "stiffness [N/mm]"
    assert with_unit("nodes", None) == "nodes"
    assert count_noun(1, "strut") == "1 strut"
    assert count_noun(16536, "strut") == "16,536 struts"
    with pytest.raises(InputError, match="kind"):
        fmt(1.0, "percentage")


_RAW = re.compile(r"\d[eE][+-]?\d|\b(True|False|None|nan|NaN|inf)\b|\[\]")


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(),
                 st.none()))  # fmt: skip
def test_fmt_never_shows_raw_python(value):
    for kind in (None, "percent", "ratio"):
        text = fmt(value, kind)
        assert text and not _RAW.search(text), (value, kind, text)


@settings(max_examples=400, deadline=None)
@given(st.floats(-1e9, 1e9, exclude_min=True, exclude_max=True).filter(lambda v: abs(v) >= 1e-3))
def test_plain_numbers_read_back_to_three_significant_digits(value):
    """Between 0.001 and 10^9 the text is plain, and reads back to the value within the
    rounding of three significant digits (or to the whole number above 100)."""
    text = fmt(value)
    back = float(text.replace(",", ""))
    tol = max(0.5 * 10 ** (math.floor(math.log10(abs(value))) - 2), 0.5 if abs(value) >= 100 else 0)
    assert abs(back - value) <= tol * (1 + 1e-9), (value, text)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_percentages_never_claim_all_or_nothing_falsely(x):
    text = fmt(x, "percent")
    assert text.endswith("%")
    assert (text == "100%") == (x == 1.0)
    assert (text == "0%") == (x == 0.0)


def test_humanize_figure_sets_number_style_but_keeps_the_authors():
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2)
    fig.add_trace(go.Scatter(x=[1, 2], y=[3e4, 4e4]), row=1, col=1)
    fig.add_trace(go.Scatter(x=[1, 2], y=[1, 2]), row=1, col=2)
    fig.update_yaxes(exponentformat="e", row=1, col=2)
    fig.add_trace(go.Scatter3d(x=[0, 1], y=[0, 1], z=[0, 1], mode="lines",
                               line={"color": [1e9, 2e9], "colorscale": "Viridis"}))  # fmt: skip
    humanize_figure(fig)
    assert fig.layout.xaxis.separatethousands is True
    assert fig.layout.yaxis.exponentformat == "power"
    assert fig.layout.yaxis2.exponentformat == "e"  # set by the figure's author: kept
    assert fig.layout.scene.zaxis.exponentformat == "power"
    assert fig.data[2].line.colorbar.exponentformat == "power"
