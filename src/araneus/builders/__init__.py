"""Procedural 3-D spider webs: orb (Araneus), tent/sheet (Cyrtophora) and tangle (cobweb).

Every builder is a function ``build_<family>(cfg, seed) -> WebGraph`` of a frozen config
dataclass (validated on construction; bad values raise :class:`~araneus.errors.ConfigError`
naming the parameter) and a seed (same seed, same web). Webs are in millimetres with
``edge_attrs["thread"]`` thread-type codes, ``edge_attrs["force_density"]`` (the force
density each thread segment was form-found with, relative units) and
``node_attrs["anchor"]`` marking anchors. Every config has a ``resolution``: 0 (default)
gives the junction-only web, ``"auto"`` or a segment length in mm its scan-like form
(:mod:`araneus.builders.resample`). :mod:`.calibration` holds the statistics of real webs the
builders are calibrated to.

:func:`default_web` is the web every later stage uses when the user brings none: the tent
web of *Cyrtophora citricola*, the species of the paper's scanned web.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..web import WebGraph
from .calibration import REAL_WEBS, TARGETS, check_targets, shape_statistics
from .orb import OrbConfig, build_orb
from .shaping import DEFAULT_FORCE_DENSITY, edge_force_density, form_find, shape_web
from .sheet import TentConfig, build_tent
from .tangle import TangleConfig, build_tangle


@dataclass(frozen=True)
class BuilderSpec:
    """A registered web family: its config class and build function."""

    name: str
    config: type
    build: Callable[..., WebGraph]
    description: str


BUILDERS: dict[str, BuilderSpec] = {
    "orb": BuilderSpec("orb", OrbConfig, build_orb, "Araneus orb: radii, hub, capture spiral"),
    "tent": BuilderSpec("tent", TentConfig, build_tent, "Cyrtophora tent: domed sheet in a tangle"),
    "tangle": BuilderSpec(
        "tangle", TangleConfig, build_tangle, "Theridiid cobweb: scaffold and gumfoot lines"
    ),
}

#: Family of :func:`default_web`.
DEFAULT_FAMILY = "tent"


def build(family: str, cfg: Any = None, seed: int = 0) -> WebGraph:
    """Build a web of ``family`` (``"orb"``, ``"tent"`` or ``"tangle"``).

    Parameters
    ----------
    family
        A key of :data:`BUILDERS`.
    cfg
        An instance of that family's config class, or None for the defaults.
    seed
        Random seed (non-negative int).
    """
    if family not in BUILDERS:
        raise ConfigError(f"unknown web family {family!r}; valid: {', '.join(BUILDERS)}")
    spec = BUILDERS[family]
    if cfg is not None and not isinstance(cfg, spec.config):
        raise ConfigError(
            f"cfg for {family!r} must be a {spec.config.__name__}, got {type(cfg).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return spec.build(cfg or spec.config(), int(seed))


def default_web(seed: int = 0, resolution: str | float = 0.0) -> WebGraph:
    """The default web of araneus: a *Cyrtophora* tent web (mm).

    ``resolution=0`` (default) gives the junction-only form (about 15.5k nodes);
    ``"auto"`` or a segment length gives the scan-like form (about 90k nodes at
    ``"auto"``), as the default dataset and the demo use it.
    """
    return build(DEFAULT_FAMILY, BUILDERS[DEFAULT_FAMILY].config(resolution=resolution), seed)


__all__ = [
    "BUILDERS",
    "BuilderSpec",
    "DEFAULT_FAMILY",
    "DEFAULT_FORCE_DENSITY",
    "OrbConfig",
    "REAL_WEBS",
    "TARGETS",
    "TangleConfig",
    "TentConfig",
    "build_tangle",
    "build_orb",
    "build",
    "build_tent",
    "check_targets",
    "default_web",
    "edge_force_density",
    "form_find",
    "shape_statistics",
    "shape_web",
]
