"""The :class:`WebDataset` (padded arrays of small webs) and its :class:`Normaliser`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._util import atomic_output
from ..errors import FormatError, InputError
from ..features import FEATURE_NAMES
from ..web import WebGraph
from .encode import Packed, adjacency_from_nbrs, concat_packed, degree_cap_mask, encode
from .normaliser import Normaliser

SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1

#: Extra per-sample features that can be asked for besides the conditioning features.
EXTRA_FEATURES: tuple[str, ...] = ("extent_x", "extent_y", "extent_z", "max_degree", "frac_leaf")


def extra_features(pos: np.ndarray, nbrs: np.ndarray, mask: np.ndarray, names: Sequence[str]):
    """Extra per-sample features beyond the seven conditioning ones.

    Parameters
    ----------
    pos
        (S, L, 3) padded positions.
    nbrs
        (S, L, K) neighbour slots, -1 = empty.
    mask
        (S, L) real-node mask.
    names
        Names from :data:`EXTRA_FEATURES` (bounding-box extents in L, max degree,
        fraction of degree-1 nodes); unknown names raise :class:`InputError`.

    Returns
    -------
    np.ndarray
        (S, len(names)) float64.
    """
    bad = [n for n in names if n not in EXTRA_FEATURES]
    if bad:
        raise InputError(f"unknown extra feature(s) {bad}; valid: {', '.join(EXTRA_FEATURES)}")
    deg = (nbrs >= 0).sum(axis=2)
    n = np.maximum(mask.sum(axis=1), 1)
    big = np.where(mask[..., None], pos, np.inf)
    small = np.where(mask[..., None], pos, -np.inf)
    ext = np.where(mask.any(axis=1)[:, None], small.max(axis=1) - big.min(axis=1), 0.0)
    cols = {
        "extent_x": ext[:, 0],
        "extent_y": ext[:, 1],
        "extent_z": ext[:, 2],
        "max_degree": deg.max(axis=1) if deg.size else np.zeros(len(pos)),
        "frac_leaf": ((deg == 1) & mask).sum(axis=1) / n,
    }
    return np.stack([np.asarray(cols[c], dtype=np.float64) for c in names], axis=1).reshape(
        len(pos), len(names)
    )


_ARRAYS = ("pos", "nbrs", "mask", "features", "split", "origin", "source_id")


class WebDataset:
    """Padded arrays of S small webs with up to L nodes and K neighbour slots.

    Attributes
    ----------
    pos
        (S, L, 3) float32 positions relative to each sample's centroid, 0 in padding.
    nbrs
        (S, L, K) int64 neighbour indices within the sample (each edge listed at both
        ends), valid indices ascending in the first slots, -1 in empty slots.
    mask
        (S, L) bool; real nodes come first, in canonical breadth-first order.
    features
        (S, F) float64 features in physical units, named by ``feature_names``.
    split
        (S,) int8: 0 train, 1 val, 2 test. Builders store samples grouped by split, so
        ``subset("train")`` is a view.
    origin
        (S, L) int64 index of each node in the web it was cut from (-1 padding/unknown).
    source_id
        (S,) int64 index of the source web (see ``meta["sources"]``).
    meta
        JSON-serialisable: source, sampler config, K, L, degree-cap counts, bandwidth,
        feature ranges, split overlap.
    normaliser
        :class:`Normaliser` fitted on the training split.
    """

    def __init__(
        self,
        pos,
        nbrs,
        mask,
        features,
        feature_names: Sequence[str],
        split=None,
        meta: dict | None = None,
        normaliser: Normaliser | None = None,
        origin=None,
        source_id=None,
        validate: bool = True,
    ):
        self.pos = np.asarray(pos, dtype=np.float32)
        self.nbrs = np.asarray(nbrs, dtype=np.int64)
        self.mask = np.asarray(mask, dtype=bool)
        self.features = np.asarray(features, dtype=np.float64)
        self.feature_names = tuple(feature_names)
        s, length = self.mask.shape if self.mask.ndim == 2 else (-1, -1)
        self.split = np.zeros(s, np.int8) if split is None else np.asarray(split, dtype=np.int8)
        if origin is None:
            origin = np.full(self.mask.shape, -1, dtype=np.int64)
        self.origin = np.asarray(origin, dtype=np.int64)
        self.source_id = (
            np.zeros(s, np.int64) if source_id is None else np.asarray(source_id, np.int64)
        )
        self.meta = dict(meta or {})
        if validate:
            _validate(self)
        if normaliser is None:
            tr = self.split == 0
            if not tr.any():
                tr = np.ones(len(self.split), dtype=bool)
            normaliser = Normaliser.fit(
                self.pos[tr], self.mask[tr], self.features[tr], self.feature_names
            )
        self.normaliser = normaliser

    # ------------------------------------------------------------------ sizes
    @property
    def K(self) -> int:  # noqa: N802 - the paper's name
        """Neighbour slots per node (the degree cap)."""
        return int(self.nbrs.shape[2])

    @property
    def L(self) -> int:  # noqa: N802
        """Padded node rows per sample."""
        return int(self.mask.shape[1])

    @property
    def n_nodes(self) -> np.ndarray:
        """(S,) number of real nodes per sample."""
        return self.mask.sum(axis=1)

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    def __repr__(self) -> str:
        counts = np.bincount(self.split, minlength=3)
        return (
            f"WebDataset(S={len(self)}, L={self.L}, K={self.K}, F={len(self.feature_names)}, "
            f"train/val/test={counts.tolist()})"
        )

    # ------------------------------------------------------------------ access
    def __getitem__(self, i: int) -> WebGraph:
        """Sample ``i`` as a :class:`WebGraph` (nodes in canonical order); copies only it."""
        s = len(self)
        if not isinstance(i, (int, np.integer)):
            raise InputError(f"WebDataset index must be an integer, got {type(i).__name__}")
        if not -s <= i < s:
            raise InputError(f"sample index {i} out of range for {s} samples")
        i = int(i) % s
        n = int(self.mask[i].sum())
        nb = self.nbrs[i, :n]
        a = np.repeat(np.arange(n), nb.shape[1])
        b = nb.ravel()
        keep = b > a
        meta = {"dataset_index": i, "split": SPLITS[int(self.split[i])]}
        return WebGraph(
            self.pos[i, :n].astype(np.float64), np.stack([a[keep], b[keep]], axis=1), meta=meta
        )

    def to_webs(self, idx=None) -> list[WebGraph]:
        """Samples ``idx`` (default all) as a list of WebGraphs."""
        rng = range(len(self)) if idx is None else np.atleast_1d(np.asarray(idx)).tolist()
        return [self[int(i)] for i in rng]

    def _select(self, idx):
        if isinstance(idx, str):
            if idx not in SPLITS:
                raise InputError(f"split name must be one of {SPLITS}, got {idx!r}")
            hit = np.flatnonzero(self.split == SPLITS.index(idx))
            if len(hit) and hit[-1] - hit[0] + 1 == len(hit):
                return slice(int(hit[0]), int(hit[-1]) + 1)
            return hit if len(hit) else slice(0, 0)
        if isinstance(idx, slice):
            return idx
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (len(self),):
                raise InputError(f"boolean index must have shape ({len(self)},), got {arr.shape}")
            arr = np.flatnonzero(arr)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise InputError("subset index must be a split name, slice, or 1-D integer array")
        if arr.size and (arr.min() < -len(self) or arr.max() >= len(self)):
            raise InputError(f"subset indices out of range for {len(self)} samples")
        if arr.size and (np.diff(arr) == 1).all():
            return slice(int(arr[0]) % len(self), int(arr[0]) % len(self) + len(arr))
        return arr

    def subset(self, idx) -> WebDataset:
        """Samples selected by a split name, slice, index array or mask.

        Split names and contiguous ranges give views of the arrays (no copy); other index
        arrays copy the selected samples. The normaliser is shared, not refitted.
        """
        sel = self._select(idx)
        new = object.__new__(WebDataset)
        for name in _ARRAYS:
            setattr(new, name, getattr(self, name)[sel])
        new.feature_names = self.feature_names
        new.meta = dict(self.meta)
        new.normaliser = self.normaliser
        return new

    def adjacency(self, idx=None) -> np.ndarray:
        """(S', L, L) bool dense adjacency of samples ``idx`` (default all), built from nbrs."""
        return adjacency_from_nbrs(self.nbrs if idx is None else self.nbrs[self._select(idx)])

    def normalised_features(self) -> np.ndarray:
        """(S, F) features mapped by the normaliser."""
        return self.normaliser.transform_features(self.features)

    def feature_ranges(self) -> dict[str, list[float]]:
        """``{name: [min, max]}`` over all samples."""
        if not len(self):
            return {n: [0.0, 0.0] for n in self.feature_names}
        lo, hi = self.features.min(axis=0), self.features.max(axis=0)
        return {n: [float(a), float(b)] for n, a, b in zip(self.feature_names, lo, hi)}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_packed(
        cls,
        packed: Packed,
        k: int,
        length: int,
        split=None,
        meta: dict | None = None,
        extra: Sequence[str] = (),
    ) -> WebDataset:
        """Encode a capped :class:`Packed` batch (internal; used by the builders)."""
        arr = encode(packed, k, length)
        feats = arr["features"]
        names = FEATURE_NAMES
        if extra:
            ex = extra_features(arr["pos"], arr["nbrs"], arr["mask"], extra)
            feats, names = np.concatenate([feats, ex], axis=1), FEATURE_NAMES + tuple(extra)
        meta = dict(meta or {})
        meta.update(K=k, L=length, bandwidth=arr["bandwidth"], n_samples=len(packed.sizes))
        ds = cls(
            arr["pos"], arr["nbrs"], arr["mask"], feats, names, split, meta,
            origin=arr["origin"], source_id=arr["source_id"], validate=False,
        )  # fmt: skip
        ds.meta["feature_ranges"] = ds.feature_ranges()
        return ds

    @classmethod
    def from_webs(
        cls,
        webs: Sequence[WebGraph],
        K: int = 5,  # noqa: N803
        L: int | None = None,  # noqa: N803
        split=None,
        extra_features: Sequence[str] = (),
        meta: dict | None = None,
    ) -> WebDataset:
        """Encode whole webs as samples (e.g. generated webs, or a user's own pieces).

        Parameters
        ----------
        webs
            Non-empty list of WebGraphs. All nodes are kept (also of disconnected webs).
        K
            Neighbour slots; nodes with more edges are capped by the documented rule
            (count in ``meta["degree_cap"]``).
        L
            Padded length; default the largest web's node count. A larger web is an error.
        split
            Optional (S,) array of split codes (default: all train).
        """
        webs = list(webs)
        if not webs:
            raise InputError("webs: need at least one web")
        if not all(isinstance(w, WebGraph) for w in webs):
            raise InputError("webs: every item must be a WebGraph")
        if int(K) < 1:
            raise InputError(f"K must be >= 1, got {K}")
        sizes = np.array([w.n_nodes for w in webs], dtype=np.int64)
        if L is None:
            L = max(int(sizes.max()), 1)  # noqa: N806
        if int(L) < 1 or sizes.max() > L:
            raise InputError(f"L={L} is smaller than the largest web ({int(sizes.max())} nodes)")
        parts = [
            Packed(np.array([w.n_nodes]), w.pos, w.edges, np.arange(w.n_nodes), np.array([i]))
            for i, w in enumerate(webs)
        ]
        p = concat_packed(parts)
        keep = degree_cap_mask(p.pos, p.edges, int(K))
        n_drop = int((~keep).sum())
        p = Packed(p.sizes, p.pos, p.edges[keep], p.origin, p.source_id)
        meta = {"source": "webs", **(meta or {})}
        meta["degree_cap"] = {"rule": "keep K shortest per node", "dropped_edges": n_drop}
        return cls.from_packed(p, int(K), int(L), split, meta, extra_features)

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write an ``.npz`` file: the arrays plus a JSON header (meta, names, normaliser)."""
        if Path(path).is_dir():
            raise InputError(f"{path} is a directory; give a dataset file name (.npz)")
        header = {
            "format": "araneus.WebDataset",
            "version": FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "meta": self.meta,
            "normaliser": self.normaliser.to_dict(),
        }
        try:
            blob = json.dumps(header).encode("utf-8")
        except TypeError as exc:
            raise InputError(f"dataset meta is not JSON-serialisable: {exc}") from None
        arrays = {n: getattr(self, n) for n in _ARRAYS}
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, header=np.frombuffer(blob, dtype=np.uint8), **arrays)

    @classmethod
    def load(cls, path) -> WebDataset:
        """Read a file written by :meth:`save`; validates the header, shapes and ranges.

        Reading is bounded (see :func:`araneus.dataset.files.read_dataset_file`): declared
        sizes are checked before anything is inflated. Raises :class:`FormatError` for a
        missing, corrupt, oversized or inconsistent file.
        """
        from .files import read_dataset_file

        path = Path(path)
        header, data = read_dataset_file(path)
        for name in ("nbrs", "split", "origin", "source_id"):
            arr = data[name]
            if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
                raise FormatError(path, "values beyond the int64 range", f"array {name!r}")
        if data["split"].size and (data["split"].min() < 0 or data["split"].max() > 2):
            raise FormatError(path, "split codes must be 0 (train), 1 (val) or 2 (test)",
                              "array 'split'")  # fmt: skip
        names = header["feature_names"]
        try:
            norm = Normaliser.from_dict(header["normaliser"])
            if list(norm.feature_names) != names:
                raise InputError("normaliser feature names differ from 'feature_names'")
        except InputError as exc:
            raise FormatError(path, f"bad JSON header ({exc})", "array 'header'") from None
        try:
            return cls(
                data["pos"], data["nbrs"], data["mask"], data["features"], names,
                data["split"], header["meta"], norm, data["origin"], data["source_id"],
            )  # fmt: skip
        except InputError as exc:
            raise FormatError(path, str(exc)) from None


def _validate(ds: WebDataset) -> None:
    """Check shapes, dtypes and invariants of the arrays; raise InputError naming the array."""
    if ds.mask.ndim != 2:
        raise InputError(f"mask must have shape (S, L), got {ds.mask.shape}")
    s, length = ds.mask.shape
    if ds.pos.shape != (s, length, 3):
        raise InputError(f"pos must have shape ({s}, {length}, 3), got {ds.pos.shape}")
    if ds.nbrs.ndim != 3 or ds.nbrs.shape[:2] != (s, length) or ds.nbrs.shape[2] < 1:
        raise InputError(f"nbrs must have shape ({s}, {length}, K>=1), got {ds.nbrs.shape}")
    f = len(ds.feature_names)
    if ds.features.shape != (s, f):
        raise InputError(f"features must have shape ({s}, {f}), got {ds.features.shape}")
    for name, arr in (("split", ds.split), ("source_id", ds.source_id)):
        if arr.shape != (s,):
            raise InputError(f"{name} must have shape ({s},), got {arr.shape}")
    if ds.origin.shape != (s, length):
        raise InputError(f"origin must have shape ({s}, {length}), got {ds.origin.shape}")
    if s and (ds.split.min() < 0 or ds.split.max() > 2):
        raise InputError("split codes must be 0 (train), 1 (val) or 2 (test)")
    if not np.isfinite(ds.pos).all() or not np.isfinite(ds.features).all():
        raise InputError("pos and features must be finite")
    n = ds.mask.sum(axis=1)
    if (ds.mask != (np.arange(length)[None, :] < n[:, None])).any():
        raise InputError("mask must list real nodes first (no gaps)")
    nb = ds.nbrs
    valid = nb >= 0
    if (nb < -1).any() or (nb >= n[:, None, None]).any():
        raise InputError("nbrs entries must be -1 or a real node index of the same sample")
    if (valid & ~ds.mask[..., None]).any():
        raise InputError("padding rows of nbrs must be empty (-1)")
    if (valid[..., 1:] & ~valid[..., :-1]).any():
        raise InputError("nbrs rows must list valid neighbours first, then -1")
    both = valid[..., 1:] & valid[..., :-1]
    if (both & (nb[..., 1:] <= nb[..., :-1])).any():
        raise InputError("nbrs rows must be strictly ascending (no duplicates)")
    if (nb == np.arange(length)[None, :, None]).any():
        raise InputError("nbrs must not contain self-loops")
    si, ri, ki = np.nonzero(valid)
    if len(si):
        back = (nb[si, nb[si, ri, ki]] == ri[:, None]).any(axis=1)
        if not back.all():
            raise InputError("nbrs must be symmetric (every edge listed at both ends)")
    if (ds.pos[~ds.mask] != 0).any():
        raise InputError("padding rows of pos must be 0")
