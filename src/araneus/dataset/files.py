"""Dataset summaries, feature-histogram figures, and loading sets of webs from disk."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output, check_input_file, max_input_bytes
from ..errors import FormatError, InputError
from ..features import FEATURE_UNITS
from ..web import WebGraph
from .webdataset import FORMAT_VERSION, SPLITS, WebDataset


def summary(ds: WebDataset) -> str:
    """A multi-line text summary: sizes, splits, sampler, counts, feature ranges.

    ``ds.meta`` comes from a file and may hold anything JSON can: entries of an
    unexpected type are shown as text rather than trusted.
    """
    n = ds.n_nodes
    counts = np.bincount(ds.split, minlength=3)
    meta = ds.meta
    sources = meta.get("sources")
    lines = [
        f"samples {len(ds)}  L={ds.L}  K={ds.K}  features {len(ds.feature_names)}",
        "split   " + "  ".join(f"{s} {c}" for s, c in zip(SPLITS, counts.tolist())),
        f"nodes   min {n.min() if len(n) else 0}  mean {n.mean() if len(n) else 0:.1f}  "
        f"max {n.max() if len(n) else 0}",
        f"source  {_short(meta.get('source', '?'))}  "
        f"({(len(sources) if isinstance(sources, list) else 0) or 1} web(s))",
    ]
    s = meta.get("sampler")
    if isinstance(s, dict):
        lines.append("sampler " + "  ".join(
            f"{k} {_short(s.get(k))}" if k != "sampler" else _short(s.get(k))
            for k in ("sampler", "n_min", "n_max", "split", "seed")))  # fmt: skip
    for key in ("counts", "split_overlap", "degree_cap", "reference_import"):
        if isinstance(meta.get(key), dict):
            lines.append(f"{key}: " + "  ".join(f"{k} {_short(v)}" for k, v in meta[key].items()
                                                 if not isinstance(v, list)))  # fmt: skip
    lines.append(f"bandwidth {_short(meta.get('bandwidth', '?'))} (max |i-j| over edges)")
    mech = meta.get("mechanics")
    if isinstance(mech, dict):
        lines.append("mechanics " + "  ".join(f"{k} {_short(mech.get(k))}" for k in
                                              ("material", "strut_mm", "pretension", "dropped")))  # fmt: skip
    from ..mechanics.descriptors import MECHANICAL_UNITS

    units = {**MECHANICAL_UNITS, **FEATURE_UNITS}
    width = max([18, *(len(n) + 2 for n in ds.feature_names)])
    lines.append(f"{'feature':<{width}}{'min':>12}{'mean':>12}{'max':>12}  unit")
    for j, name in enumerate(ds.feature_names):
        col = ds.features[:, j] if len(ds) else np.zeros(1)
        lines.append(f"{name:<{width}}{col.min():12.4g}{col.mean():12.4g}{col.max():12.4g}  "
                     f"{units.get(name, '')}")  # fmt: skip
    return "\n".join(lines)


def _short(v: Any, width: int = 80) -> str:
    """``v`` as text of at most ``width`` characters (meta values come from a file)."""
    text = str(v) if _shallow(v, 3) else f"<nested {type(v).__name__}>"
    return text if len(text) <= width else text[: width - 3] + "..."


def _shallow(v: Any, depth: int) -> bool:
    """True for a value nested at most ``depth`` deep with at most 1000 items per level."""
    if not isinstance(v, (list, dict)):
        return True
    if depth == 0 or len(v) > 1000:
        return False
    return all(_shallow(x, depth - 1) for x in (v.values() if isinstance(v, dict) else v))


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
    from ..report.plot import _pyplot, figure_format

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


# ----------------------------------------------------------------- bounded .npz reading
#: Arrays of a dataset file: allowed dtype kinds and number of dimensions.
NPZ_ARRAYS: dict[str, tuple[str, int]] = {
    "pos": ("fiu", 3),
    "nbrs": ("iu", 3),
    "mask": ("b", 2),
    "features": ("fiu", 2),
    "split": ("iu", 1),
    "origin": ("iu", 2),
    "source_id": ("iu", 1),
}
_HEADER_LIMIT = 64 << 20  # the JSON header: meta, names, normaliser
_CHUNK = 16 << 20


def read_dataset_file(path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON header and the arrays of a dataset ``.npz``, read with bounded memory.

    Nothing is inflated before the zip's declared sizes are checked against the input
    limit (:func:`araneus._util.max_input_bytes`) and every array's ``.npy`` header
    (dtype, shape) against the others and against its declared size; members the dataset
    does not use are never inflated. A corrupt member (bad CRC, broken deflate stream) is
    a :class:`FormatError`.

    Returns
    -------
    header : dict
        The validated JSON header (``format``, ``version``, ``feature_names``, ``meta``,
        ``normaliser``).
    arrays : dict
        ``pos``, ``nbrs``, ``mask``, ``features``, ``split``, ``origin``, ``source_id``.
    """
    p = check_input_file(path, "dataset file")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
        if magic[:2] != b"PK":
            raise FormatError(p, "not an .npz dataset file (no zip signature)")
        with zipfile.ZipFile(p) as zf:
            return _read_members(p, zf)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise FormatError(p, f"not a readable .npz dataset ({exc})") from None


def _read_members(p: Path, zf: zipfile.ZipFile) -> tuple[dict, dict[str, np.ndarray]]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key == "header" or key in NPZ_ARRAYS:
            if key in infos:
                raise FormatError(p, f"array {key!r} appears twice")
            infos[key] = info
    missing = [k for k in ("header", *NPZ_ARRAYS) if k not in infos]
    if missing:
        raise FormatError(p, f"missing arrays {missing}; not an araneus dataset")
    limit = max_input_bytes()
    total = sum(i.file_size for i in infos.values())
    if total > limit:
        raise FormatError(
            p,
            f"arrays declare {total:,} bytes, more than the {limit:,}-byte input limit "
            "(raise it with ARANEUS_MAX_INPUT_BYTES)",
        )
    if infos["header"].file_size > _HEADER_LIMIT:
        raise FormatError(p, "the JSON header is larger than 64 MiB", "array 'header'")
    with zf.open(infos["header"]) as fh:
        blob = _read_npy(p, "header", fh, infos["header"].file_size, "u", 1)
    header = _parse_header(p, blob.tobytes())
    opened = {k: zf.open(infos[k]) for k in NPZ_ARRAYS}
    try:
        heads = {
            k: _npy_header(p, k, fh, infos[k].file_size, *NPZ_ARRAYS[k]) for k, fh in opened.items()
        }
        _check_shapes(p, heads, len(header["feature_names"]))
        arrays = {k: _npy_data(p, k, fh, heads[k]) for k, fh in opened.items()}
    finally:
        for fh in opened.values():
            fh.close()
    return header, arrays


def _npy_header(p: Path, key: str, fh, size: int, kinds: str, ndim: int) -> tuple:
    where = f"array {key!r}"
    try:
        version = np.lib.format.read_magic(fh)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"unknown .npy format version {version}")
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)  # fmt: skip
        shape, fortran, dtype = read(fh, max_header_size=10000)
    except (ValueError, TypeError, SyntaxError, RecursionError) as exc:
        raise FormatError(p, f"not a valid .npy array ({exc})", where) from None
    if dtype.kind not in kinds or dtype.names or dtype.shape or len(shape) != ndim:
        raise FormatError(p, f"has dtype {dtype} and {len(shape)} dimension(s); expected "
                          f"{ndim} dimension(s) of kind {kinds!r}", where)  # fmt: skip
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if fh.tell() + nbytes != size:
        raise FormatError(p, f"shape {shape} needs {nbytes:,} bytes but the archive declares "
                          f"{size - fh.tell():,}", where)  # fmt: skip
    return shape, fortran, dtype, nbytes


def _npy_data(p: Path, key: str, fh, head: tuple) -> np.ndarray:
    shape, fortran, dtype, nbytes = head
    buf = np.empty(nbytes, np.uint8)
    got = 0
    while got < nbytes:
        chunk = fh.read(min(_CHUNK, nbytes - got))
        if not chunk:
            raise FormatError(p, f"truncated: {got:,} of {nbytes:,} bytes", f"array {key!r}")
        buf[got : got + len(chunk)] = np.frombuffer(chunk, np.uint8)
        got += len(chunk)
    if fh.read(1):  # also makes zipfile check the CRC
        raise FormatError(p, "holds more bytes than its shape", f"array {key!r}")
    if dtype.kind == "b":
        return (buf != 0).reshape(shape, order="F" if fortran else "C")
    return buf.view(dtype).reshape(shape, order="F" if fortran else "C")


def _read_npy(p: Path, key: str, fh, size: int, kinds: str, ndim: int) -> np.ndarray:
    return _npy_data(p, key, fh, _npy_header(p, key, fh, size, kinds, ndim))


def _check_shapes(p: Path, heads: dict[str, tuple], n_features: int) -> None:
    """Every array's declared shape agrees with ``mask`` (S, L), before any data is read."""
    s, length = heads["mask"][0]
    k = heads["nbrs"][0][2] if len(heads["nbrs"][0]) == 3 else 0
    want = {
        "pos": (s, length, 3),
        "nbrs": (s, length, max(k, 1)),
        "features": (s, n_features),
        "split": (s,),
        "origin": (s, length),
        "source_id": (s,),
    }
    for key, shape in want.items():
        if tuple(heads[key][0]) != shape:
            raise FormatError(
                p, f"shape {tuple(heads[key][0])} disagrees with mask (S={s}, L={length}); "
                f"expected {shape}", f"array {key!r}",
            )  # fmt: skip


def _parse_header(p: Path, blob: bytes) -> dict[str, Any]:
    where = "array 'header'"
    try:
        header = json.loads(blob.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(p, f"header is not JSON text ({exc})", where) from None
    except RecursionError:
        raise FormatError(p, "header JSON is nested too deeply", where) from None
    if not isinstance(header, dict):
        raise FormatError(p, f"header must be a JSON object, got {_jtype(header)}", where)
    if header.get("format") != "araneus.WebDataset":
        raise FormatError(p, "wrong format tag (expected 'araneus.WebDataset')", where)
    version = header.get("version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= FORMAT_VERSION
    ):
        raise FormatError(p, f"unsupported dataset version {str(version)[:20]} (this araneus "
                          f"reads 1..{FORMAT_VERSION})", where)  # fmt: skip
    names = header.get("feature_names")
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) and 0 < len(n) <= 200 for n in names)
        or len(set(names)) != len(names)
    ):
        raise FormatError(p, "'feature_names' must be a list of distinct names", where)
    header.setdefault("meta", {})
    if not isinstance(header["meta"], dict):
        raise FormatError(p, f"'meta' must be a JSON object, got {_jtype(header['meta'])}", where)
    norm = header.get("normaliser")
    if not isinstance(norm, dict):
        raise FormatError(p, "'normaliser' must be a JSON object", where)
    f = len(names)
    if not _finite_number(norm.get("pos_scale")):
        raise FormatError(p, "normaliser 'pos_scale' must be a finite number", where)
    for key in ("feat_min", "feat_max"):
        vals = norm.get(key)
        if not isinstance(vals, list) or len(vals) != f or not all(map(_finite_number, vals)):
            raise FormatError(p, f"normaliser {key!r} must be a list of {f} finite numbers", where)
    return header


def _finite_number(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return bool(np.isfinite(float(x)))
    except OverflowError:
        return False


def _jtype(x: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null",
            bool: "a boolean"}.get(type(x), "a number")  # fmt: skip


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
