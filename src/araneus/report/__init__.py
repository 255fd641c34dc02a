"""Reports: what a run made, for people to read.

:mod:`~araneus.report.page` assembles one self-contained interactive HTML page
(:class:`Report`); :mod:`~araneus.report.plot` draws webs (matplotlib, PNG/SVG/PDF);
:mod:`~araneus.report.figures` writes the analysis figures of ``araneus analyze``;
:mod:`~araneus.report.formatting` formats every value a person reads. The demo's page lives
in :mod:`~araneus.report.demo` (with :mod:`~araneus.report.demo_figures` and
:mod:`~araneus.report.demo_warnings`).
"""

from __future__ import annotations

from .figures import FIGURE_FILES, write_analysis_figures
from .page import Report, check_in_browser, find_chromium, web_figure
from .plot import plot_web

__all__ = [
    "FIGURE_FILES",
    "Report",
    "check_in_browser",
    "find_chromium",
    "plot_web",
    "web_figure",
    "write_analysis_figures",
]
