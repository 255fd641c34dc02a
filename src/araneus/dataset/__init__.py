"""Inductive-sampling datasets: many small conditioned webs cut out of big ones.

Public surface (the contract with the generative models):

- :class:`WebDataset`: padded arrays ``pos`` (S, L, 3), ``nbrs`` (S, L, K), ``mask``
  (S, L), ``features`` (S, F), ``split`` (S,), ``meta``, ``normaliser``.
- :class:`Normaliser`: positions scale plus per-feature affine map to [-1, 1], fitted on
  the training split.
- :func:`build_dataset`, :func:`default_dataset`: sampling from source webs.
- :func:`load_reference`: import the reference work's ``dataset_webs_medium.pt``.
- :func:`add_mechanics`: append the mechanical descriptors (stiffness per gram) as features.
"""

from .build import (
    DEFAULT_FAMILIES,
    DEFAULT_RESOLUTION,
    DEFAULT_SCALES,
    DEFAULT_SETTINGS,
    SAMPLERS,
    SPLIT_MODES,
    build_dataset,
    default_dataset,
    default_sources,
)
from .encode import degree_cap_mask
from .mechanics import MECHANICS_CHOICES, add_mechanics
from .normaliser import Normaliser
from .reference import load_reference
from .webdataset import EXTRA_FEATURES, SPLITS, WebDataset

__all__ = [
    "WebDataset",
    "Normaliser",
    "build_dataset",
    "default_dataset",
    "default_sources",
    "load_reference",
    "degree_cap_mask",
    "add_mechanics",
    "MECHANICS_CHOICES",
    "SAMPLERS",
    "SPLIT_MODES",
    "SPLITS",
    "EXTRA_FEATURES",
    "DEFAULT_FAMILIES",
    "DEFAULT_RESOLUTION",
    "DEFAULT_SCALES",
    "DEFAULT_SETTINGS",
]
