"""Local structure a web generator must get right: triangles (3-cycles) and leaves.

Random-walk samples of real and procedural webs hold few triangles (0.23 per sample in
the default data, 12% of samples with any) and a small share of loose thread ends
(degree-1 nodes, 7%); a generator that closes many short cycles or leaves many ends
dangling makes webs of another kind, even when its degree histogram looks right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..web import WebGraph
from .stats import degrees, stack_webs, triangles

#: Keys of :func:`structure_summary`.
STRUCTURE_KEYS = ("triangles_per_web", "webs_with_triangle", "leaf_share")


def per_web_structure(webs: Sequence[WebGraph]) -> dict[str, np.ndarray]:
    """Per-web counts: ``triangles`` (W,) number of 3-cycles, ``leaf_share`` (W,) fraction
    of the web's nodes with degree 1 (0 for an empty web)."""
    st = stack_webs(webs)
    owner, w = st.web_of_node, st.n_webs
    tri = np.bincount(owner, weights=triangles(st.csr()), minlength=w) / 3
    leaves = np.bincount(owner, weights=degrees(st) == 1, minlength=w)
    n = np.diff(st.offsets)
    return {
        "triangles": np.rint(tri).astype(np.int64),
        "leaf_share": np.divide(leaves, n, out=np.zeros(w), where=n > 0),
    }


def structure_summary(webs: Sequence[WebGraph]) -> dict[str, float]:
    """Means over the webs (each web weighs the same).

    Returns
    -------
    dict
        ``triangles_per_web`` (mean number of 3-cycles per web; a triangle graph has 1),
        ``webs_with_triangle`` (fraction of webs with at least one), ``leaf_share`` (mean
        per-web fraction of degree-1 nodes).
    """
    p = per_web_structure(webs)
    if not len(p["triangles"]):
        return dict.fromkeys(STRUCTURE_KEYS, float("nan"))
    return {
        "triangles_per_web": float(p["triangles"].mean()),
        "webs_with_triangle": float((p["triangles"] > 0).mean()),
        "leaf_share": float(p["leaf_share"].mean()),
    }


def structure_ratio(generated: float, data: float) -> tuple[float | None, str | None]:
    """``generated / data`` and None, or None and the reason when the data's value is 0."""
    if not np.isfinite(generated) or not np.isfinite(data):
        return None, "not finite"
    if data == 0:
        return None, "the data has none" + ("" if generated == 0 else "; generated webs do")
    return generated / data, None
