"""Tent / sheet webs of *Cyrtophora* (the species of the paper's scanned web).

Structure, following descriptions of *Cyrtophora citricola* webs:

* a horizontal, dome-shaped sheet of fine near-square mesh: radial threads and a closely
  spaced non-sticky spiral (here concentric rings). To keep the mesh square the radials
  branch: a new radial starts on a ring (a T-junction) wherever the gap between its
  neighbours exceeds ``branch_ratio * mesh_spacing``;
* spiral attachments that are not a clean crossing: with probability ``stagger`` the ring
  segments on the two sides of a radial attach at slightly different points, giving two
  T-junctions (as a skeletonised scan records them; the scanned web has mean degree ~3);
* the hub pulled up (``dome_height``) and the sheet bowed up by the upper barrier threads
  (``bulge``), solved by force-density equilibrium of the sheet;
* a 3-D tangle of barrier/scaffold threads above and below the sheet, running to anchors on
  the faces of a bounding box, each thread fixed to earlier threads (junction nodes).

Units are millimetres; the rim of the sheet is at z = 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..web import THREAD_TYPES, WebGraph, thread_code
from . import _config as v
from ._geometry import (
    Draft,
    assemble_web,
    box_face_points,
    grow_threads,
    scan_form,
    type_force_density,
)
from .shaping import form_find


@dataclass(frozen=True)
class TentConfig:
    """Parameters of a *Cyrtophora* tent web (lengths in mm).

    Attributes
    ----------
    sheet_radius
        Outer radius of the sheet.
    hub_radius
        Radius of the open hub ring.
    mesh_spacing
        Spacing of the sheet's rings, and the target spacing of its radials.
    hub_radials
        Radials that reach the hub.
    branch_ratio
        A new radial is inserted between two neighbours once their gap exceeds this many
        mesh spacings (> 1).
    stagger
        Fraction of radial-ring attachments split into two T-junctions.
    dome_height
        Height of the hub above the rim.
    bulge
        Extra upward bulge of the sheet between hub and rim (negative: sag).
    box_half_width, box_top, box_bottom
        The bounding box of the anchors: ``|x|, |y| <= box_half_width``,
        ``box_bottom <= z <= box_top``.
    rim_threads
        Support threads from the sheet edge to the box walls.
    lines_above, lines_below
        Barrier lines: near-vertical threads from points of the sheet up to the box top
        (down to the box bottom), the steep threads of the barrier.
    line_tilt
        Standard deviation (degrees) of the barrier lines' tilt from the vertical.
    barrier_above, barrier_below
        Barrier (scaffold) tangle threads above and below the sheet.
    vertical_bias
        Preference of the tangle threads for steep attachments (0 = none; see
        :func:`~araneus.builders._geometry.grow_threads`).
    hub_lines
        Threads pulling the hub up to the box top.
    length_scale
        Attachment probability falls as ``exp(-distance / length_scale)``.
    p_anchor
        Probability that a barrier thread starts at a new anchor (else on a thread).
    min_spacing
        Smallest distance between junctions on one thread.
    jitter
        Standard deviation of the random displacement of non-anchor nodes.
    resolution
        Scan-like form: ``"auto"`` or a segment length (mm) to subdivide every thread
        into a jittered, sagging polyline (:func:`araneus.builders.resample.resample`); 0 (the
        default) keeps the junction-only form.
    """

    sheet_radius: float = 110.0
    hub_radius: float = 6.0
    mesh_spacing: float = 1.8
    hub_radials: int = 24
    branch_ratio: float = 1.7
    stagger: float = 0.55
    dome_height: float = 40.0
    bulge: float = 15.0
    box_half_width: float = 160.0
    box_top: float = 120.0
    box_bottom: float = -100.0
    rim_threads: int = 70
    lines_above: int = 60
    lines_below: int = 25
    line_tilt: float = 12.0
    barrier_above: int = 300
    barrier_below: int = 200
    vertical_bias: float = 2.0
    hub_lines: int = 3
    length_scale: float = 25.0
    p_anchor: float = 0.1
    min_spacing: float = 0.6
    jitter: float = 0.08
    resolution: str | float = 0.0

    def __post_init__(self) -> None:
        v.resolution_field(self)
        v.positive_fields(self, "sheet_radius", "hub_radius", "mesh_spacing", "branch_ratio")
        v.positive_fields(self, "box_half_width", "box_top", "length_scale", "min_spacing")
        v.non_negative_fields(self, "dome_height", "jitter")
        v.finite("bulge", self.bulge)
        v.finite("box_bottom", self.box_bottom)
        if self.box_bottom >= 0:
            raise v.ConfigError(f"box_bottom must be below the sheet (< 0), got {self.box_bottom}")
        v.int_range("hub_radials", self.hub_radials, 3, 512)
        v.int_range("rim_threads", self.rim_threads, 3, 100_000)
        v.int_range("lines_above", self.lines_above, 0, 100_000)
        v.int_range("lines_below", self.lines_below, 0, 100_000)
        v.fraction("line_tilt", self.line_tilt, 0.0, 45.0)
        v.non_negative_fields(self, "vertical_bias")
        v.int_range("barrier_above", self.barrier_above, 0, 1_000_000)
        v.int_range("barrier_below", self.barrier_below, 0, 1_000_000)
        v.int_range("hub_lines", self.hub_lines, 0, 64)
        v.fraction("stagger", self.stagger)
        v.fraction("p_anchor", self.p_anchor)
        if self.branch_ratio <= 1.0:
            raise v.ConfigError(f"branch_ratio must be > 1, got {self.branch_ratio}")
        v.less("hub_radius", self.hub_radius, "sheet_radius", self.sheet_radius, "no sheet")
        v.less(
            "mesh_spacing",
            self.mesh_spacing,
            "sheet_radius - hub_radius",
            self.sheet_radius - self.hub_radius,
            "the sheet needs at least two rings",
        )
        if (self.sheet_radius - self.hub_radius) / self.mesh_spacing > 5000:
            raise v.ConfigError("mesh_spacing is too fine for sheet_radius (over 5000 rings)")
        v.less("sheet_radius", self.sheet_radius, "box_half_width", self.box_half_width, "")
        v.less("dome_height", self.dome_height, "box_top", self.box_top, "hub above the box")
        v.less("min_spacing", self.min_spacing, "mesh_spacing", self.mesh_spacing, "")


def _radial_plan(cfg: TentConfig, n_rings: int, rng: np.random.Generator):
    """Which radial crosses which ring: ``present`` (R, n_rings), angles (R,), first ring (R,).

    Radials branch by levels: level-l radials start where the gap between the radials of
    lower levels exceeds ``branch_ratio`` mesh spacings (plus a random 0-3 rings).
    """
    s, rh, n0 = cfg.mesh_spacing, cfg.hub_radius, cfg.hub_radials
    r_start = cfg.branch_ratio * s * n0 * 2.0 ** (np.arange(32) - 1) / (2 * np.pi)
    n_levels = int(np.searchsorted(r_start[1:], cfg.sheet_radius) + 1)
    n_max = n0 * 2 ** (n_levels - 1)
    j = np.arange(n_max)
    low = j & -j  # lowest set bit: the number of trailing zeros gives the level
    tz = np.where(j == 0, n_levels - 1, np.log2(np.maximum(low, 1)).round().astype(np.int64))
    level = n_levels - 1 - np.minimum(tz, n_levels - 1)
    k0 = np.ceil((r_start[level] - rh) / s).astype(np.int64)
    k0 = np.where(level == 0, 0, k0 + rng.integers(0, 4, n_max))
    present = np.arange(n_rings)[None, :] >= k0[:, None]  # (n_max, n_rings)
    theta = 2 * np.pi * (j + rng.uniform(-0.2, 0.2, n_max)) / n_max
    return present, theta, k0


def _sheet_layout(cfg: TentConfig, rng: np.random.Generator):
    """Radial/ring sheet: node positions (planar), edges, thread codes, hub and rim masks."""
    s, rh, big_r = cfg.mesh_spacing, cfg.hub_radius, cfg.sheet_radius
    n_rings = int(math.floor((big_r - rh) / s)) + 1
    rk = rh + s * np.arange(n_rings)
    present, theta, k0 = _radial_plan(cfg, n_rings, rng)
    split = present & (rng.random(present.shape) < cfg.stagger)
    split &= np.arange(n_rings)[None, :] > k0[:, None]
    split[:, -1] = False
    # node ids: base for every present (j, k), extra for split ones
    base = np.full(present.shape, -1, np.int64)
    base[present] = np.arange(present.sum())
    extra = np.full(present.shape, -1, np.int64)
    n_base = int(present.sum())
    extra[split] = n_base + np.arange(split.sum())
    # shape: slightly non-circular outline, ring radii with noise
    phase = rng.uniform(0, 2 * np.pi, 2)
    outline = 1 + 0.05 * np.cos(theta - phase[0]) + 0.03 * np.cos(2 * (theta - phase[1]))
    rr = (rk[None, :] + rng.normal(0, 0.06 * s, present.shape)) * outline[:, None]
    delta = 0.3 * s * outline[:, None]
    r_base = np.where(split, rr - delta / 2, rr)
    jj, kk = np.nonzero(present)
    js, ks = np.nonzero(split)
    r_all = np.concatenate([r_base[jj, kk], (rr + delta / 2)[js, ks]])
    t_all = np.concatenate([theta[jj], theta[js]])
    pos = np.stack([r_all * np.cos(t_all), r_all * np.sin(t_all), np.zeros_like(r_all)], 1)
    last = np.where(split, extra, base)
    # radial edges
    rad_pairs = present[:, :-1] & present[:, 1:]
    ra, rb = np.nonzero(rad_pairs)
    radial = np.concatenate(
        [np.stack([last[ra, rb], base[ra, rb + 1]], 1), np.stack([base[js, ks], extra[js, ks]], 1)]
    )
    # ring edges: consecutive present radials on each ring, cyclic
    kk2, jj2 = np.nonzero(present.T)  # sorted by ring, then angle
    starts = np.flatnonzero(np.r_[True, kk2[1:] != kk2[:-1]])
    nxt = np.arange(len(kk2)) + 1
    ends = np.r_[starts[1:], len(kk2)] - 1
    nxt[ends] = starts
    ring = np.stack([last[jj2, kk2], base[jj2[nxt], kk2[nxt]]], 1)
    edges = np.concatenate([radial, ring])
    codes = np.concatenate(
        [
            np.full(len(radial), thread_code("radial"), np.int8),
            np.where(kk2 == 0, thread_code("hub"), thread_code("sheet")).astype(np.int8),
        ]
    )
    hub = np.zeros(len(pos), bool)
    hub[base[:, 0][present[:, 0]]] = True
    rim = np.zeros(len(pos), bool)
    rim[base[:, -1][present[:, -1]]] = True
    return pos, edges, codes, hub, rim


def _shape_sheet(cfg: TentConfig, pos, edges, codes, hub, rim) -> np.ndarray:
    """Heights of the sheet: hub up, rim at 0, plus a bulge from the upper barrier pull."""
    q = type_force_density(codes)  # the densities stored on the web's edges
    fixed = hub | rim
    p = pos.copy()
    p[:, 2] = np.where(hub, cfg.dome_height, 0.0)
    loads = np.zeros((2, len(pos), 3))
    loads[1, :, 2] = 1.0  # unit upward pull of the upper barrier threads
    both = form_find(p, edges, fixed, q, loads, axes=(2,))[:, :, 2]
    z0, z1 = both[0], both[1] - both[0]
    return z0 + cfg.bulge * z1 / max(np.abs(z1).max(), 1e-12)


def build_tent(cfg: TentConfig | None = None, seed: int = 0) -> WebGraph:
    """Build a *Cyrtophora* tent web (mm).

    Parameters
    ----------
    cfg
        Parameters; defaults give about 20,000 nodes.
    seed
        Random seed; the same seed gives the same web.

    Returns
    -------
    WebGraph
        With ``edge_attrs["thread"]`` (radial, sheet, hub, scaffold) and
        ``node_attrs["anchor"]``.
    """
    cfg = cfg or TentConfig()
    rng = np.random.default_rng(seed)
    pos, edges, codes, hub, rim = _sheet_layout(cfg, rng)
    pos[:, 2] = _shape_sheet(cfg, pos, edges, codes, hub, rim)
    draft = Draft(cfg.min_spacing)
    draft.add_nodes(pos)
    for code in np.unique(codes):
        sel = codes == code
        draft.add_segments(edges[sel, 0], edges[sel, 1], THREAD_TYPES[code])
    _add_supports(cfg, rng, draft, hub, rim, len(edges))
    _add_lines(cfg, rng, draft, len(edges))
    _add_barrier(cfg, rng, draft)
    p, e, t, anchor = draft.finish()
    p = p + np.where(anchor[:, None], 0.0, rng.normal(0, cfg.jitter, p.shape))
    meta = {"family": "tent", "config": asdict(cfg), "seed": int(seed), "units": "mm"}
    return scan_form(assemble_web(p, e, t, anchor, meta), cfg.resolution, rng)


def _add_supports(cfg: TentConfig, rng, draft: Draft, hub, rim, n_sheet_edges: int) -> None:
    """Hub lines up to the box top and support threads from the sheet edge to the walls."""
    w, top, bot = cfg.box_half_width, cfg.box_top, cfg.box_bottom
    pos = draft.pos
    hub_ids = np.flatnonzero(hub)
    if cfg.hub_lines:
        pick = rng.choice(hub_ids, size=min(cfg.hub_lines, len(hub_ids)), replace=False)
        tops = pos[pick] * [3, 3, 0] + [0, 0, top] + rng.normal(0, 5, (len(pick), 3)) * [1, 1, 0]
        draft.add_segments(pick, draft.add_nodes(tops, anchor=True), "scaffold")
    sheet_segs = draft.segments()[0][:n_sheet_edges]
    rim_seg = np.flatnonzero(rim[sheet_segs[:, 0]] & rim[sheet_segs[:, 1]])
    chosen = rng.choice(rim_seg, size=min(cfg.rim_threads, len(rim_seg)), replace=False)
    a = draft.attach(chosen, rng.uniform(0.2, 0.8, len(chosen)))
    ang = np.arctan2(draft.pos[a, 1], draft.pos[a, 0]) + rng.normal(0, 0.15, len(a))
    d = np.stack([np.cos(ang), np.sin(ang)], 1)
    reach = w / np.abs(d).max(axis=1)  # distance to the wall along d
    wall = np.column_stack([d * reach[:, None], rng.uniform(0.5 * bot, 0.5 * top, len(a))])
    draft.add_segments(a, draft.add_nodes(wall, anchor=True), "scaffold")


def _add_lines(cfg: TentConfig, rng, draft: Draft, n_sheet_edges: int) -> None:
    """Near-vertical barrier lines from random points of the sheet to the box top/bottom."""
    w = cfg.box_half_width
    segs = draft.segments()[0][:n_sheet_edges]
    pos = draft.pos
    seg_len = np.linalg.norm(pos[segs[:, 1]] - pos[segs[:, 0]], axis=1)
    for n, z_end in ((cfg.lines_above, cfg.box_top), (cfg.lines_below, cfg.box_bottom)):
        if not n:
            continue
        seg = rng.choice(len(segs), size=n, p=seg_len / seg_len.sum())
        start = draft.attach(seg, rng.uniform(0.2, 0.8, n))
        p0 = draft.pos[start]
        tilt = np.radians(np.abs(rng.normal(0.0, cfg.line_tilt, n)))
        az = rng.uniform(0, 2 * np.pi, n)
        d = np.column_stack([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), np.cos(tilt)])
        d[:, 2] *= np.sign(z_end)
        reach = (z_end - p0[:, 2]) / d[:, 2]  # to the top (bottom) of the box
        with np.errstate(divide="ignore"):
            wall = np.min((w - np.abs(p0[:, :2])) / np.abs(d[:, :2]), axis=1)  # to a wall
        end = p0 + np.minimum(reach, wall)[:, None] * d
        draft.add_segments(start, draft.add_nodes(end, anchor=True), "scaffold")


def _add_barrier(cfg: TentConfig, rng, draft: Draft) -> None:
    """Barrier tangles above and below the sheet (threads fixed to earlier threads)."""
    w = cfg.box_half_width
    sheet_codes = np.array([thread_code(t) for t in ("radial", "sheet", "hub")])

    def weight(side: float):
        def f(mid: np.ndarray, tcodes: np.ndarray) -> np.ndarray:
            r = np.hypot(mid[:, 0], mid[:, 1])
            sheet_z = cfg.dome_height * np.clip(1 - r / cfg.sheet_radius, 0, 1)
            above = (mid[:, 2] - sheet_z) * side > 0
            return np.where(np.isin(tcodes, sheet_codes), 0.3, np.where(above, 1.0, 0.0))

        return f

    for side, n, hi_z, faces in (
        (1.0, cfg.barrier_above, cfg.box_top, ("-x", "+x", "-y", "+y", "+z")),
        (-1.0, cfg.barrier_below, cfg.box_bottom, ("-x", "+x", "-y", "+y", "-z")),
    ):
        box_lo = np.array([-w, -w, min(0.0, hi_z)])
        box_hi = np.array([w, w, max(0.0, hi_z)])
        grow_threads(
            draft,
            rng,
            n,
            anchor_points=lambda g, m, a=box_lo, b=box_hi, f=faces: box_face_points(g, m, a, b, f),
            seg_weight=weight(side),
            p_anchor=cfg.p_anchor,
            length_scale=cfg.length_scale,
            min_length=4 * cfg.min_spacing,
            thread="scaffold",
            vertical_bias=cfg.vertical_bias,
        )
