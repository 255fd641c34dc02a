"""Small synthetic webs for the dataset and metrics tests (no builders needed)."""

import numpy as np

from araneus import WebGraph


def grid_web(nx=20, ny=20, nz=3, seed=0, noise=0.1):
    """A jittered 3-D grid graph (degree <= 6, connected)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(nx * ny * nz).reshape(nx, ny, nz)
    g = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"), -1)
    pos = g.reshape(-1, 3).astype(float) + rng.normal(scale=noise, size=(nx * ny * nz, 3))
    e = [
        np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),
        np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
        np.stack([idx[:, :, :-1].ravel(), idx[:, :, 1:].ravel()], 1),
    ]
    return WebGraph(pos, np.concatenate(e))


def orb_web(n_radii=24, n_rings=30, seed=0):
    """Orb-like web: radii crossed by rings, degree-4 dominated, nearly planar."""
    rng = np.random.default_rng(seed)
    r = 5.0 + np.arange(n_rings) * (1.0 + 0.02 * np.arange(n_rings))
    th = np.linspace(0, 2 * np.pi, n_radii, endpoint=False)
    rr, tt = np.meshgrid(r, th, indexing="ij")  # (rings, radii)
    pos = np.stack([rr * np.cos(tt), 0.05 * rng.normal(size=rr.shape), rr * np.sin(tt)], -1)
    idx = np.arange(n_rings * n_radii).reshape(n_rings, n_radii)
    rings = np.stack([idx.ravel(), np.roll(idx, -1, axis=1).ravel()], 1)
    radial = np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1)
    return WebGraph(pos.reshape(-1, 3), np.concatenate([rings, radial]))


def tangle_web(n=1500, seed=0, radius=1.6):
    """Tangle-like web: random 3-D points joined to random near neighbours."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 20, size=(n, 3))
    pairs = np.array(sorted(cKDTree(pos).query_pairs(radius * 1.5)))
    keep = rng.random(len(pairs)) < 0.5
    w, _ = WebGraph.from_raw(pos, pairs[keep])
    return w.largest_component()
