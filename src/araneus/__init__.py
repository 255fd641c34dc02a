"""araneus: generative design of bio-inspired 3-D spider-web structures.

The core type is :class:`araneus.WebGraph`; every stage (readers, builders, repair,
features, datasets, generative models, assembly, fabrication, mechanics) takes and returns
it. Heavy dependencies (torch, trimesh, plotly) are imported lazily by the modules that
need them, so ``import araneus`` stays fast.
"""

from ._moved import install as _install_moved
from .errors import AraneusError, ConfigError, FormatError, InputError, ModelError, SolverError
from .web import THREAD_TYPES, CanonReport, WebGraph, canonicalize_edges, concat_webs

__version__ = "0.1.0"

_install_moved()  # old module paths (before issue 23) still import; see araneus._moved

__all__ = [
    "__version__",
    "WebGraph",
    "CanonReport",
    "canonicalize_edges",
    "concat_webs",
    "THREAD_TYPES",
    "AraneusError",
    "InputError",
    "ConfigError",
    "FormatError",
    "ModelError",
    "SolverError",
]
