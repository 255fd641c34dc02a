"""Tangle webs (cobwebs of Theridiidae, e.g. *Parasteatoda*, *Latrodectus*).

A cobweb is a three-dimensional scaffold of dry threads slung under a ledge or in a corner,
with *gumfoot* lines running from the lower scaffold straight down to the ground, where
walking prey sticks to their glue-coated lower ends. The builder follows that:

* anchors lie on the ceiling and the upper part of the walls of a box
  (``z >= scaffold_floor * height``; the floor is ``z = 0``);
* the first thread joins two anchors; each later thread starts at a new anchor
  (probability ``p_anchor``) or on an earlier thread and ends on an earlier thread, the
  attachment point chosen with probability falling as ``exp(-distance / length_scale)``
  (so the tangle densifies locally, like the retreat region of a real cobweb);
* ``gumfoot`` lines hang from points on the lowest scaffold threads to floor anchors.

Units are millimetres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..web import WebGraph, thread_code
from . import _config as v
from ._geometry import Draft, assemble_web, box_face_points, grow_threads, scan_form


@dataclass(frozen=True)
class TangleConfig:
    """Parameters of a cobweb (lengths in mm).

    Attributes
    ----------
    width, depth, height
        Box of the web: ``|x| <= width/2``, ``|y| <= depth/2``, ``0 <= z <= height``
        (z = 0 is the floor).
    scaffold_floor
        Anchors of the scaffold lie at ``z >= scaffold_floor * height``.
    n_threads
        Scaffold threads.
    length_scale
        Attachment probability falls as ``exp(-distance / length_scale)``.
    p_anchor
        Probability that a thread starts at a new anchor rather than on a thread.
    n_gumfoot
        Gumfoot lines to the floor.
    min_spacing
        Smallest distance between junctions on one thread.
    jitter
        Standard deviation of the displacement of non-anchor nodes.
    resolution
        Scan-like form: ``"auto"`` or a segment length (mm) to subdivide every thread
        into a jittered, sagging polyline (:func:`araneus.builders.resample.resample`); 0 (the
        default) keeps the junction-only form.
    """

    width: float = 300.0
    depth: float = 250.0
    height: float = 300.0
    scaffold_floor: float = 0.5
    n_threads: int = 500
    length_scale: float = 30.0
    p_anchor: float = 0.3
    n_gumfoot: int = 40
    min_spacing: float = 0.8
    jitter: float = 0.1
    resolution: str | float = 0.0

    def __post_init__(self) -> None:
        v.resolution_field(self)
        v.positive_fields(self, "width", "depth", "height", "length_scale", "min_spacing")
        v.non_negative_fields(self, "jitter")
        v.fraction("scaffold_floor", self.scaffold_floor, 0.05, 0.95)
        v.fraction("p_anchor", self.p_anchor)
        v.int_range("n_threads", self.n_threads, 1, 1_000_000)
        v.int_range("n_gumfoot", self.n_gumfoot, 0, 100_000)
        v.less(
            "min_spacing",
            self.min_spacing,
            "smallest box side",
            min(self.width, self.depth, self.height * (1 - self.scaffold_floor)),
            "",
        )


def build_tangle(cfg: TangleConfig | None = None, seed: int = 0) -> WebGraph:
    """Build a cobweb (mm): a 3-D scaffold under the ceiling and gumfoot lines to the floor.

    Parameters
    ----------
    cfg
        Parameters (defaults: about 1,500-2,000 nodes).
    seed
        Random seed; the same seed gives the same web.

    Returns
    -------
    WebGraph
        ``edge_attrs["thread"]``: scaffold, gumfoot; ``node_attrs["anchor"]`` marks the
        wall, ceiling and floor attachment points.
    """
    cfg = cfg or TangleConfig()
    rng = np.random.default_rng(seed)
    lo = np.array([-cfg.width / 2, -cfg.depth / 2, cfg.scaffold_floor * cfg.height])
    hi = np.array([cfg.width / 2, cfg.depth / 2, cfg.height])
    faces = ("-x", "+x", "-y", "+y", "+z")

    def anchors(g: np.random.Generator, m: int) -> np.ndarray:
        return box_face_points(g, m, lo, hi, faces)

    draft = Draft(cfg.min_spacing)
    first = anchors(rng, 2)
    while np.linalg.norm(first[0] - first[1]) < 0.3 * min(cfg.width, cfg.depth):
        first[1] = anchors(rng, 1)[0]
    ids = draft.add_nodes(first, anchor=True)
    draft.add_segments(ids[:1], ids[1:], "scaffold")
    if cfg.n_threads > 1:
        grow_threads(
            draft,
            rng,
            cfg.n_threads - 1,
            anchor_points=anchors,
            seg_weight=lambda mid, codes: np.ones(len(mid)),
            p_anchor=cfg.p_anchor,
            length_scale=cfg.length_scale,
            min_length=4 * cfg.min_spacing,
            thread="scaffold",
        )
    if cfg.n_gumfoot:
        _add_gumfoot(draft, rng, cfg)
    pos, e, t, anchor = draft.finish()
    pos = pos + np.where(anchor[:, None], 0.0, rng.normal(0, cfg.jitter, pos.shape))
    meta = {"family": "tangle", "config": asdict(cfg), "seed": int(seed), "units": "mm"}
    return scan_form(assemble_web(pos, e, t, anchor, meta), cfg.resolution, rng)


def _add_gumfoot(draft: Draft, rng: np.random.Generator, cfg: TangleConfig) -> None:
    """Gumfoot lines from low points of the scaffold straight down to floor anchors."""
    segs, codes = draft.segments()
    pos = draft.pos
    pa, pb = pos[segs[:, 0]], pos[segs[:, 1]]
    mid_z = np.minimum(pa[:, 2], pb[:, 2])
    z0 = cfg.scaffold_floor * cfg.height
    # prefer the lowest threads: weight decays over a tenth of the box height
    w = np.linalg.norm(pb - pa, axis=1) * np.exp(-(mid_z - z0) / (0.1 * cfg.height))
    w *= codes == thread_code("scaffold")
    seg = rng.choice(len(segs), size=cfg.n_gumfoot, p=w / w.sum())
    # the lower end of the chosen thread's lower half
    low_first = pa[seg, 2] <= pb[seg, 2]
    t = np.where(low_first, rng.uniform(0.1, 0.5, len(seg)), rng.uniform(0.5, 0.9, len(seg)))
    top = draft.attach(seg, t)
    foot = draft.pos[top] + rng.normal(0, 0.03 * cfg.height, (len(top), 3))
    foot[:, 0] = np.clip(foot[:, 0], -cfg.width / 2, cfg.width / 2)
    foot[:, 1] = np.clip(foot[:, 1], -cfg.depth / 2, cfg.depth / 2)
    foot[:, 2] = 0.0
    draft.add_segments(top, draft.add_nodes(foot, anchor=True), "gumfoot")
