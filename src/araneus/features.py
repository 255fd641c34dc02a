"""Conditioning features and structural statistics of webs (vectorised).

The conditioning features are the seven numbers the generative models are conditioned on.
Their names (:data:`FEATURE_NAMES`) are stable strings used everywhere (datasets, model
checkpoints, the CLI's ``--condition name=value``):

``mean_edge_length``
    mean Euclidean edge length (length units of the web);
``mean_abs_dx``, ``mean_abs_dy``, ``mean_abs_dz``
    mean absolute x, y, z components of the edge vectors (orientation). The reference work
    used signed means, which vanish for undirected edges; absolute components carry the
    orientation information and do not depend on edge direction;
``num_nodes``
    number of nodes N;
``num_edges``
    number of undirected edges E;
``mean_degree``
    2E / N.

An empty web (or one without edges) has zero length/orientation features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import InputError
from .web import WebGraph

FEATURE_NAMES: tuple[str, ...] = (
    "mean_edge_length",
    "mean_abs_dx",
    "mean_abs_dy",
    "mean_abs_dz",
    "num_nodes",
    "num_edges",
    "mean_degree",
)

#: Units of each feature, for tables and axis labels ("L" = the web's length unit).
FEATURE_UNITS: dict[str, str] = {
    "mean_edge_length": "L",
    "mean_abs_dx": "L",
    "mean_abs_dy": "L",
    "mean_abs_dz": "L",
    "num_nodes": "count",
    "num_edges": "count",
    "mean_degree": "1",
}


def check_feature_names(names: Sequence[str], allowed: Sequence[str] = FEATURE_NAMES) -> None:
    """Raise :class:`InputError` listing the valid names if any name is unknown."""
    bad = [n for n in names if n not in allowed]
    if bad:
        raise InputError(f"unknown feature(s) {bad}; valid: {', '.join(allowed)}")


def conditioning_features(web: WebGraph) -> dict[str, float]:
    """The seven conditioning features of one web, as ``{name: value}``."""
    return dict(zip(FEATURE_NAMES, feature_vector(web).tolist()))


def feature_vector(web: WebGraph) -> np.ndarray:
    """The conditioning features of one web as a (7,) float64 array in FEATURE_NAMES order."""
    n, e = web.n_nodes, web.n_edges
    out = np.zeros(len(FEATURE_NAMES))
    if e:
        out[0] = web.edge_lengths.mean()
        out[1:4] = np.abs(web.edge_vectors).mean(axis=0)
    out[4] = n
    out[5] = e
    out[6] = 2.0 * e / n if n else 0.0
    return out


def batch_features(pos: np.ndarray, nbrs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Conditioning features of a padded batch in neighbour-list form, fully vectorised.

    Parameters
    ----------
    pos
        (S, L, 3) positions.
    nbrs
        (S, L, K) neighbour indices within each sample, -1 for an empty slot. Each
        undirected edge is expected in both endpoints' lists (as in a WebDataset).
    mask
        Optional (S, L) bool node mask (real nodes vs padding). If omitted, every row with
        at least one neighbour counts as a node.

    Returns
    -------
    (S, 7) float64 array in :data:`FEATURE_NAMES` order.
    """
    pos = np.asarray(pos, dtype=np.float64)
    nbrs = np.asarray(nbrs)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise InputError(f"pos must have shape (S, L, 3), got {pos.shape}")
    if nbrs.ndim != 3 or nbrs.shape[:2] != pos.shape[:2]:
        raise InputError(f"nbrs must have shape (S, L, K) matching pos, got {nbrs.shape}")
    s = nbrs.shape[0]
    valid = nbrs >= 0
    if mask is None:
        mask = valid.any(axis=2)
    mask = np.asarray(mask, dtype=bool)
    j = np.where(valid, nbrs, 0)
    other = pos[np.arange(s)[:, None, None], j]  # (S, L, K, 3)
    vec = other - pos[:, :, None, :]
    w = valid.astype(np.float64)
    n_dir = w.sum(axis=(1, 2))  # each undirected edge counted twice
    safe = np.maximum(n_dir, 1)
    out = np.zeros((s, len(FEATURE_NAMES)))
    out[:, 0] = (np.linalg.norm(vec, axis=3) * w).sum(axis=(1, 2)) / safe
    out[:, 1:4] = (np.abs(vec) * w[..., None]).sum(axis=(1, 2)) / safe[:, None]
    n_nodes = mask.sum(axis=1).astype(np.float64)
    out[:, 4] = n_nodes
    out[:, 5] = n_dir / 2
    out[:, 6] = np.where(n_nodes > 0, n_dir / np.maximum(n_nodes, 1), 0.0)
    return out


def features_table(webs: Sequence[WebGraph]) -> np.ndarray:
    """(len(webs), 7) conditioning features of a list of webs."""
    if not len(webs):
        return np.zeros((0, len(FEATURE_NAMES)))
    return np.stack([feature_vector(w) for w in webs])
