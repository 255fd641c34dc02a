"""The one progress bar of araneus: rich, on stderr, with the time left (ETA).

Long work (training, generating many webs, assembling from a model, meshing, building a
dataset, the demo) reports through :class:`Progress`. Bars go to stderr, so that stdout
keeps only the results that scripts and tests parse, and appear only when stderr is a
terminal: in logs and pipes they stay silent. ``ARANEUS_PROGRESS=0`` turns them off,
``ARANEUS_PROGRESS=1`` forces them on (e.g. for a CI log).
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENV = "ARANEUS_PROGRESS"


def progress_wanted(enabled: bool = True) -> bool:
    """Whether a bar should be drawn: ``enabled`` and (forced, or stderr is a terminal)."""
    flag = os.environ.get(ENV, "").strip().lower()
    if not enabled or flag in ("0", "false", "no", "off"):
        return False
    if flag in ("1", "true", "yes", "on"):
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class Progress:
    """A rich progress bar with count, elapsed time and ETA; a no-op when not wanted.

    Parameters
    ----------
    label
        What is being done (``"train sparse"``, ``"generate"``).
    total
        Units of work (steps, webs, pieces); ``None`` for work of unknown size (a spinner
        with the elapsed time).
    enabled
        Caller's switch (``--no-progress``); see :func:`progress_wanted`.
    start
        Units already done (a resumed run).
    fields
        Extra values shown after the count, e.g. ``{"loss": float("nan")}`` with ``fmt``
        ``"loss {loss:.4f}"``.
    fmt
        Format of ``fields`` (``str.format`` keys are the field names).

    Use as a context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        enabled: bool = True,
        start: int = 0,
        fields: dict[str, Any] | None = None,
        fmt: str = "",
    ):
        self._bar = None
        self._fmt = fmt
        self._fields = dict(fields or {})
        if not progress_wanted(enabled):
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        columns: list[Any] = [TextColumn("{task.description}")]
        if total is None:
            columns += [SpinnerColumn()]
            if fmt:
                columns.append(TextColumn("{task.fields[extra]}"))
            columns += [TimeElapsedColumn()]
        else:
            columns += [BarColumn(), MofNCompleteColumn()]
            if fmt:
                columns.append(TextColumn("{task.fields[extra]}"))
            columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
        force = os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")
        console = Console(stderr=True, force_terminal=force or None)
        self._bar = RichProgress(*columns, console=console, transient=False)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, completed=start, extra=self._extra())

    def _extra(self) -> str:
        if not self._fmt:
            return ""
        try:
            return self._fmt.format(**self._fields)
        except (KeyError, ValueError):
            return ""

    @property
    def active(self) -> bool:
        """True when a bar is drawn."""
        return self._bar is not None

    def update(self, completed: int | None = None, *, label: str | None = None, **fields: Any):
        """Set the units done (and the label or extra fields)."""
        if self._bar is None:
            return
        self._fields.update(fields)
        kw: dict[str, Any] = {"extra": self._extra()}
        if completed is not None:
            kw["completed"] = completed
        if label is not None:
            kw["description"] = label
        self._bar.update(self._task, **kw)

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Add ``n`` units done."""
        if self._bar is None:
            return
        self._fields.update(fields)
        self._bar.update(self._task, advance=n, extra=self._extra())

    def print(self, text: str) -> None:
        """A line on stderr above the bar (nothing when no bar is drawn)."""
        if self._bar is not None:
            self._bar.console.print(text, highlight=False, markup=False)

    def close(self) -> None:
        """Stop drawing (idempotent)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
