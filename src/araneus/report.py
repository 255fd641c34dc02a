"""Self-contained interactive HTML reports (plotly, JavaScript embedded, works offline).

A :class:`Report` collects sections of text, tables, interactive plotly figures and static
PNG images, and writes them into ONE HTML file that embeds a single copy of plotly.js from
the installed package (no CDN, no network). Every piece of user-supplied text (titles,
table cells, settings) is HTML-escaped.

The page records its own health for automated checks: JavaScript errors are counted in
``document.body.dataset.jsErrors`` and the number of rendered plotly figures in
``document.body.dataset.plotsRendered`` (see ``tests/test_report_browser.py``).
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._util import write_text_atomic
from .errors import InputError
from .plot import _THREAD_COLORS
from .web import THREAD_TYPES, WebGraph

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

    Edges are coloured by thread type (one legend entry per type) or, when ``values`` (E,)
    is given, by value with a colour bar. Webs with more than ``max_edges`` edges show an
    evenly spaced subset (noted in the title).
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
        codes = (
            web.edge_attrs["thread"][sel].astype(int)
            if "thread" in web.edge_attrs
            else np.zeros(len(sel), dtype=int)
        )
        for c in np.unique(codes):
            name = THREAD_TYPES[c] if 0 <= c < len(THREAD_TYPES) else "unknown"
            x, y, z = _edge_segments(web.pos, edges[codes == c])
            fig.add_trace(
                go.Scatter3d(
                    x=x,
                    y=y,
                    z=z,
                    mode="lines",
                    name=name,
                    line={"color": _THREAD_COLORS.get(name, "#444444"), "width": 2},
                    hoverinfo="skip",
                )
            )
    shown = "" if len(sel) == web.n_edges else f" (showing {len(sel):,} of {web.n_edges:,} edges)"
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


@dataclass
class Report:
    """An HTML report assembled section by section.

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

    def table(self, rows: Sequence[Mapping[str, Any]], title: str = "") -> None:
        """A table from a list of dicts (columns: union of keys, in first-seen order)."""
        self.sections.append(_Section("table", [dict(r) for r in rows], title))

    def settings(self, settings: Mapping[str, Any], title: str = "Settings") -> None:
        """A JSON block of settings (escaped)."""
        self.sections.append(_Section("settings", dict(settings), title))

    def figure(self, fig: Any, title: str = "") -> None:
        """An interactive plotly figure."""
        self.sections.append(_Section("figure", fig, title))

    def web(self, web: WebGraph, title: str = "", **kwargs: Any) -> None:
        """An interactive 3-D view of a web (see :func:`web_figure`)."""
        self.figure(web_figure(web, title=title, **kwargs), title)

    def image(self, path: str | os.PathLike, title: str = "") -> None:
        """A static PNG image, embedded as base64 so the page stays self-contained."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"report image {p} does not exist")
        self.sections.append(_Section("image", p.read_bytes(), title))

    # ---------------------------------------------------------------- rendering
    def to_html(self) -> str:
        """The whole page as a string, with plotly.js embedded once."""
        from plotly.offline import get_plotlyjs

        parts: list[str] = []
        n_fig = 0
        for s in self.sections:
            cap = f"<h3>{html.escape(s.title)}</h3>" if s.title and s.kind != "heading" else ""
            if s.kind == "heading":
                parts.append(f"<h2>{html.escape(s.payload)}</h2>")
            elif s.kind == "text":
                parts.append(f"<p>{html.escape(s.payload)}</p>")
            elif s.kind == "table":
                parts.append(cap + _table_html(s.payload))
            elif s.kind == "settings":
                body = html.escape(json.dumps(s.payload, indent=2, default=str))
                parts.append(f"{cap}<pre>{body}</pre>")
            elif s.kind == "image":
                b64 = base64.b64encode(s.payload).decode("ascii")
                alt = html.escape(s.title or "figure")
                parts.append(f'{cap}<img alt="{alt}" src="data:image/png;base64,{b64}">')
            elif s.kind == "figure":
                n_fig += 1
                div = s.payload.to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"fig{n_fig}",
                    config={"displaylogo": False, "responsive": True},
                )
                parts.append(f'<div class="fig">{div}</div>')
        title = html.escape(self.title)
        return _PAGE.format(
            title=title,
            plotlyjs=get_plotlyjs(),
            n_fig=n_fig,
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
) -> dict[str, int]:
    """Open a report in headless Chromium and read back its health markers.

    Returns ``{"js_errors": ..., "plots_rendered": ..., "plots_expected": ...}`` read from
    the page's ``<body>`` data attributes after scripts ran (virtual time budget
    ``budget_ms``); optionally saves a PNG screenshot. Raises :class:`InputError` if no
    browser is available or the page cannot be read.
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
        ]
        dom = subprocess.run(
            [*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout
        ).stdout
        if screenshot is not None:
            subprocess.run(
                [
                    *base,
                    "--window-size=1280,1600",
                    f"--screenshot={Path(screenshot).resolve()}",
                    url,
                ],
                capture_output=True,
                timeout=timeout,
            )
    m = re.search(r"<body([^>]*)>", dom)
    if not m:
        raise InputError(f"{path}: the browser returned no page body")
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(1)))
    return {
        "js_errors": int(attrs.get("js-errors", -1)),
        "plots_rendered": int(attrs.get("plots-rendered", -1)),
        "plots_expected": int(attrs.get("plots-expected", -1)),
    }


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _table_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p><em>(empty table)</em></p>"
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
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
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f2f2f2; }}
pre {{ background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }}
img {{ max-width: 100%; }}
.fig {{ margin-bottom: 1.5em; }}
</style></head>
<body data-plots-expected="{n_fig}">
<h1>{title}</h1>
{body}
<script>
function araneusHealth() {{
  document.body.dataset.jsErrors = String(window.__araneusErrors.length);
  var rendered = 0;
  document.querySelectorAll(".js-plotly-plot").forEach(function (d) {{
    if (d.querySelector(".main-svg") && d.querySelector("canvas, .scatterlayer .trace, .barlayer .trace, .heatmaplayer .hm, .pielayer .trace")) rendered++;
  }});
  document.body.dataset.plotsRendered = String(rendered);
}}
araneusHealth();
window.addEventListener("load", function () {{ setTimeout(araneusHealth, 300); }});
</script>
</body></html>
"""
