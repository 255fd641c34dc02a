"""Dataset summaries, feature-histogram figures, and loading sets of webs from disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._util import atomic_output
from ..errors import FormatError, InputError
from ..features import FEATURE_UNITS
from ..web import WebGraph
from .webdataset import SPLITS, WebDataset


def summary(ds: WebDataset) -> str:
    """A multi-line text summary: sizes, splits, sampler, counts, feature ranges."""
    n = ds.n_nodes
    counts = np.bincount(ds.split, minlength=3)
    lines = [
        f"samples {len(ds)}  L={ds.L}  K={ds.K}  features {len(ds.feature_names)}",
        "split   " + "  ".join(f"{s} {c}" for s, c in zip(SPLITS, counts.tolist())),
        f"nodes   min {n.min() if len(n) else 0}  mean {n.mean() if len(n) else 0:.1f}  "
        f"max {n.max() if len(n) else 0}",
        f"source  {ds.meta.get('source', '?')}  ({len(ds.meta.get('sources', [])) or 1} web(s))",
    ]
    if "sampler" in ds.meta:
        s = ds.meta["sampler"]
        lines.append(f"sampler {s.get('sampler')}  n_min {s.get('n_min')}  n_max {s.get('n_max')}"
                     f"  split {s.get('split')}  seed {s.get('seed')}")  # fmt: skip
    for key in ("counts", "split_overlap", "degree_cap", "reference_import"):
        if key in ds.meta:
            lines.append(f"{key}: " + "  ".join(f"{k} {v}" for k, v in ds.meta[key].items()
                                                 if not isinstance(v, list)))  # fmt: skip
    lines.append(f"bandwidth {ds.meta.get('bandwidth', '?')} (max |i-j| over edges)")
    lines.append(f"{'feature':<18}{'min':>12}{'mean':>12}{'max':>12}  unit")
    for j, name in enumerate(ds.feature_names):
        col = ds.features[:, j] if len(ds) else np.zeros(1)
        lines.append(f"{name:<18}{col.min():12.4g}{col.mean():12.4g}{col.max():12.4g}  "
                     f"{FEATURE_UNITS.get(name, '')}")  # fmt: skip
    return "\n".join(lines)


def feature_histograms(ds: WebDataset, path, bins: int = 40) -> None:
    """Save a figure (PNG/SVG/PDF by suffix) with one histogram per feature, by split.

    Parameters
    ----------
    ds
        The dataset.
    path
        Output image; an unknown suffix raises :class:`InputError` before any drawing.
    bins
        Histogram bins per feature.
    """
    from ..plot import _pyplot, figure_format

    fmt = figure_format(path)
    plt = _pyplot()

    f = len(ds.feature_names)
    cols = min(4, max(f, 1))
    rows = (f + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for j, name in enumerate(ds.feature_names):
        ax = axes[j // cols][j % cols]
        col = ds.features[:, j]
        edges = np.histogram_bin_edges(col, bins=bins) if len(col) else bins
        for code, label in enumerate(SPLITS):
            sel = col[ds.split == code]
            if len(sel):
                ax.hist(sel, bins=edges, alpha=0.6, label=label)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for j in range(f, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=110)
    finally:
        plt.close(fig)


def load_webs(path, split: str | None = None, limit: int | None = None) -> list[WebGraph]:
    """Webs from a dataset file (``.npz``) or a folder of web files.

    Parameters
    ----------
    path
        A file written by :meth:`WebDataset.save`, or a directory whose files with a
        readable web suffix (see :func:`araneus.io.available_formats`) are read in name order.
    split
        For a dataset file: only that split (``"train"``, ``"val"``, ``"test"``).
    limit
        At most this many webs (the first ones).
    """
    from ..io import available_formats, read_web

    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise InputError(f"limit must be an integer >= 1, got {limit!r}")
    p = Path(path)
    if p.is_dir():
        suffixes = {s for f in available_formats().values() if f.reader for s in f.suffixes}
        files = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in suffixes)
        if limit is not None:
            files = files[:limit]
        if not files:
            raise FormatError(p, f"folder holds no web files ({', '.join(sorted(suffixes))})")
        return [read_web(q) for q in files]
    if not p.exists():
        raise FormatError(p, "no such file or folder")
    web_suffixes = {s for f in available_formats().values() if f.reader for s in f.suffixes}
    if p.suffix.lower() in web_suffixes and p.suffix.lower() != ".npz":
        raise FormatError(
            p, "is a single web file; give a dataset file (.npz) or a folder of web files"
        )
    ds = WebDataset.load(p)
    if split is not None:
        ds = ds.subset(split)
    n = len(ds) if limit is None else min(len(ds), int(limit))
    if n == 0:
        raise FormatError(p, f"dataset holds no samples{'' if split is None else ' in ' + split}")
    return ds.to_webs(range(n))
