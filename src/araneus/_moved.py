"""Old import paths of modules that moved (issue 23), kept working.

Each stage now lives in one package (``report/``, ``fabrication/``, ``repair/``, training in
``models/``). Code written against the old top-level modules still imports: ``import
araneus.clean`` gives the module :mod:`araneus.repair.clean` itself (same object, same
classes), with a :class:`DeprecationWarning` naming the new path. Nothing is copied.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old module path -> where it lives now
MOVED: dict[str, str] = {
    "araneus.clean": "araneus.repair.clean",
    "araneus.damage": "araneus.repair.damage",
    "araneus._bridge": "araneus.repair._bridge",
    "araneus._clearance": "araneus.repair._clearance",
    "araneus._matching": "araneus.repair._matching",
    "araneus.fabricate": "araneus.fabrication.mesh",
    "araneus.train": "araneus.models.train",
    "araneus.train_state": "araneus.models.train_state",
    "araneus.models.discrete_model": "araneus.models.discrete",
    "araneus.plot": "araneus.report.plot",
    "araneus.formatting": "araneus.report.formatting",
    "araneus.report_figures": "araneus.report.figures",
    "araneus.demo_report": "araneus.report.demo",
    "araneus.demo_figures": "araneus.report.demo_figures",
    "araneus.demo_warnings": "araneus.report.demo_warnings",
    "araneus.resample": "araneus.builders.resample",
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path in :data:`MOVED` and loads it as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} has moved to {new}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module) -> None:
        """Nothing to run: the module at the new path is already imported."""


def install() -> None:
    """Put the finder on :data:`sys.meta_path` once (after the regular finders)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
