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
from typing import Any

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


# ================================================================== structural statistics
# Everything below describes a single web's structure (graph and geometry). All functions
# are vectorised (numpy / scipy.sparse); ``web_statistics`` gathers them into one
# JSON-serialisable summary.

#: Upper limit of histogram bins (more only costs memory and time).
MAX_BINS = 10_000

#: Quantiles reported by :func:`distribution_summary`.
SUMMARY_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


def _require_web(web: WebGraph, what: str) -> None:
    if not isinstance(web, WebGraph):
        raise InputError(f"{what} expects a WebGraph, got {type(web).__name__}")


def degree_histogram(web: WebGraph) -> np.ndarray:
    """Node count per degree: ``h[k]`` = number of nodes with degree k, shape (max_degree+1,)."""
    _require_web(web, "degree_histogram")
    return np.bincount(web.degrees, minlength=1).astype(np.int64)


def edge_angles_to_vertical(web: WebGraph) -> np.ndarray:
    """(E,) angle of each (undirected) edge to the z axis in degrees, in [0, 90].

    0 = vertical thread, 90 = horizontal thread. Zero-length edges get 90.
    """
    _require_web(web, "edge_angles_to_vertical")
    if web.n_edges == 0:
        return np.zeros(0)
    dz = np.abs(web.edge_vectors[:, 2])
    length = web.edge_lengths
    cos = np.divide(dz, length, out=np.zeros_like(dz), where=length > 0)
    return np.degrees(np.arccos(np.clip(cos, 0.0, 1.0)))


def distribution_summary(values: np.ndarray) -> dict[str, float]:
    """Mean, std, min, 10th/50th/90th percentiles and max of ``values`` (zeros if empty)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    keys = ["mean", "std", "min", "p10", "median", "p90", "max"]
    if v.size == 0:
        return dict.fromkeys(keys, 0.0)
    q = np.quantile(v, SUMMARY_QUANTILES)
    vals = [v.mean(), v.std(), v.min(), q[0], q[1], q[2], v.max()]
    return {k: float(x) for k, x in zip(keys, vals)}


def histogram(
    values: np.ndarray, bins: int = 20, value_range: tuple[float, float] | None = None
) -> dict[str, list[float]]:
    """JSON-able histogram of ``values``.

    Parameters
    ----------
    values
        Any array; flattened.
    bins
        Number of bins (integer in [1, :data:`MAX_BINS`]).
    value_range
        (lo, hi) of the bins; default the data range (widened to 1 if degenerate).

    Returns
    -------
    dict
        ``{"counts": [bins ints], "bin_edges": [bins + 1 floats]}``.
    """
    if isinstance(bins, bool) or int(bins) != bins or not 1 <= bins <= MAX_BINS:
        raise InputError(f"bins must be an integer in [1, {MAX_BINS}], got {bins}")
    v = np.asarray(values, dtype=np.float64).ravel()
    if value_range is None:
        value_range = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
        if value_range[1] <= value_range[0]:
            value_range = (value_range[0], value_range[0] + 1.0)
    counts, edges = np.histogram(v, bins=int(bins), range=value_range)
    return {"counts": counts.astype(int).tolist(), "bin_edges": edges.tolist()}


def _triangle_counts(web: WebGraph) -> np.ndarray:
    """(N,) twice the number of triangles through each node: ``diag(A^3)``."""
    a = web.adjacency.astype(np.int64)
    return np.asarray((a @ a).multiply(a).sum(axis=1)).ravel()


def clustering_coefficients(web: WebGraph) -> np.ndarray:
    """(N,) local clustering coefficient of each node (0 for degree < 2).

    ``c_i = 2 T_i / (k_i (k_i - 1))`` with ``T_i`` the triangles through node i, from the
    sparse product ``diag(A^3)`` (no Python loop over nodes).
    """
    _require_web(web, "clustering_coefficients")
    k = web.degrees.astype(np.float64)
    pairs = k * (k - 1)
    tri2 = _triangle_counts(web).astype(np.float64)
    return np.divide(tri2, pairs, out=np.zeros_like(tri2), where=pairs > 0)


def transitivity(web: WebGraph) -> float:
    """Global clustering: 3 x triangles / connected triples (0 if there are no triples)."""
    _require_web(web, "transitivity")
    k = web.degrees.astype(np.float64)
    triples = float((k * (k - 1)).sum())
    return float(_triangle_counts(web).sum() / triples) if triples > 0 else 0.0


def cycle_rank(web: WebGraph) -> int:
    """Cycle rank (circuit rank) E - N + C: the number of independent closed loops."""
    _require_web(web, "cycle_rank")
    return int(web.n_edges - web.n_nodes + web.n_components)


def component_statistics(web: WebGraph) -> dict[str, float]:
    """Number of components, largest size, its node fraction, isolated nodes, size summary."""
    _require_web(web, "component_statistics")
    n = web.n_nodes
    sizes = web.component_sizes() if n else np.zeros(0, dtype=np.int64)
    return {
        "components": int(web.n_components),
        "largest_component": int(sizes.max()) if n else 0,
        "largest_fraction": float(sizes.max() / n) if n else 0.0,
        "isolated_nodes": int(np.count_nonzero(web.degrees == 0)),
        "size_median": float(np.median(sizes)) if n else 0.0,
    }


def _extent(web: WebGraph) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box with every side at least the median edge length (flat webs get depth)."""
    lo, hi = web.bbox()
    floor = float(np.median(web.edge_lengths)) if web.n_edges else 1.0
    floor = floor if floor > 0 else 1.0
    pad = np.maximum(floor - (hi - lo), 0.0) / 2
    return lo - pad, hi + pad


def spatial_density(web: WebGraph) -> dict[str, float]:
    """Densities over the bounding box (L = the web's length unit).

    Each side of the box is widened to at least the median edge length so that planar webs
    have a finite volume. Returns the box extents and volume (L^3), node density (1/L^3),
    thread length density (total edge length / volume, 1/L^2) and total length (L).
    """
    _require_web(web, "spatial_density")
    if web.n_nodes == 0:
        raise InputError("spatial density of an empty web is undefined")
    lo, hi = _extent(web)
    ext = hi - lo
    vol = float(np.prod(ext))
    total = float(web.edge_lengths.sum())
    return {
        "extent_x": float(ext[0]),
        "extent_y": float(ext[1]),
        "extent_z": float(ext[2]),
        "volume": vol,
        "node_density": web.n_nodes / vol,
        "length_density": total / vol,
        "total_length": total,
    }


def _voxel_shape(voxels: int | tuple[int, int, int]) -> np.ndarray:
    v = np.atleast_1d(np.asarray(voxels))
    if v.shape == (1,):
        v = np.repeat(v, 3)
    if v.shape != (3,) or v.dtype.kind not in "iu" or np.any(v < 1) or np.any(v > 256):
        raise InputError(
            f"voxels must be an integer in [1, 256] or three such integers, got {voxels!r}"
        )
    return v.astype(np.int64)


def heterogeneity_map(web: WebGraph, voxels: int | tuple[int, int, int] = 4) -> dict[str, object]:
    """Statistics per voxel region of the web's bounding box (a heterogeneity map).

    The (widened, see :func:`spatial_density`) bounding box is cut into ``voxels`` cells
    per axis. Nodes are binned by position, edges by midpoint.

    Returns
    -------
    dict with
        ``shape`` (3,), ``lo`` and ``voxel_size`` (3,) in L;
        ``node_count`` (nx, ny, nz) int, ``length_density`` (nx, ny, nz) thread length per
        voxel volume (1/L^2), ``mean_degree`` (nx, ny, nz) (0 where empty),
        ``mean_edge_length`` (nx, ny, nz) (0 where empty), as nested lists;
        ``occupied_fraction`` share of voxels holding at least one edge midpoint;
        ``length_density_cv`` coefficient of variation of the length density over all
        voxels (0 = homogeneous; grows with holes and dense clusters).
    """
    _require_web(web, "heterogeneity_map")
    if web.n_nodes == 0:
        raise InputError("heterogeneity map of an empty web is undefined")
    shape = _voxel_shape(voxels)
    lo, hi = _extent(web)
    size = (hi - lo) / shape
    n_vox = int(np.prod(shape))

    def flat_index(p: np.ndarray) -> np.ndarray:
        ijk = np.clip(np.floor((p - lo) / size).astype(np.int64), 0, shape - 1)
        return np.ravel_multi_index(ijk.T, tuple(shape))

    node_vox = flat_index(web.pos)
    count = np.bincount(node_vox, minlength=n_vox)
    deg_sum = np.bincount(node_vox, weights=web.degrees.astype(np.float64), minlength=n_vox)
    if web.n_edges:
        mid = web.pos[web.edges].mean(axis=1)
        edge_vox = flat_index(mid)
        length = np.bincount(edge_vox, weights=web.edge_lengths, minlength=n_vox)
        n_e = np.bincount(edge_vox, minlength=n_vox)
    else:
        length = np.zeros(n_vox)
        n_e = np.zeros(n_vox, dtype=np.int64)
    dens = length / float(np.prod(size))
    mean_deg = np.divide(deg_sum, count, out=np.zeros(n_vox), where=count > 0)
    mean_len = np.divide(length, n_e, out=np.zeros(n_vox), where=n_e > 0)
    mu = dens.mean()
    s = tuple(int(x) for x in shape)
    return {
        "shape": list(s),
        "lo": lo.tolist(),
        "voxel_size": size.tolist(),
        "node_count": count.reshape(s).tolist(),
        "length_density": dens.reshape(s).tolist(),
        "mean_degree": mean_deg.reshape(s).tolist(),
        "mean_edge_length": mean_len.reshape(s).tolist(),
        "occupied_fraction": float(np.count_nonzero(n_e) / n_vox),
        "length_density_cv": float(dens.std() / mu) if mu > 0 else 0.0,
    }


def web_statistics(
    web: WebGraph, bins: int = 20, voxels: int | tuple[int, int, int] = 4
) -> dict[str, object]:
    """One JSON-serialisable structural summary of ``web``.

    Parameters
    ----------
    web
        The web (at least one node).
    bins
        Number of bins of the edge-length and orientation histograms.
    voxels
        Cells per axis of the heterogeneity map (int or three ints).

    Returns
    -------
    dict with keys ``features`` (the seven conditioning features), ``degree``
    (histogram list indexed by degree, mean, max), ``edge_length`` (summary + histogram),
    ``orientation`` (angle to vertical in degrees: summary + histogram over [0, 90]),
    ``clustering`` (average local coefficient, transitivity), ``cycle_rank``,
    ``components``, ``density`` and ``heterogeneity``.
    """
    _require_web(web, "web_statistics")
    if web.n_nodes == 0:
        raise InputError("cannot compute statistics of an empty web (no nodes)")
    histogram([], bins)  # validates bins early
    deg = web.degrees
    lengths = web.edge_lengths
    angles = edge_angles_to_vertical(web)
    cc = clustering_coefficients(web)
    return {
        "features": conditioning_features(web),
        "degree": {
            "histogram": degree_histogram(web).tolist(),
            "mean": float(deg.mean()),
            "max": int(deg.max()),
        },
        "edge_length": {**distribution_summary(lengths), "histogram": histogram(lengths, bins)},
        "orientation": {
            **distribution_summary(angles),
            "vertical_fraction": float(np.mean(angles < 30)) if len(angles) else 0.0,
            "horizontal_fraction": float(np.mean(angles > 60)) if len(angles) else 0.0,
            "histogram": histogram(angles, bins, (0.0, 90.0)),
        },
        "clustering": {"average": float(cc.mean()), "transitivity": transitivity(web)},
        "cycle_rank": cycle_rank(web),
        "components": component_statistics(web),
        "density": spatial_density(web),
        "heterogeneity": heterogeneity_map(web, voxels),
    }


def web_summary(web: WebGraph, report: Any = None) -> dict[str, Any]:
    """A quick JSON-serialisable summary: sizes, components, degrees, bbox, edge lengths.

    This is what ``araneus info`` prints and what :class:`~araneus.repair.RepairReport`
    records before and after a repair.

    Parameters
    ----------
    web
        The web to summarise (may be empty).
    report
        Optional read report (anything with ``as_dict()``, e.g. from
        :func:`araneus.io.read_web_report`); its counts are included under ``"read"``.

    Returns
    -------
    dict
        ``nodes``, ``edges``, ``components``, ``largest_component``, ``isolated_nodes``,
        ``degree1_nodes`` (thread ends), ``degree`` (min/mean/max and ``histogram`` as
        {degree: count}; None for an empty web), ``bbox`` (``lo``/``hi``/``size``, 3 floats
        each in L; None for an empty web), ``edge_length`` (min/median/mean/max and
        ``total`` in L; None without edges), node/edge attribute names and ``read``.
    """
    _require_web(web, "web_summary")
    n, deg = web.n_nodes, web.degrees
    out: dict[str, Any] = {
        "nodes": n,
        "edges": web.n_edges,
        "components": web.n_components,
        "largest_component": int(web.component_sizes().max()) if n else 0,
        "isolated_nodes": int(np.count_nonzero(deg == 0)),
        "degree1_nodes": int(np.count_nonzero(deg == 1)),
        "degree": None,
        "bbox": None,
        "edge_length": None,
        "node_attrs": sorted(web.node_attrs),
        "edge_attrs": sorted(web.edge_attrs),
    }
    if n:
        vals, cnt = np.unique(deg, return_counts=True)
        hist = {int(v): int(c) for v, c in zip(vals, cnt)}
        out["degree"] = {
            "min": int(deg.min()),
            "mean": float(deg.mean()),
            "max": int(deg.max()),
            "histogram": hist,
        }
        lo, hi = web.bbox()
        out["bbox"] = {"lo": lo.tolist(), "hi": hi.tolist(), "size": (hi - lo).tolist()}
    if web.n_edges:
        length = web.edge_lengths
        out["edge_length"] = {
            "min": float(length.min()),
            "median": float(np.median(length)),
            "mean": float(length.mean()),
            "max": float(length.max()),
            "total": float(length.sum()),
        }
    if report is not None:
        out["read"] = report.as_dict()
    return out
