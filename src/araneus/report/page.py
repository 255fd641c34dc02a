"""Self-contained interactive HTML reports (plotly, JavaScript embedded, works offline).

A :class:`Report` collects sections of text, tables, interactive plotly figures and static
PNG images, and writes them into ONE HTML file that embeds a single copy of plotly.js from
the installed package (no CDN, no network). Every piece of user-supplied text (titles,
table cells, settings) is HTML-escaped.

Values are formatted for people by :mod:`araneus.report.formatting` (one helper for every table,
setting and figure); warnings are shown beside the section they concern and listed at the
top of the page.

The page records its own health for automated checks: JavaScript errors are counted in
``document.body.dataset.jsErrors``, the number of rendered plotly figures in
``document.body.dataset.plotsRendered``, and what sticks out of the page's column in
``pageOverflow`` / ``overflowing`` (read by :func:`check_in_browser`; see
``tests/test_report.py``).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._util import write_text_atomic
from ..errors import InputError
from ..web import WebGraph
from .formatting import fmt, humanize_figure
from .plot import thread_color, thread_labels

MAX_EDGES_3D = 60_000


def _edge_segments(pos: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """x, y, z arrays of line segments separated by NaN (plotly's gap marker)."""
    seg = np.full((len(edges), 3, 3), np.nan)
    seg[:, 0] = pos[edges[:, 0]]
    seg[:, 1] = pos[edges[:, 1]]
    flat = seg.reshape(-1, 3)
    return flat[:, 0], flat[:, 1], flat[:, 2]


def _edge_sample(web: WebGraph, max_edges: int) -> np.ndarray:
    if web.n_edges <= max_edges:
        return np.arange(web.n_edges)
    return np.linspace(0, web.n_edges - 1, max_edges).astype(np.int64)


def web_figure(
    web: WebGraph,
    title: str = "",
    values: np.ndarray | None = None,
    value_label: str = "value",
    max_edges: int = MAX_EDGES_3D,
    height: int = 520,
):
    """Interactive 3-D plotly figure of a web.

    Edges are coloured by thread type (one legend entry per type, named as in
    :func:`araneus.report.plot.thread_labels`) or, when ``values`` (E,) is given, by value with a
    colour bar. Webs with more than ``max_edges`` edges show an evenly spaced subset (noted
    in the title).
    """
    import plotly.graph_objects as go

    if values is not None and len(values) != web.n_edges:
        raise InputError(f"values must have one entry per edge ({web.n_edges}), got {len(values)}")
    sel = _edge_sample(web, max_edges)
    edges = web.edges[sel]
    fig = go.Figure()
    if values is not None:
        v = np.asarray(values, dtype=float)[sel]
        x, y, z = _edge_segments(web.pos, edges)
        col = np.repeat(v, 3)
        fig.add_trace(
            go.Scatter3d(
                x=x,
                y=y,
                z=z,
                mode="lines",
                name=value_label,
                line={
                    "color": col,
                    "colorscale": "Viridis",
                    "width": 3,
                    "colorbar": {"title": {"text": value_label}},
                },
                hoverinfo="skip",
            )
        )
    else:
        typed = "thread" in web.edge_attrs
        codes = web.edge_attrs["thread"][sel].astype(int) if typed else np.zeros(len(sel), int)
        names = thread_labels(web) if typed else {0: "thread (no types recorded)"}
        for c in np.unique(codes).tolist():
            x, y, z = _edge_segments(web.pos, edges[codes == c])
            fig.add_trace(
                go.Scatter3d(
                    x=x,
                    y=y,
                    z=z,
                    mode="lines",
                    name=names[c],
                    showlegend=typed,
                    line={"color": thread_color(c), "width": 2},
                    hoverinfo="skip",
                )
            )
    shown = ""
    if len(sel) < web.n_edges:
        shown = f" (showing {fmt(len(sel))} of {fmt(web.n_edges)} edges)"
    fig.update_layout(
        title={"text": f"{title}{shown}"},
        height=height,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        scene={"aspectmode": "data"},
        legend={"itemsizing": "constant"},
    )
    return fig


@dataclass
class _Section:
    kind: str
    payload: Any
    title: str = ""
    #: warnings shown in a box just before the section's content (and listed at the top)
    warnings: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)


def _warning_list(warnings: Sequence[str] | None) -> list[str]:
    if warnings is None:
        return []
    if isinstance(warnings, str):
        raise InputError("warnings must be a list of strings, not one string")
    return [str(w) for w in warnings if str(w).strip()]


@dataclass
class Report:
    """An HTML report assembled section by section.

    Every value shown is formatted for people by :func:`araneus.report.formatting.fmt` (thousands
    separators, percentages, units in headers, no raw ``True``/``None``/``[]``); tables fit
    the page (long headers and cells wrap, very wide tables scroll inside their box).
    Warnings given to a section are shown in a box beside it and listed, with links, at the
    top of the page, so that none is missed.

    Examples
    --------
    >>> rep = Report("My web")
    >>> rep.text("Built with the default tent settings.")
    >>> rep.table([{"feature": "num_nodes", "value": 48}], title="Features")
    >>> rep.write("report.html")  # doctest: +SKIP
    """

    title: str
    sections: list[_Section] = field(default_factory=list)

    def heading(self, text: str) -> None:
        """Start a new titled part of the report."""
        self.sections.append(_Section("heading", str(text)))

    def text(self, text: str) -> None:
        """A paragraph of plain text (escaped)."""
        self.sections.append(_Section("text", str(text)))

    def table(
        self,
        rows: Sequence[Mapping[str, Any]],
        title: str = "",
        kinds: Mapping[str, str] | None = None,
        warnings: Sequence[str] | None = None,
    ) -> None:
        """A table from a list of dicts (columns: union of keys, in first-seen order).

        Cells are formatted by :func:`~araneus.report.formatting.fmt`, with ``kinds`` naming the
        kind of a column (e.g. ``{"valid": "percent"}``); strings are shown as given. Put
        units into the column names (:func:`~araneus.report.formatting.with_unit`).
        """
        sec = _Section("table", [dict(r) for r in rows], title, _warning_list(warnings))
        sec.kinds = dict(kinds or {})
        self.sections.append(sec)

    def settings(self, settings: Mapping[str, Any], title: str = "Settings") -> None:
        """Settings as a two-column table (nested mappings become groups; escaped)."""
        self.sections.append(_Section("settings", dict(settings), title))

    def warnings(self, warnings: Sequence[str], title: str = "") -> None:
        """A box of warnings at this point of the page (``title`` names what they concern);
        nothing is added when the list is empty."""
        items = _warning_list(warnings)
        if items:
            self.sections.append(_Section("warnings", None, str(title), items))

    def figure(self, fig: Any, title: str = "", warnings: Sequence[str] | None = None) -> None:
        """An interactive plotly figure, with its warnings shown just above it."""
        self.sections.append(_Section("figure", fig, title, _warning_list(warnings)))

    def web(
        self, web: WebGraph, title: str = "", warnings: Sequence[str] | None = None, **kwargs: Any
    ) -> None:
        """An interactive 3-D view of a web (see :func:`web_figure`)."""
        self.figure(web_figure(web, title=title, **kwargs), title, warnings)

    def image(
        self, path: str | os.PathLike, title: str = "", warnings: Sequence[str] | None = None
    ) -> None:
        """A static PNG image, embedded as base64 so the page stays self-contained."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"report image {p} does not exist")
        self.sections.append(_Section("image", p.read_bytes(), title, _warning_list(warnings)))

    def all_warnings(self) -> list[tuple[str, str]]:
        """Every warning of the report as ``(what it concerns, warning)``, in page order."""
        return [(s.title, w) for s in self.sections for w in s.warnings]

    # ---------------------------------------------------------------- rendering
    def to_html(self) -> str:
        """The whole page as a string, with plotly.js embedded once."""
        from plotly.offline import get_plotlyjs

        parts: list[str] = []
        n_fig = 0
        n_warn = 0
        for s in self.sections:
            if s.kind == "heading":
                parts.append(f"<h2>{html.escape(s.payload)}</h2>")
                continue
            if s.kind == "text":
                parts.append(f"<p>{html.escape(s.payload)}</p>")
                continue
            cap = f"<h3>{html.escape(s.title)}</h3>" if s.title and s.kind != "figure" else ""
            box = _warnings_html(s.warnings, n_warn, s.title) if s.warnings else ""
            n_warn += len(s.warnings)
            if s.kind == "warnings":
                parts.append(box)
            elif s.kind == "table":
                parts.append(cap + box + _table_html(s.payload, s.kinds))
            elif s.kind == "settings":
                parts.append(cap + _settings_html(s.payload))
            elif s.kind == "image":
                b64 = base64.b64encode(s.payload).decode("ascii")
                alt = html.escape(s.title or "figure")
                parts.append(f'{cap}{box}<img alt="{alt}" src="data:image/png;base64,{b64}">')
            elif s.kind == "figure":
                n_fig += 1
                div = humanize_figure(s.payload).to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"fig{n_fig}",
                    config={"displaylogo": False, "responsive": True},
                )
                parts.append(f'{box}<div class="fig">{div}</div>')
        title = html.escape(self.title)
        return _PAGE.format(
            title=title,
            plotlyjs=get_plotlyjs(),
            n_fig=n_fig,
            n_warn=n_warn,
            summary=_summary_html(self.all_warnings()),
            body="\n".join(parts),
        )

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page atomically; returns the path."""
        write_text_atomic(path, self.to_html())
        return Path(path)


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def check_in_browser(
    path: str | os.PathLike,
    screenshot: str | os.PathLike | None = None,
    chromium: str | None = None,
    budget_ms: int = 15000,
    timeout: float = 120.0,
    width: int = 1280,
    height: int = 1600,
) -> dict[str, int]:
    """Open a report in headless Chromium and read back its health markers.

    Returns, read from the page's ``<body>`` data attributes after scripts ran (virtual
    time budget ``budget_ms``) in a ``width`` x ``height`` pixel window:

    * ``js_errors``, ``plots_rendered``, ``plots_expected``: JavaScript errors and plotly
      figures drawn out of those on the page;
    * ``warnings``: warnings shown on the page;
    * ``page_overflow``: pixels by which the page is wider than the window (0 when nothing
      sticks out), ``overflowing``: tables, figures, images or text blocks reaching past the
      page's column, ``tables_scrolling``: tables too wide for the column that scroll
      inside their box.

    Optionally saves a PNG screenshot of the window (a tall ``height`` shows the whole
    page). Raises :class:`InputError` if no browser is available or the page cannot be read.
    """
    import re
    import subprocess
    import tempfile

    exe = chromium or find_chromium()
    if exe is None:
        raise InputError("no Chromium executable found (install Debian's 'chromium')")
    url = Path(path).resolve().as_uri()
    with tempfile.TemporaryDirectory() as prof:
        base = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={prof}",
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={int(width)},{int(height)}",
        ]
        dom = subprocess.run(
            [*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout
        ).stdout
        if screenshot is not None:
            shot = [*base, "--hide-scrollbars", f"--screenshot={Path(screenshot).resolve()}", url]
            subprocess.run(shot, capture_output=True, timeout=timeout)
    m = re.search(r"<body([^>]*)>", dom)
    if not m:
        raise InputError(f"{path}: the browser returned no page body")
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(1)))
    keys = ("js-errors", "plots-rendered", "plots-expected", "warnings", "page-overflow",
            "overflowing", "tables-scrolling")  # fmt: skip
    return {k.replace("-", "_"): int(attrs.get(k, -1)) for k in keys}


def _is_numeric_text(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-−–<∞+")


def _cell(value: Any, kind: str | None, align: bool = True) -> str:
    text = value if isinstance(value, str) else fmt(value, kind)
    cls = []
    if align and (not isinstance(value, str) or _is_numeric_text(value)):
        cls.append("num")
    if " " not in text and len(text) <= 24:  # one word: never broken (e.g. at a hyphen)
        cls.append("nw")
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{html.escape(text)}</td>"


def _table_html(rows: list[dict[str, Any]], kinds: Mapping[str, str] | None = None) -> str:
    if not rows:
        return "<p><em>(empty table)</em></p>"
    kinds = kinds or {}
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>"
        + "".join(_cell(r[c], kinds.get(c)) if c in r else "<td></td>" for c in cols)
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _settings_rows(settings: Mapping[str, Any], depth: int = 0) -> list[str]:
    rows = []
    pad = f' style="padding-left: {0.6 + 1.2 * depth:.1f}em"'
    for key, value in settings.items():
        name = html.escape(str(key).replace("_", " "))
        if isinstance(value, Mapping) and value:
            rows.append(f'<tr class="group"><th colspan="2"{pad}>{name}</th></tr>')
            rows += _settings_rows(value, depth + 1)
        else:
            rows.append(f"<tr><th{pad}>{name}</th>{_cell(value, None, align=False)}</tr>")
    return rows


def _settings_html(settings: Mapping[str, Any]) -> str:
    body = "".join(_settings_rows(settings))
    return f'<div class="table-wrap"><table class="settings"><tbody>{body}</tbody></table></div>'


def _warnings_html(items: list[str], start: int, label: str = "") -> str:
    lis = "".join(f'<li id="warn-{start + i}">{html.escape(w)}</li>' for i, w in enumerate(items))
    head = "Warning" if len(items) == 1 else "Warnings"
    about = f" ({html.escape(label)})" if label else ""
    return f'<div class="warn" role="note"><strong>{head}{about}</strong><ul>{lis}</ul></div>'


def _summary_html(warnings: list[tuple[str, str]]) -> str:
    if not warnings:
        return '<p class="no-warn">No warnings: the tools flagged nothing in this run.</p>'
    groups: dict[str, list[str]] = {}
    for i, (what, w) in enumerate(warnings):
        groups.setdefault(what, []).append(f'<li><a href="#warn-{i}">{html.escape(w)}</a></li>')
    lis = "".join(
        f"<li>{html.escape(what or 'page')}<ul>{''.join(items)}</ul></li>"
        for what, items in groups.items()
    )
    n = fmt(len(warnings))
    head = "1 warning" if len(warnings) == 1 else f"{n} warnings"
    return (
        f'<div class="warn warn-summary" id="warnings" role="note"><strong>{head} in this '
        "report</strong> (each is also shown beside the figure or table it concerns)"
        f"<ul>{lis}</ul></div>"
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<script>
window.__araneusErrors = [];
window.addEventListener("error", function (e) {{
  window.__araneusErrors.push(String(e.message));
  document.documentElement.dataset.jsErrors = String(window.__araneusErrors.length);
}});
</script>
<script type="text/javascript">{plotlyjs}</script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
        padding: 0 1em; color: #222; }}
.table-wrap {{ max-width: 100%; overflow-x: auto; margin: 0.5em 0 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; font-weight: 600; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.nw {{ white-space: nowrap; }}
table.settings th {{ background: none; font-weight: normal; color: #444; }}
table.settings tr.group th {{ background: #f2f2f2; font-weight: 600; color: #222; }}
pre {{ background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }}
img {{ max-width: 100%; }}
.fig {{ margin-bottom: 1.5em; max-width: 100%; }}
.warn {{ background: #fff4e0; border-left: 4px solid #e08a00; padding: 0.5em 0.9em;
         margin: 1.8em 0 0.4em; font-size: 0.92em; }}
.warn ul {{ margin: 0.3em 0 0; padding-left: 1.3em; }}
.warn a {{ color: #6b3e00; }}
.no-warn {{ color: #2b6b2b; }}
</style></head>
<body data-plots-expected="{n_fig}" data-warnings="{n_warn}">
<h1>{title}</h1>
{summary}
{body}
<script>
function araneusHealth() {{
  var b = document.body;
  b.dataset.jsErrors = String(window.__araneusErrors.length);
  var rendered = 0;
  document.querySelectorAll(".js-plotly-plot").forEach(function (d) {{
    if (d.querySelector(".main-svg") && d.querySelector("canvas, .scatterlayer .trace, .barlayer .trace, .heatmaplayer .hm, .pielayer .trace")) rendered++;
  }});
  b.dataset.plotsRendered = String(rendered);
  var root = document.documentElement;
  b.dataset.pageOverflow = String(Math.max(0, root.scrollWidth - root.clientWidth));
  var right = b.getBoundingClientRect().right + 1, out = 0, scrolling = 0;
  document.querySelectorAll(".table-wrap, .fig, img, pre, .warn, h1, h2, h3, p").forEach(function (e) {{
    if (e.getBoundingClientRect().right > right) out++;
  }});
  document.querySelectorAll(".table-wrap").forEach(function (d) {{
    if (d.scrollWidth > d.clientWidth + 1) scrolling++;
  }});
  b.dataset.overflowing = String(out);
  b.dataset.tablesScrolling = String(scrolling);
}}
araneusHealth();
window.addEventListener("load", function () {{ setTimeout(araneusHealth, 300); }});
</script>
</body></html>
"""
