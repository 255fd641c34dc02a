"""Building WebDatasets by inductive sampling of one or several source webs."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .._util import apply_overrides
from ..errors import AraneusError, InputError
from ..web import WebGraph
from .encode import (
    Packed,
    augment,
    concat_packed,
    degree_cap_mask,
    seed_component,
    select_samples,
)
from .samplers import bfs_ball, induce, random_walk, spatial_crop
from .webdataset import EXTRA_FEATURES, WebDataset

SAMPLERS = ("rw", "bfs", "crop")
SPLIT_MODES = ("random", "region", "none")
MAX_SAMPLE_NODES = 128
_BATCH = 4096


def _check_args(n, sampler, n_min, n_max, k, split, fractions, crop_shape, extra, n_regions):
    if int(n) < 1:
        raise InputError(f"n (number of samples) must be >= 1, got {n}")
    if sampler not in SAMPLERS:
        raise InputError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if not 2 <= int(n_min) <= int(n_max):
        raise InputError(f"need 2 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}")
    if int(n_max) > MAX_SAMPLE_NODES:
        raise InputError(f"n_max must be <= {MAX_SAMPLE_NODES}, got {n_max}")
    if int(k) < 1:
        raise InputError(f"K (max neighbours) must be >= 1, got {k}")
    if split not in SPLIT_MODES:
        raise InputError(f"split must be one of {SPLIT_MODES}, got {split!r}")
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or not np.isfinite(fr).all() or (fr < 0).any() or fr.sum() <= 0:
        raise InputError(
            f"fractions must be 3 non-negative numbers (train, val, test): {fractions}"
        )
    if crop_shape not in ("sphere", "cube"):
        raise InputError(f"crop_shape must be 'sphere' or 'cube', got {crop_shape!r}")
    bad = [e for e in extra if e not in EXTRA_FEATURES]
    if bad:
        raise InputError(f"unknown extra feature(s) {bad}; valid: {', '.join(EXTRA_FEATURES)}")
    if int(n_regions) < 3 and split == "region":
        raise InputError(f"n_regions must be >= 3 for a region split, got {n_regions}")
    return fr / fr.sum()


def _check_mechanics(mechanics, strut, workers) -> None:
    from .mechanics import MECHANICS_CHOICES

    if str(mechanics).lower() not in MECHANICS_CHOICES:
        raise InputError(f"mechanics must be one of {', '.join(MECHANICS_CHOICES)}, got {mechanics!r}")
    if strut is not None and not (np.isfinite(strut) and 0 < strut <= 1e3):
        raise InputError(f"strut must be a positive diameter in mm, got {strut!r}")
    if isinstance(workers, bool) or int(workers) != workers or not 1 <= workers <= 256:
        raise InputError(f"workers must be an integer in 1..256, got {workers!r}")


def _split_counts(n: int, fr: np.ndarray) -> np.ndarray:
    c = np.floor(n * fr).astype(np.int64)
    c[0] += n - c.sum()
    return c


def _region_labels(web: WebGraph, n_regions: int, fr: np.ndarray, rng) -> np.ndarray:
    """Split code (0/1/2) of every node: equal-count slabs along the longer horizontal axis."""
    lo, hi = web.bbox()
    axis = 0 if hi[0] - lo[0] >= hi[1] - lo[1] else 1
    rank = np.empty(web.n_nodes, dtype=np.int64)
    rank[np.argsort(web.pos[:, axis], kind="stable")] = np.arange(web.n_nodes)
    region = rank * n_regions // max(web.n_nodes, 1)
    per = np.floor(n_regions * fr).astype(np.int64)
    for j in (1, 2):
        if fr[j] > 0 and per[j] == 0:
            per[j] = 1
    per[0] = n_regions - per[1] - per[2]
    codes = np.repeat(np.arange(3), per)
    return codes[rng.permutation(n_regions)][region].astype(np.int8)


class _Source:
    """A degree-capped source web: CSR arrays, seed pools, optional per-node split codes."""

    def __init__(self, web: WebGraph, k: int, n_min: int, node_split: np.ndarray | None):
        keep = degree_cap_mask(web.pos, web.edges, k)
        self.dropped = int((~keep).sum())
        e = web.edges[keep]
        if node_split is not None:  # cut edges between regions of different splits
            e = e[node_split[e[:, 0]] == node_split[e[:, 1]]]
        n = web.n_nodes
        r = np.concatenate([e[:, 0], e[:, 1]])
        c = np.concatenate([e[:, 1], e[:, 0]])
        a = sp.csr_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n))
        a.sort_indices()
        self.indptr, self.indices = a.indptr.astype(np.int64), a.indices.astype(np.int64)
        self.pos = web.pos
        _, lab = connected_components(a, directed=False)
        sizes = np.bincount(lab)
        self.eligible = sizes[lab] >= n_min
        self.largest = int(sizes.max())
        self.node_split = node_split
        self._tree: cKDTree | None = None

    def seeds(self, code: int | None) -> np.ndarray:
        """Nodes that may seed a sample (in a component of >= n_min nodes, in the split)."""
        ok = self.eligible if code is None else self.eligible & (self.node_split == code)
        return np.flatnonzero(ok)

    @property
    def tree(self) -> cKDTree:
        """KD-tree of the source positions (built on first use, for the crop sampler)."""
        if self._tree is None:
            self._tree = cKDTree(self.pos)
        return self._tree


def _draw(src: _Source, pool, count, code, rng, cfg) -> tuple[Packed, int]:
    """Draw ``count`` samples of sizes in [n_min, n_max] seeded from ``pool``."""
    parts, got, rejected, tries = [], 0, 0, 0
    while got < count:
        tries += 1
        if tries > 50:
            raise InputError(
                f"could not cut {count} samples of >= {cfg['n_min']} nodes from the source web "
                f"({rejected} too small); lower n_min or use another sampler"
            )
        b = int(min(_BATCH, (count - got) * 1.25 + 8))
        seeds = pool[rng.integers(0, len(pool), b)]
        target = rng.integers(cfg["n_min"], cfg["n_max"] + 1, b)
        if cfg["sampler"] == "rw":
            samp, node = random_walk(src.indptr, src.indices, seeds, target, rng, cfg["max_steps"])
        elif cfg["sampler"] == "bfs":
            samp, node = bfs_ball(src.indptr, src.indices, seeds, target, rng)
        else:
            samp, node = spatial_crop(src.tree, src.pos, seeds, target, cfg["crop_shape"])
            if code is not None:
                inside = src.node_split[node] == code
                samp, node = samp[inside], node[inside]
        p = induce(src.indptr, src.indices, src.pos, samp, node, b)
        if cfg["sampler"] == "crop":
            p = seed_component(p)
        ok = p.sizes >= cfg["n_min"]
        rejected += int((~ok).sum())
        ok &= np.cumsum(ok) <= count - got
        got += int(ok.sum())
        parts.append(select_samples(p, ok))
    return concat_packed(parts), rejected


def _overlap(ds_origin: np.ndarray, source_id: np.ndarray, split: np.ndarray) -> dict:
    """Fraction of val/test sample nodes that also occur in some training sample."""
    big = int(ds_origin.max()) + 2 if ds_origin.size else 1
    keys = source_id[:, None] * big + ds_origin
    real = ds_origin >= 0
    train = np.unique(keys[(split == 0)[:, None] & real])
    out = {}
    for code, name in ((1, "val"), (2, "test")):
        k = keys[(split == code)[:, None] & real]
        out[f"{name}_nodes_in_train"] = float(np.isin(k, train).mean()) if k.size else 0.0
    return out


def build_dataset(
    source: WebGraph | Sequence[WebGraph],
    n: int,
    sampler: str = "rw",
    n_min: int = 16,
    n_max: int = 64,
    K: int = 5,  # noqa: N803 - the paper's name
    split: str = "random",
    seed: int = 0,
    *,
    L: int | None = None,  # noqa: N803
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    n_regions: int = 10,
    crop_shape: str = "sphere",
    rotate: bool = False,
    reflect: bool = False,
    jitter: float = 0.0,
    extra_features: Sequence[str] = (),
    max_steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    mechanics: str = "none",
    strut: float | None = None,
    workers: int = 1,
) -> WebDataset:
    """Cut ``n`` small connected samples out of one or several source webs.

    A source web may consist of several pieces (e.g. a repaired scan that keeps every
    fragment): every sample lies in one connected piece, seeds are drawn only in pieces of
    at least ``n_min`` nodes (so pieces are sampled in proportion to their size), and a
    sample in a piece smaller than its drawn target size is that whole piece.

    Parameters
    ----------
    source
        A WebGraph or a list of them; samples are spread evenly over the webs.
    n
        Number of samples S.
    sampler
        ``"rw"`` random walk, ``"bfs"`` breadth-first ball, ``"crop"`` spatial crop (see
        :mod:`araneus.dataset.samplers`).
    n_min, n_max
        Sample size range in nodes (target sizes drawn uniformly; 2 <= n_min <= n_max <= 128).
    K
        Degree cap (neighbour slots). Applied to each source web once, by the rule in
        :mod:`araneus.dataset.encode`; dropped edges are counted in ``meta``.
    split
        ``"random"``: samples assigned to train/val/test at random; ``"region"``: each
        source web is cut into ``n_regions`` equal-count slabs along its longer horizontal
        axis, slabs are assigned to splits, and every sample lies inside one slab (no
        node is shared between splits); ``"none"``: everything is train.
    seed
        Seed of every random choice (same seed, same dataset).
    L
        Padded length (default ``n_max``).
    fractions
        Train/val/test fractions.
    crop_shape
        ``"sphere"`` or ``"cube"`` for the crop sampler.
    rotate, reflect, jitter
        Augmentation: random rotation about the vertical z axis, x-reflection, Gaussian
        position noise (fraction of the mean edge length). Features are measured after.
    extra_features
        Extra feature names from :data:`~araneus.dataset.webdataset.EXTRA_FEATURES`.
    max_steps
        Random-walk step limit (default ``8 * n_max``).
    progress
        Called as ``progress(samples_done, n)`` as sampling proceeds (for a progress bar).
    mechanics
        ``"none"`` or a material (``silk``, ``pla``, ...): append the mechanical descriptors
        (stiffness per gram in tension along x, y, z and under a point load, see
        :mod:`araneus.mechanics.descriptors`) to the features
        (:func:`araneus.dataset.mechanics.add_mechanics`).
    strut
        Thread / strut diameter [mm] of the descriptors (default by material).
    workers
        Processes for the descriptors.

    Returns
    -------
    WebDataset with samples grouped by split (train, then val, then test).
    """
    webs = [source] if isinstance(source, WebGraph) else list(source)
    if not webs or not all(isinstance(w, WebGraph) for w in webs):
        raise InputError("source must be a WebGraph or a non-empty list of WebGraphs")
    fr = _check_args(n, sampler, n_min, n_max, K, split, fractions, crop_shape, extra_features,
                     n_regions)  # fmt: skip
    _check_mechanics(mechanics, strut, workers)
    n, n_min, n_max, K = int(n), int(n_min), int(n_max), int(K)  # noqa: N806
    length = n_max if L is None else int(L)
    if length < n_max:
        raise InputError(f"L={length} must be >= n_max={n_max}")
    if not (np.isfinite(jitter) and 0 <= jitter <= 1):
        raise InputError(f"jitter must be in [0, 1] (fraction of the edge length), got {jitter}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    cfg = {
        "sampler": sampler, "n_min": n_min, "n_max": n_max, "K": K, "split": split,
        "seed": int(seed), "fractions": fr.tolist(), "n_regions": int(n_regions),
        "crop_shape": crop_shape, "rotate": bool(rotate), "reflect": bool(reflect),
        "jitter": float(jitter), "max_steps": int(max_steps or 8 * n_max),
    }  # fmt: skip
    rng = np.random.default_rng(seed)
    parts, codes, sources, rejected = _sample_webs(webs, n, fr, rng, cfg, progress)
    packed = concat_packed(parts)
    split_codes = np.concatenate(codes)
    if split == "random":
        split_codes = np.repeat(np.arange(3), _split_counts(n, fr))[rng.permutation(n)]
        split_codes = split_codes.astype(np.int8)
    order = np.argsort(split_codes, kind="stable")
    packed = _reorder(packed, order)
    split_codes = split_codes[order]
    packed = augment(packed, rng, rotate, reflect, jitter)
    meta = {
        "source": "sampled",
        "sources": sources,
        "sampler": cfg,
        "counts": {
            "samples": n,
            "split": np.bincount(split_codes, minlength=3).tolist(),
            "rejected_small": rejected,
            "degree_cap_dropped_edges": int(sum(s["degree_cap_dropped_edges"] for s in sources)),
        },
    }
    ds = WebDataset.from_packed(packed, K, length, split_codes, meta, extra_features)
    ds.meta["split_overlap"] = _overlap(ds.origin, ds.source_id, ds.split)
    if str(mechanics).lower() != "none":
        from .mechanics import add_mechanics

        ds = add_mechanics(ds, mechanics, strut, workers=workers)
    return ds


def _sample_webs(
    webs: list[WebGraph], n: int, fr: np.ndarray, rng: np.random.Generator, cfg: dict,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Packed], list[np.ndarray], list[dict], int]:  # fmt: skip
    """Draw ``n`` samples spread evenly over ``webs``, per split region if asked.

    Returns the packed parts, their split codes, one info dict per source web, and the
    number of rejected (too small) draws.
    """
    split, n_min, n_regions = cfg["split"], cfg["n_min"], cfg["n_regions"]
    per_web = np.full(len(webs), n // len(webs))
    per_web[: n - per_web.sum()] += 1
    parts, codes, sources, rejected = [], [], [], 0
    for wi, web in enumerate(webs):
        if web.n_nodes == 0:
            raise InputError(f"source web {wi} is empty")
        node_split = _region_labels(web, n_regions, fr, rng) if split == "region" else None
        src = _Source(web, cfg["K"], n_min, node_split)
        if per_web[wi] == 0:
            continue
        if split == "region":
            jobs = [(c, m) for c, m in enumerate(_split_counts(int(per_web[wi]), fr)) if m]
        else:
            jobs = [(None, int(per_web[wi]))]
        for code, m in jobs:
            pool = src.seeds(code)
            if not len(pool):
                where = (
                    "" if code is None else f" inside its {('train', 'val', 'test')[code]} region"
                )
                raise InputError(
                    f"source web {wi} ({web.n_nodes} nodes, largest connected piece "
                    f"{src.largest}) has no connected piece of n_min={n_min} nodes{where}"
                )
            p, rej = _draw(src, pool, m, code, rng, cfg)
            rejected += rej
            p.source_id[:] = wi
            parts.append(p)
            codes.append(np.full(m, 0 if code is None else code, dtype=np.int8))
            if progress is not None:
                progress(sum(len(c) for c in codes), n)
        sources.append({
            "index": wi, "n_nodes": web.n_nodes, "n_edges": web.n_edges,
            "degree_cap_dropped_edges": src.dropped, "name": str(web.meta.get("name", "")),
            "family": str(web.meta.get("family", web.meta.get("builder", ""))),
        })  # fmt: skip
    return parts, codes, sources, rejected


def _reorder(p: Packed, order: np.ndarray) -> Packed:
    """Packed batch with samples permuted by ``order``."""
    sizes = p.sizes[order]
    starts = p.offsets[:-1][order]
    csum = np.cumsum(sizes) - sizes
    node_order = np.arange(int(sizes.sum())) - np.repeat(csum, sizes) + np.repeat(starts, sizes)
    inv = np.empty(len(node_order), dtype=np.int64)
    inv[node_order] = np.arange(len(node_order))
    return Packed(sizes, p.pos[node_order], inv[p.edges], p.origin[node_order], p.source_id[order])


#: Builder settings of the default training set: (family, config overrides). They differ in
#: thread spacing (edge length), degree structure and orientation (sheet, planar orb, 3-D
#: tangle); each is also used at every scale in :data:`DEFAULT_SCALES`.
DEFAULT_SETTINGS: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
    ("tent", ()),
    ("tent", (("mesh_spacing", 3.6),)),
    ("orb", ()),
    ("orb", (("spiral_spacing_inner", 1.5), ("spiral_spacing_outer", 3.0))),
    ("tangle", ()),
    ("tangle", (("n_threads", 250), ("length_scale", 60.0))),
)
DEFAULT_FAMILIES: tuple[str, ...] = ("tent", "orb", "tangle")
#: Geometric scale factors (about the web's centroid) applied to every default setting.
DEFAULT_SCALES: tuple[float, ...] = (0.5, 1.0, 2.0)

#: Segment resolution of the default source webs: the scan-like form (threads as polylines
#: of short jittered segments, like a laser-scan skeleton; :mod:`araneus.builders.resample`), so
#: models learn the representation of users' scans. ``0`` gives the junction-only webs.
DEFAULT_RESOLUTION: str | float = "auto"


@functools.lru_cache(maxsize=16)
def _default_web(family: str, overrides: tuple, seed: int, resolution: str | float) -> WebGraph:
    try:
        from .. import builders
    except ImportError as exc:  # pragma: no cover - builders ship with araneus
        raise AraneusError(f"the default dataset needs araneus.builders ({exc})") from None
    over = {**dict(overrides), "resolution": resolution}
    cfg = apply_overrides(builders.BUILDERS[family].config(), over, family)
    return builders.build(family, cfg, seed)


def default_sources(
    seed: int = 0, single_web: bool = False, resolution: str | float = DEFAULT_RESOLUTION
) -> list[WebGraph]:
    """The source webs of the default training set.

    Every builder setting in :data:`DEFAULT_SETTINGS`, each at every scale in
    :data:`DEFAULT_SCALES`, in the scan-like form of ``resolution`` (default
    :data:`DEFAULT_RESOLUTION`; 0 = junctions only). ``single_web=True`` gives only the
    default tent web (the paper's single-web setting). Built webs are cached per process.
    """
    if single_web:
        return [_default_web("tent", (), int(seed), resolution)]
    out = []
    for fam, over in DEFAULT_SETTINGS:
        w = _default_web(fam, over, int(seed), resolution)
        c = w.pos.mean(axis=0)
        for s in DEFAULT_SCALES:
            sw = w.replace(pos=(w.pos - c) * s + c)
            sw.meta = {"family": fam, "name": fam + "".join(f" {k}={v}" for k, v in over),
                       "scale": s, "seed": int(seed)}  # fmt: skip
            out.append(sw)
    return out


def default_dataset(
    n: int = 4000,
    seed: int = 0,
    single_web: bool = False,
    resolution: str | float = DEFAULT_RESOLUTION,
    **kwargs,
):
    """The default training set: random-walk samples of 16-64 nodes, random split.

    Parameters
    ----------
    n
        Number of samples.
    seed
        Seed of the source webs and of the sampling (same seed, same dataset).
    single_web
        Sample the default tent web only (the paper's way) instead of
        :func:`default_sources` (six builder settings of three families at three scales).
    resolution
        Form of the source webs: ``"auto"`` (default, scan-like: most nodes are degree-2
        points along threads, as in a scan skeleton), a segment length in mm, or 0
        (junctions only, the form before issue 19).
    **kwargs
        Further arguments of :func:`build_dataset` (``sampler``, ``split``, ...).

    Returns
    -------
    WebDataset
    """
    kwargs.setdefault("sampler", "rw")
    sources = default_sources(seed, single_web, resolution)
    ds = build_dataset(sources, n, seed=seed, **kwargs)
    ds.meta["default"] = {"single_web": bool(single_web), "scales": list(DEFAULT_SCALES),
                          "settings": [[f, dict(o)] for f, o in DEFAULT_SETTINGS],
                          "resolution": resolution,
                          "sources": sources_fingerprint(sources)}  # fmt: skip
    return ds


def sources_fingerprint(webs: Sequence[WebGraph]) -> str:
    """Fingerprint (16 hex digits of SHA-256) of the positions and edges of ``webs``.

    :func:`default_dataset` stores it in ``meta["default"]["sources"]``, so a dataset kept
    on disk can be told from one the current builders would make (a builder change alters
    the default data; :func:`araneus.design.design_data` rebuilds its cache then).
    """
    h = hashlib.sha256()
    for w in webs:
        h.update(np.ascontiguousarray(w.pos, np.float64).tobytes())
        h.update(np.ascontiguousarray(w.edges, np.int64).tobytes())
    return h.hexdigest()[:16]
