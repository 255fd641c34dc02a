"""Mechanical descriptors as dataset features (``dataset build --mechanics``).

The four descriptors of :mod:`araneus.mechanics.descriptors` (stiffness per gram in
tension along x, y, z and under a point load) are computed for every sample from the
positions as stored (mm) and appended to the features under the names
:data:`~araneus.mechanics.descriptors.MECHANICAL_FEATURES`, so models, ``WebDataset`` and
``dataset info`` treat them like any other feature. ``meta["mechanics"]`` records the
material, strut, pretension, the definition and figures of the silk prestress.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .webdataset import WebDataset

#: ``--mechanics`` choices: a material of :mod:`araneus.mechanics`, or none.
MECHANICS_CHOICES = ("none", "silk", "dragline", "viscid", "pla", "tpu", "resin")
#: Version of the descriptor definitions (stored with the dataset).
DEFINITION = (
    "attachment points: loose ends, nodes whose threads cannot balance within 0.5 of one "
    "thread tension, anchors; tension x/y/z: uniform stretch of the attachment points "
    "(kinematic uniform boundary conditions), k = 2W/delta^2; point: node nearest the box "
    "centre moved along the principal normal, attachment points held; initial tangent "
    "stiffness per mass of the whole web [N/mm/g]; silk pretensioned with the attachment "
    "points held"
)


def add_mechanics(
    ds: WebDataset,
    material: str = "silk",
    strut: float | None = None,
    pretension: str | float = "auto",
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> WebDataset:
    """``ds`` with the mechanical descriptors appended to its features (replaced if
    present), the normaliser refitted on the training split.

    Samples whose descriptors cannot be defined (NaN: nothing can be pretensioned, no
    free node to load) are dropped; their number is in ``meta["mechanics"]["dropped"]``.

    Parameters
    ----------
    ds
        The dataset (positions in mm).
    material
        ``silk``, ``dragline``, ``viscid`` (pretensioned threads) or ``pla``, ``tpu``,
        ``resin`` (printed struts).
    strut
        Thread / strut diameter [mm] (default 0.004 for silk, 0.8 printed).
    pretension
        Silk: ``"auto"`` or the median thread tension [N].
    workers
        Processes to share the batches.
    progress
        Called with (samples done, total).
    """
    from ..mechanics.descriptors import MECHANICAL_FEATURES, padded_descriptors

    if not isinstance(ds, WebDataset):
        raise InputError(f"expected a WebDataset, got {type(ds).__name__}")
    mat = str(material).lower()
    if mat not in MECHANICS_CHOICES[1:]:
        raise InputError(f"--mechanics must be one of {', '.join(MECHANICS_CHOICES)}, got {material!r}")
    t0 = time.perf_counter()
    vals, info = padded_descriptors(ds.pos, ds.nbrs, ds.mask, mat, strut, pretension,
                                    workers=workers, progress=progress)  # fmt: skip
    seconds = time.perf_counter() - t0
    keep_cols = [i for i, n in enumerate(ds.feature_names) if n not in MECHANICAL_FEATURES]
    names = tuple(ds.feature_names[i] for i in keep_cols) + MECHANICAL_FEATURES
    feats = np.concatenate([ds.features[:, keep_cols], vals], axis=1)
    ok = np.isfinite(vals).all(axis=1)
    meta = dict(ds.meta)
    from ..mechanics.virtual import DEFAULT_STRUT, DEFAULT_STRUT_PRINTED

    meta["mechanics"] = {
        "material": mat,
        "strut_mm": float(strut) if strut is not None else DEFAULT_STRUT.get(mat, DEFAULT_STRUT_PRINTED),
        "pretension": str(pretension),
        "definition": DEFINITION,
        "dropped": int((~ok).sum()),
        "seconds": round(seconds, 3),
        **_prestress_figures(info, ok),
    }
    new = WebDataset(ds.pos, ds.nbrs, ds.mask, feats, names, ds.split, meta,
                     origin=ds.origin, source_id=ds.source_id, validate=False)  # fmt: skip
    if not ok.all():
        new = new.subset(np.flatnonzero(ok))
        new = WebDataset(new.pos, new.nbrs, new.mask, new.features, names, new.split, new.meta,
                         origin=new.origin, source_id=new.source_id, validate=False)  # fmt: skip
        counts = new.meta.get("counts")
        if isinstance(counts, dict):
            new.meta["counts"] = {**counts, "samples": len(new),
                                  "split": np.bincount(new.split, minlength=3).tolist()}  # fmt: skip
    new.meta["n_samples"] = len(new)
    new.meta["feature_ranges"] = new.feature_ranges()
    return new


def _prestress_figures(info: dict, ok: np.ndarray) -> dict:
    """Quantiles of the silk form-finding movement and held fraction over the samples."""
    out: dict = {}
    for key in ("moved_max_rel", "moved_median_rel", "held_fraction"):
        v = np.asarray(info.get(key, []), np.float64)
        v = v[ok[: len(v)] & np.isfinite(v)] if len(v) else v
        if len(v):
            q = np.quantile(v, [0.5, 0.9, 0.99])
            out[key] = {"median": float(q[0]), "p90": float(q[1]), "p99": float(q[2])}
    return out
