"""Orb webs (*Araneus*-like), built in the order the spider builds them.

1. Frame: a polygon of frame threads between ``n_anchors`` corners, each corner tied by an
   anchor thread to a support; the top frame thread is the bridge line.
2. Radii: from the hub to the frame, added one at a time into the widest gap (measured as
   arc length at the frame, smaller allowance below the hub) until every gap is below
   ``max_radial_gap``, which gives more radii below the hub as in real webs.
3. Hub: an open hub ring and a few turns of hub spiral, then the free zone.
4. Capture spiral: ``r = r_in + c(theta) f(u)`` with turn coordinate ``u`` and
   ``f'(u)`` growing linearly from ``spiral_spacing_inner`` to ``spiral_spacing_outer``
   (spacing widens outward); ``c(theta) < 1`` below the hub (finer spacing there). The hub
   sits above the geometric centre, so the lower radii are longer and carry extra outer
   arcs, joined by turn-backs as the spider lays them. A node sits at every radius-spiral
   crossing, so most nodes have degree 4.
5. 3-D: out-of-plane sag by force-density equilibrium under a uniform lateral load with
   the anchors (offset from the plane) fixed, plus a small jitter.

The web hangs in the x-z plane (z up), sagging along y; units are millimetres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from ..web import THREAD_TYPES, WebGraph
from . import _config as v
from ._geometry import Draft, assemble_web, scan_form
from .shaping import DEFAULT_FORCE_DENSITY, form_find


@dataclass(frozen=True)
class OrbConfig:
    """Parameters of an orb web (lengths in mm).

    Attributes
    ----------
    frame_radius
        Mean distance of the frame corners from the web centre.
    n_anchors
        Frame corners, each with an anchor thread (3-6).
    anchor_reach
        Length of the anchor threads from corner to support.
    hub_offset
        Height of the hub above the centre, as a fraction of ``frame_radius``.
    anchors_per_corner
        Anchor threads from each frame corner to its supports (1-4).
    hub_hole, hub_radius, hub_turns
        Open hub radius, outer radius of the hub and its number of loops (the radii start
        on the outermost loop; 0 = radii start on the open hub ring).
    hub_join
        Probability that two neighbouring radii join on their way in from one hub loop
        to the next (a degree-5 hub junction).
    free_zone
        Width of the free zone between hub and capture spiral.
    max_radial_gap
        A radius is added while some gap between neighbours, measured at the frame,
        exceeds this (below the hub: this times ``lower_gap_factor``).
    lower_gap_factor
        Factor (0, 1] on ``max_radial_gap`` below the hub.
    max_radii
        Upper limit on the number of radii.
    spiral_spacing_inner, spiral_spacing_outer
        Capture-spiral spacing at the inner and outer end (outer >= inner).
    lower_spacing_factor
        Factor (0, 1] on the spiral spacing straight below the hub.
    spiral_margin
        Fraction of each radius, at the frame end, left free of spiral.
    sag
        Out-of-plane sag of the web (mm) under a lateral load.
    jitter
        Standard deviation of random node displacements.
    resolution
        Scan-like form: ``"auto"`` or a segment length (mm) to subdivide every thread
        into a jittered, sagging polyline (:func:`araneus.builders.resample.resample`); 0 (the
        default) keeps the junction-only form.
    """

    frame_radius: float = 140.0
    n_anchors: int = 4
    anchors_per_corner: int = 3
    anchor_reach: float = 20.0
    hub_offset: float = 0.15
    hub_hole: float = 2.5
    hub_radius: float = 12.0
    hub_turns: int = 5
    hub_join: float = 0.9
    free_zone: float = 12.0
    max_radial_gap: float = 29.0
    lower_gap_factor: float = 0.75
    max_radii: int = 40
    spiral_spacing_inner: float = 3.5
    spiral_spacing_outer: float = 7.0
    lower_spacing_factor: float = 0.8
    spiral_margin: float = 0.08
    sag: float = 6.0
    jitter: float = 0.2
    resolution: str | float = 0.0

    def __post_init__(self) -> None:
        v.resolution_field(self)
        v.positive_fields(
            self,
            "frame_radius",
            "anchor_reach",
            "hub_hole",
            "hub_radius",
            "free_zone",
            "max_radial_gap",
            "spiral_spacing_inner",
            "spiral_spacing_outer",
        )
        v.non_negative_fields(self, "sag", "jitter")
        v.int_range("n_anchors", self.n_anchors, 3, 6)
        v.int_range("hub_turns", self.hub_turns, 0, 50)
        v.int_range("anchors_per_corner", self.anchors_per_corner, 1, 4)
        v.fraction("hub_join", self.hub_join)
        v.int_range("max_radii", self.max_radii, 8, 200)
        v.fraction("hub_offset", self.hub_offset, 0.0, 0.4)
        v.fraction("spiral_margin", self.spiral_margin, 0.0, 0.5)
        for name in ("lower_gap_factor", "lower_spacing_factor"):
            v.fraction(name, getattr(self, name), 0.2, 1.0)
        v.less("hub_hole", self.hub_hole, "hub_radius", self.hub_radius, "hub ring inside hub")
        if self.spiral_spacing_inner > self.spiral_spacing_outer:
            raise ConfigError(
                f"spiral_spacing_inner ({self.spiral_spacing_inner}) must not exceed "
                f"spiral_spacing_outer ({self.spiral_spacing_outer}): spacing widens outward"
            )
        if self.frame_radius / self.spiral_spacing_inner > 50_000:  # rows laid out per radius
            raise ConfigError("spiral_spacing_inner is too fine for frame_radius (over 50000 turns)")
        inner = self.hub_radius + self.free_zone + self.spiral_spacing_outer
        room = 0.5 * self.frame_radius * (1 - self.hub_offset)
        if inner >= room:
            raise ConfigError(
                f"hub_radius + free_zone + spiral_spacing_outer ({inner:g}) leaves no room "
                f"for a capture spiral inside frame_radius {self.frame_radius:g}"
            )


def _ray_lengths(hub: np.ndarray, corners: np.ndarray, theta: np.ndarray):
    """Distance from ``hub`` along angles ``theta`` to the frame polygon: (L, edge, s)."""
    p = corners
    q = np.roll(corners, -1, axis=0)
    d = np.stack([np.cos(theta), np.sin(theta)], 1)  # (A, 2)
    e = q - p  # (F, 2)
    rhs = p - hub  # (F, 2)
    det = d[:, None, 0] * (-e[None, :, 1]) - d[:, None, 1] * (-e[None, :, 0])  # (A, F)
    det = np.where(np.abs(det) < 1e-12, np.nan, det)
    lam = (rhs[None, :, 0] * (-e[None, :, 1]) - rhs[None, :, 1] * (-e[None, :, 0])) / det
    s = (d[:, None, 0] * rhs[None, :, 1] - d[:, None, 1] * rhs[None, :, 0]) / det
    ok = (lam > 0) & (s >= -1e-9) & (s <= 1 + 1e-9)
    lam = np.where(ok, lam, np.inf)
    edge = np.argmin(lam, axis=1)
    rows = np.arange(len(theta))
    return lam[rows, edge], edge, np.clip(s[rows, edge], 0.03, 0.97)


def _place_radii(cfg: OrbConfig, rng, hub, corners) -> tuple[np.ndarray, np.ndarray]:
    """Radius angles (sorted) and, per radius, the frame corner it ends at (-1: none).

    The first radii run to the frame corners (the spider's first Y and frame lines); then
    one radius at a time fills the widest gap.
    """
    ang = np.mod(np.arctan2(corners[:, 1] - hub[1], corners[:, 0] - hub[0]), 2 * np.pi)
    theta = list(ang)
    while len(theta) < cfg.max_radii:
        t = np.sort(np.array(theta))
        gap = np.diff(np.r_[t, t[0] + 2 * np.pi])
        mid = t + gap / 2
        length = _ray_lengths(hub, corners, mid)[0]
        allow = cfg.max_radial_gap * (1 - (1 - cfg.lower_gap_factor) * np.maximum(0, -np.sin(mid)))
        excess = gap * length / allow
        k = int(np.argmax(excess))
        if excess[k] <= 1:
            break
        theta.append(float(np.mod(mid[k] + rng.uniform(-0.12, 0.12) * gap[k], 2 * np.pi)))
    theta_arr = np.array(theta)
    order = np.argsort(theta_arr, kind="stable")
    corner = np.full(len(theta_arr), -1, np.int64)
    corner[: len(corners)] = np.arange(len(corners))
    return theta_arr[order], corner[order]


def _spiral_rows(cfg: OrbConfig, theta, length, r_inner, rows):
    """Crossing distances r (R, K) and validity of a spiral laid over ``rows`` turns."""
    phi = np.mod(theta - theta[0], 2 * np.pi) / (2 * np.pi)
    u = np.arange(rows)[None, :] + phi[:, None]  # (R, K) turn coordinate
    r_out = length * (1 - cfg.spiral_margin)
    depth = np.median(r_out) - r_inner
    spacing_in, spacing_out = cfg.spiral_spacing_inner, cfg.spiral_spacing_outer
    turns = 2 * depth / (spacing_in + spacing_out)
    grow = (spacing_out - spacing_in) / max(turns, 1e-9)
    c = 1 - (1 - cfg.lower_spacing_factor) * np.maximum(0, -np.sin(theta))
    r = r_inner + c[:, None] * (spacing_in * u + 0.5 * grow * u**2)
    return r, r <= r_out[:, None]


def _spiral_edges(valid: np.ndarray, ids: np.ndarray, turnbacks: bool) -> np.ndarray:
    """Spiral segments along the turn order, plus turn-backs joining successive arcs."""
    n_r = valid.shape[0]
    seq_valid = valid.T.ravel()  # order: row by row, radius by radius (increasing u)
    seq_ids = ids.T.ravel()
    both = seq_valid[:-1] & seq_valid[1:]
    edges = [np.stack([seq_ids[:-1][both], seq_ids[1:][both]], 1)]
    if turnbacks:
        pos_v = np.flatnonzero(seq_valid)
        brk = np.flatnonzero(np.diff(pos_v) > 1)
        starts = np.r_[pos_v[0], pos_v[brk + 1]]
        ends = np.r_[pos_v[brk], pos_v[-1]]
        links = []
        for m in range(len(starts) - 1):  # meander: alternate ends and starts
            a, b = (ends[m], ends[m + 1]) if m % 2 == 0 else (starts[m], starts[m + 1])
            ia, ib = a % n_r, b % n_r
            step = min((ia - ib) % n_r, (ib - ia) % n_r)
            if step == 0:  # same radius: turn back to the next crossing of the outer arc
                b = b - 1 if m % 2 == 0 else b + 1
                if not (0 <= b < len(seq_valid) and seq_valid[b]):
                    continue
                step = 1
            if step <= 2:
                links.append((seq_ids[a], seq_ids[b]))
        if links:
            edges.append(np.array(links, np.int64))
    return np.concatenate(edges)


def _to3d(p2: np.ndarray) -> np.ndarray:
    """Web-plane (horizontal, vertical) coordinates to 3-D (x, y = 0, z)."""
    return np.column_stack([p2[:, 0], np.zeros(len(p2)), p2[:, 1]])


def _hub_clearance(corners: np.ndarray, hub: np.ndarray) -> float:
    """Smallest signed distance from ``hub`` to the lines of the (CCW) frame polygon."""
    e = np.roll(corners, -1, axis=0) - corners
    normal = np.stack([-e[:, 1], e[:, 0]], 1) / np.linalg.norm(e, axis=1, keepdims=True)
    return float(np.min(np.sum((hub - corners) * normal, axis=1)))


def _frame_corners(cfg: OrbConfig, rng: np.random.Generator) -> np.ndarray:
    """Frame corners (F, 2), counter-clockwise, leaving room for hub, free zone and spiral."""
    n_c, big_r = cfg.n_anchors, cfg.frame_radius
    hub = np.array([0.0, cfg.hub_offset * big_r])
    need = cfg.hub_radius + cfg.free_zone + 3 * cfg.spiral_spacing_outer
    for _ in range(100):  # resample the rare frames whose sides pass too close to the hub
        phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n_c) / n_c
        phi = np.sort(phi + rng.normal(0, 0.12 * 2 * np.pi / n_c, n_c))
        radius = big_r * rng.uniform(0.88, 1.12, (n_c, 1))
        corners = np.stack([np.cos(phi), np.sin(phi)], 1) * radius
        if _hub_clearance(corners, hub) >= need:
            return corners
    raise ConfigError(
        f"hub_offset {cfg.hub_offset:g} puts the hub too close to the frame for "
        f"n_anchors={n_c}: lower hub_offset, hub_radius or free_zone, or add anchors"
    )


def _lay_frame(cfg: OrbConfig, rng: np.random.Generator, draft: Draft) -> tuple:
    """Frame polygon, anchor threads and bridge.

    Returns (corners (F, 2), frame threads (F,), corner node ids (F,)). Each corner is
    tied to its support by ``anchors_per_corner`` anchor threads.
    """
    corners = _frame_corners(cfg, rng)
    n_c = cfg.n_anchors
    c_ids = draft.add_nodes(_to3d(corners))
    k = cfg.anchors_per_corner
    reach = cfg.anchor_reach * rng.uniform(0.7, 1.3, (n_c, k))
    out = corners / np.linalg.norm(corners, axis=1, keepdims=True)
    spread = rng.normal(0.0, 0.25, (n_c, k))  # anchor threads fan out from the corner
    side = np.stack([-out[:, 1], out[:, 0]], 1)
    a2 = corners[:, None] + reach[..., None] * (out[:, None] + spread[..., None] * side[:, None])
    a3 = _to3d(a2.reshape(-1, 2))
    a3[:, 1] = rng.normal(0, 0.3 * cfg.anchor_reach, n_c * k)  # supports off the web plane
    a_ids = draft.add_nodes(a3, anchor=True)
    top = int(np.argmax(corners[:, 1] + np.roll(corners, -1, axis=0)[:, 1]))
    frame_seg = np.empty(n_c, np.int64)
    for j in range(n_c):
        kind = "bridge" if j == top else "frame"
        frame_seg[j] = draft.add_segments([c_ids[j]], [c_ids[(j + 1) % n_c]], kind)[0]
    draft.add_segments(np.repeat(c_ids, k), a_ids, "anchor")
    return corners, frame_seg, c_ids


def _lay_hub(cfg: OrbConfig, rng: np.random.Generator, draft: Draft, hub, theta) -> np.ndarray:
    """Hub loops with radii that join pairwise on their way in; returns outer-loop nodes (R,).

    ``hub_turns`` closed loops run from ``hub_radius`` in to the open hub ring at
    ``hub_hole``. Between two loops every radius continues inward, and each pair of
    neighbouring radii joins with probability ``hub_join`` into one node on the inner
    loop: a junction of two radii in, one out and two loop threads (degree 5), as radii
    converge on a real hub.
    """
    d = lambda a: np.stack([np.cos(a), np.sin(a)], 1)  # noqa: E731
    levels = cfg.hub_turns + 1
    radius = np.linspace(cfg.hub_radius, cfg.hub_hole, levels) if cfg.hub_turns else [cfg.hub_hole]
    ang = np.asarray(theta, np.float64)
    ids = draft.add_nodes(_to3d(hub + radius[0] * d(ang)))
    outer = ids
    for lev in range(1, levels):
        draft.add_segments(ids, np.roll(ids, -1), "hub")
        m = len(ids)
        join = np.zeros(m, bool)  # join[i]: lines i and i+1 meet on the next loop
        draw = rng.random(m) < cfg.hub_join
        i = 0
        while i < m - 1 and m - join.sum() > 3:  # the inner loop keeps at least 3 nodes
            if draw[i]:
                join[i] = True
                i += 1  # line i + 1 is taken
            i += 1
        target = np.cumsum(np.r_[True, ~join[:-1]]) - 1  # inner node of each line
        n_in = int(target[-1]) + 1
        cx = np.bincount(target, weights=np.cos(ang), minlength=n_in)
        cy = np.bincount(target, weights=np.sin(ang), minlength=n_in)
        ang = np.mod(np.arctan2(cy, cx), 2 * np.pi)
        inner = draft.add_nodes(_to3d(hub + radius[lev] * d(ang)))
        draft.add_segments(ids, inner[target], "radial")
        ids = inner
    draft.add_segments(ids, np.roll(ids, -1), "hub")
    return outer


def _lay_radii(cfg, draft, hub, corners, frame_seg, c_ids, theta, corner, start) -> tuple:
    """Radii from the outer hub loop to the frame; returns (radius threads, lengths (R,)).

    A radius laid towards a frame corner ends at the corner node; the others end on a
    frame thread.
    """
    length, edge, s = _ray_lengths(hub, corners, theta)
    at_corner = corner >= 0
    length = np.where(at_corner, np.linalg.norm(corners[corner] - hub, axis=1), length)
    free = ~at_corner
    e0, e1 = corners[edge[free]], np.roll(corners, -1, axis=0)[edge[free]]
    end = np.empty(len(theta), np.int64)
    end[at_corner] = c_ids[corner[at_corner]]
    end[free] = draft.add_nodes(_to3d(e0 + s[free, None] * (e1 - e0)))
    draft.attach_exact(frame_seg[edge[free]], s[free], end[free])
    return draft.add_segments(start, end, "radial"), length


def _hub_start(cfg: OrbConfig) -> float:
    """Distance from the hub centre at which the radii leave the hub."""
    return cfg.hub_radius if cfg.hub_turns else cfg.hub_hole


def _lay_spirals(cfg, draft, hub, theta, length, rad) -> None:
    """Capture spiral: a node at every crossing with a radius."""
    d = np.stack([np.cos(theta), np.sin(theta)], 1)
    r0 = _hub_start(cfg)
    span = length - r0
    r_in = cfg.hub_radius + cfg.free_zone
    rows = int(np.ceil(2 * (length.max() - r_in) / cfg.spiral_spacing_inner)) + 2
    r, valid = _spiral_rows(cfg, theta, length, r_in, rows)
    if valid.sum() < 2 * len(theta):
        raise ConfigError("the capture spiral does not fit: reduce the spacings or hub size")
    flat = np.arange(valid.size).reshape(valid.shape)
    linked = np.zeros(valid.size, bool)
    linked[_spiral_edges(valid, flat, turnbacks=True).ravel()] = True
    valid &= linked.reshape(valid.shape)  # drop crossings the spiral never reaches
    ids = np.full(r.shape, -1, np.int64)
    ii, kk = np.nonzero(valid)
    ids[ii, kk] = draft.add_nodes(_to3d(hub + r[ii, kk, None] * d[ii]))
    draft.attach_exact(rad[ii], (r[ii, kk] - r0) / span[ii], ids[ii, kk])
    se = _spiral_edges(valid, ids, turnbacks=True)
    draft.add_segments(se[:, 0], se[:, 1], "spiral")


def build_orb(cfg: OrbConfig | None = None, seed: int = 0) -> WebGraph:
    """Build an orb web (mm) hanging in the x-z plane.

    Parameters
    ----------
    cfg
        Parameters (defaults: about 25-30 radii, 650-900 nodes).
    seed
        Random seed; the same seed gives the same web.

    Returns
    -------
    WebGraph
        ``edge_attrs["thread"]``: bridge, frame, anchor, radial, hub, spiral;
        ``node_attrs["anchor"]`` marks the supports (degree 1); ``meta["n_radii"]``.
    """
    cfg = cfg or OrbConfig()
    rng = np.random.default_rng(seed)
    draft = Draft(min_spacing=0.1)
    corners, frame_seg, c_ids = _lay_frame(cfg, rng, draft)
    hub = np.array([0.0, cfg.hub_offset * cfg.frame_radius])
    theta, corner = _place_radii(cfg, rng, hub, corners)
    start = _lay_hub(cfg, rng, draft, hub, theta)
    rad, length = _lay_radii(cfg, draft, hub, corners, frame_seg, c_ids, theta, corner, start)
    _lay_spirals(cfg, draft, hub, theta, length, rad)
    pos, e, t, anchor = draft.finish()
    pos = _sag(cfg, pos, e, t, anchor)
    pos = pos + np.where(anchor[:, None], 0.0, rng.normal(0, cfg.jitter, pos.shape))
    meta = {
        "family": "orb",
        "config": asdict(cfg),
        "seed": int(seed),
        "units": "mm",
        "n_radii": int(len(theta)),
    }
    return scan_form(assemble_web(pos, e, t, anchor, meta), cfg.resolution, rng)


def _sag(cfg: OrbConfig, pos, edges, codes, anchor) -> np.ndarray:
    """Out-of-plane (y) equilibrium: anchors fixed off-plane, lateral load scaled to ``sag``."""
    lut = np.array([DEFAULT_FORCE_DENSITY[n] for n in THREAD_TYPES])
    q = lut[codes.astype(np.int64)]
    loads = np.zeros((2, len(pos), 3))
    loads[1, :, 1] = 1.0  # unit lateral (wind) load
    y0, y1 = form_find(pos, edges, anchor, q, loads, axes=(1,))
    out = y0.copy()
    if cfg.sag > 0:
        dy = y1[:, 1] - y0[:, 1]
        out[:, 1] += cfg.sag * dy / max(np.abs(dy).max(), 1e-12)
    return out
