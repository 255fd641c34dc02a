"""Scan repair (the home of ``araneus repair``): put fragmented scan skeletons back together.

>>> from araneus.repair import repair
>>> web, report = repair(scan)  # doctest: +SKIP

:mod:`~araneus.repair.clean` runs the repair (merge, bridge gaps along the thread, simplify
chains, filter components: :func:`repair`, :class:`RepairConfig`, :class:`RepairReport`); its
bridging rules are in :mod:`~araneus.repair._bridge` (candidates),
:mod:`~araneus.repair._clearance` (distance to other threads) and
:mod:`~araneus.repair._matching` (the choice among them). :mod:`~araneus.repair.damage` does
the opposite for tests and benchmarks: scan-like breaks of an intact web
(:func:`simulate_breaks`) and the score of a repair against it (:func:`score_repair`).
"""

from __future__ import annotations

from .clean import DEFAULT_FACTORS, RepairConfig, RepairReport, repair
from .damage import score_repair, simulate_breaks

__all__ = [
    "DEFAULT_FACTORS",
    "RepairConfig",
    "RepairReport",
    "repair",
    "score_repair",
    "simulate_breaks",
]
