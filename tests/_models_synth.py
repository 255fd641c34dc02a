"""Small synthetic datasets for the model tests: ring-and-spoke patches encoded by the real
WebDataset (canonical order, padding, features), sized for a fast CPU test run."""

from __future__ import annotations

import numpy as np

from araneus.dataset import WebDataset
from araneus.web import WebGraph


def synth_web(rng: np.random.Generator) -> WebGraph:
    """A small orb-like patch: ``rings`` circles of ``spokes`` nodes joined along spokes."""
    rings, spokes = int(rng.integers(2, 4)), int(rng.integers(5, 9))
    scale, tilt = rng.uniform(0.5, 2.0), rng.uniform(0.0, 0.5)
    k, j = np.meshgrid(np.arange(rings), np.arange(spokes), indexing="ij")
    r = scale * (k + 1.0)
    a = 2 * np.pi * j / spokes + rng.normal(0, 0.05, j.shape)
    pos = np.stack(
        [r * np.cos(a), r * np.sin(a), tilt * r * np.sin(a) + rng.normal(0, 0.02, r.shape)], -1
    )
    idx = np.arange(rings * spokes).reshape(rings, spokes)
    circ = np.stack([idx.ravel(), np.roll(idx, -1, axis=1).ravel()], 1)
    rad = np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1)
    web, _ = WebGraph.from_raw(pos.reshape(-1, 3), np.concatenate([circ, rad]))
    return web


def synth_dataset(n: int = 64, seed: int = 0, K: int = 4, L: int = 24) -> WebDataset:  # noqa: N803
    rng = np.random.default_rng(seed)
    webs = [synth_web(rng) for _ in range(n)]
    split = np.zeros(n, np.int8)
    split[int(0.8 * n) :] = 2
    return WebDataset.from_webs(webs, K=K, L=L, split=split)
