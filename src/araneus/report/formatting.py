"""Values as people read them, for every report, table, figure title and legend.

One helper, :func:`fmt`, turns any value a report shows into text: counts with thousands
separators (``16,536``, not ``1.654e+04``), fractions as percentages (``92%``, not
``0.9167``), three significant digits without exponents between 0.001 and 10^9
(``1.95``, ``0.0255``, ``8,638``), powers of ten beyond (``1.26 × 10⁻¹¹``), ``yes``/``no``
for booleans, a dash for missing values (``None``, NaN) and ``none`` for empty lists, never
Python's ``True``, ``None`` or ``[]``. :func:`with_unit` puts units into headers
(``stiffness [N/mm]``) and :func:`humanize_figure` gives plotly figures the same number
style (thousands separators, powers of ten instead of ``k``/``B`` suffixes).

Examples
--------
>>> print(fmt(16536.0), fmt(0.9167, "percent"), fmt(True), fmt(None), fmt([]), sep=" | ")
16,536 | 92% | yes | – | none
>>> print(fmt(0.54, "ratio"), fmt([("sheet_radius", 50.0)]), sep=" | ")
0.54× | sheet_radius: 50
>>> with_unit("stiffness", "N/mm")
'stiffness [N/mm]'

The spaces around ``×`` in powers of ten are no-break spaces, so that a number never wraps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError

#: Text shown for a value that is missing or undefined (None, NaN).
MISSING = "–"
#: Text shown for an empty list or mapping.
EMPTY = "none"
#: Kinds understood by :func:`fmt`.
KINDS = ("auto", "percent", "ratio", "count")

#: No-break space: a number in powers of ten never wraps across lines.
_NBSP = "\u00a0"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Plain notation for magnitudes in [_SMALL, _LARGE); powers of ten outside.
_SMALL, _LARGE = 1e-3, 1e9


def fmt(value: Any, kind: str | None = None, *, digits: int = 3, missing: str = MISSING) -> str:
    """``value`` as text for people.

    Parameters
    ----------
    value
        A number (Python or numpy), bool, None, string, path, sequence or mapping; sequences
        and mappings are formatted item by item.
    kind
        ``None``/``"auto"`` (by type), ``"percent"`` (a fraction: 0.9167 -> ``92%``),
        ``"ratio"`` (``1.58×``) or ``"count"`` (rounded to a whole number, ``16,536``).
    digits
        Significant digits of non-integral numbers (thousands and above show every digit
        before the point: 8,638 rather than 8.64 × 10³).
    missing
        Text for None and NaN.

    Returns
    -------
    str
    """
    kind = kind or "auto"
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    if value is None:
        return missing
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        return text if text.strip() else missing
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        items = [f"{k}: {fmt(v, kind, digits=digits, missing=missing)}" for k, v in value.items()]
        return ", ".join(items) if items else EMPTY
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (Sequence, np.ndarray, set, frozenset)) and not isinstance(value, bytes):
        return _sequence(list(value), kind, digits, missing)
    if isinstance(value, (int, np.integer)):
        value = int(value)
    elif isinstance(value, (float, np.floating)):
        value = float(value)
    else:
        return str(value)
    return _number(value, kind, digits, missing)


def _sequence(items: list, kind: str, digits: int, missing: str) -> str:
    if not items:
        return EMPTY
    pairs = all(
        isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str) for p in items
    )
    if pairs:  # [(name, value), ...] as "name: value, ..."
        return ", ".join(f"{k}: {fmt(v, kind, digits=digits, missing=missing)}" for k, v in items)
    return ", ".join(fmt(v, kind, digits=digits, missing=missing) for v in items)


def _number(v: float | int, kind: str, digits: int, missing: str) -> str:
    if isinstance(v, float) and math.isnan(v):
        return missing
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if kind == "percent":
        return _percent(100.0 * v)
    if kind == "ratio":
        return _plain(v, digits) + "×"
    if kind == "count":
        return f"{round(v):,}"
    return _plain(v, digits)


def _plain(v: float | int, digits: int) -> str:
    """Thousands separators, ``digits`` significant digits, powers of ten far out."""
    if isinstance(v, int):
        return f"{v:,}" if abs(v) < 10**15 else _power(float(v), digits)
    a = abs(v)
    if a == 0:
        return "0"
    if a >= _LARGE or a < _SMALL:
        return _power(v, digits)
    if a >= 10 ** (digits - 1) or v == round(v):
        return f"{round(v):,}"
    text = f"{v:.{digits}g}"
    if "e" in text:  # rounding reached the next decade (e.g. 999.7 at 3 digits)
        return f"{round(v):,}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _power(v: float, digits: int) -> str:
    mant, exp = f"{v:.{digits - 1}e}".split("e")
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant}{_NBSP}×{_NBSP}10{str(int(exp)).translate(_SUPERSCRIPT)}"


def _percent(p: float) -> str:
    """A percentage with as many decimals as it takes not to read as exactly 0 or 100."""
    if p == 0 or p == 100:
        return f"{p:.0f}%"
    a = abs(p)
    if math.isinf(p):
        return ("∞" if p > 0 else "−∞") + "%"
    if a >= 1000:
        return _plain(p, 3) + "%"
    decimals = 0 if a >= 10 else 1 if a >= 1 else 2
    while decimals < 3:
        text = f"{p:.{decimals}f}"
        if float(text) not in (0.0, 100.0, -100.0):
            return f"{text}%"
        decimals += 1
    return "< 0.001%" if a < 1 else f"{p:.3f}%"


def fmt_all(values: Sequence[Any], kind: str | None = None, sep: str = " / ", **kw: Any) -> str:
    """Several values formatted alike and joined by ``sep`` (e.g. ``97% / 100% / 92%``)."""
    return sep.join(fmt(v, kind, **kw) for v in values)


def with_unit(label: str, unit: str | None) -> str:
    """A header with its unit: ``with_unit("stiffness", "N/mm") == "stiffness [N/mm]"``."""
    return f"{label} [{unit}]" if unit else str(label)


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 strut"``, ``"16,536 struts"``: a count with thousands separators and its noun."""
    return f"{fmt(int(n))} {singular if n == 1 else plural or singular + 's'}"


#: Number style of plotly axes and colour bars (see :func:`humanize_figure`).
PLOTLY_NUMBERS: dict[str, Any] = {
    "separatethousands": True,
    "exponentformat": "power",
    "hoverformat": ",.4~g",
}


def humanize_figure(fig: Any) -> Any:
    """Give a plotly figure the number style of :func:`fmt` (in place; returns ``fig``).

    Every 2-D axis, 3-D scene axis and colour bar gets thousands separators, powers of ten
    instead of plotly's ``k``/``M``/``B`` suffixes (``80B`` reads as bytes or billions) and
    four significant digits on hover, unless the figure already sets them.
    """

    def apply(axis: Any) -> None:
        for key, value in PLOTLY_NUMBERS.items():
            if key in axis and axis[key] is None:
                axis[key] = value

    fig.for_each_xaxis(apply)
    fig.for_each_yaxis(apply)
    for scene in fig.select_scenes():
        for name in ("xaxis", "yaxis", "zaxis"):
            apply(scene[name])
    for trace in fig.data:
        for owner in ("marker", "line", None):
            holder = trace if owner is None else getattr(trace, owner, None)
            scaled = holder is not None and (
                getattr(holder, "showscale", None) or getattr(holder, "colorscale", None)
            )
            if scaled and getattr(holder, "colorbar", None) is not None:
                apply(holder.colorbar)
    return fig


__all__ = [
    "EMPTY",
    "KINDS",
    "MISSING",
    "PLOTLY_NUMBERS",
    "count_noun",
    "fmt",
    "fmt_all",
    "humanize_figure",
    "with_unit",
]
