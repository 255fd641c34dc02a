"""Import of the reference work's pickled dataset tuple (``dataset_webs_medium.pt``).

Layout (see docs/reference.md section 1): a tuple ``(input, y_data, node_number_list,
labels_y_txt, max_length, posdim_emb, max_neighbors)`` where ``input[s, i]`` is
``[ordinal, x, y, z, n_1..n_K, d_1..d_K]`` with neighbour indices 1-based within the
sample and 0 for an empty slot, padded to ``max_length`` rows.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .._util import check_input_file, max_input_bytes
from ..errors import FormatError, InputError
from ..web import canonicalize_edges
from .encode import Packed, degree_cap_mask, restrict_nodes
from .webdataset import WebDataset

_RISK = (
    "it needs full unpickling, which can execute arbitrary code from the file; "
    "only if you trust its origin, pass allow_pickle=True (CLI: --allow-pickle)"
)


def _load_tuple(path: Path, allow_pickle: bool):
    import torch

    _check_zip_sizes(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on odd pickles: the error speaks
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = (str(exc).splitlines() or [""])[0]
        if "weights only" not in str(exc).lower():
            raise FormatError(path, f"not a readable torch file ({first[:200]})") from None
        if not allow_pickle:
            raise FormatError(path, f"refusing to load: {_RISK} ({first[:200]})") from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises many unrelated types
        raise FormatError(
            path, f"not a readable torch file ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any failure of an untrusted pickle
        raise FormatError(path, f"unpickling failed ({str(exc)[:200]})") from None


def _check_zip_sizes(path: Path) -> None:
    """A zip-format ``.pt`` may not declare records past the input limit (inflation bomb)."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"PK":
            return  # legacy format: reads are bounded by the file itself
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FormatError(path, f"not a readable torch file ({exc})") from None
    limit = max_input_bytes()
    if total > limit:
        raise FormatError(path, f"records declare {total:,} bytes, more than the {limit:,}-byte "
                          "input limit (raise it with ARANEUS_MAX_INPUT_BYTES)")  # fmt: skip


def _as_array(x, path: Path, what: str) -> np.ndarray:
    try:
        arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    except (TypeError, ValueError, RuntimeError, RecursionError) as exc:
        raise FormatError(path, f"{what} is not numeric ({str(exc)[:100]})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        kind = getattr(getattr(arr, "dtype", None), "kind", type(arr).__name__)
        raise FormatError(path, f"{what} is not a numeric array (kind {kind!r})")
    return arr.astype(np.float64)


def _whole_number(x, path: Path, what: str, lo: int, hi: int) -> int:
    """``x`` (int, integral float, 0-d array/tensor) as an int in ``[lo, hi]``."""
    v = x.item() if hasattr(x, "item") and getattr(x, "ndim", 0) == 0 else x
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(float(v))
    if not ok or float(v) != int(v) or not lo <= int(v) <= hi:
        raise FormatError(path, f"{what} must be a whole number in [{lo}, {hi}], got "
                          f"{str(v)[:40]}")  # fmt: skip
    return int(v)


def load_reference(path, allow_pickle: bool = False, K: int | None = None) -> WebDataset:  # noqa: N803
    """Read the reference tuple file into a :class:`WebDataset` (all samples in train).

    Parameters
    ----------
    path
        The ``.pt`` file.
    allow_pickle
        Allow full unpickling if ``weights_only`` loading fails (executes code: trusted files only).
    K
        Neighbour slots, 1..1024 (default: the file's ``max_neighbors``).

    Neighbour lists are symmetrised (an edge listed at one end only is kept), self-loops
    and indices pointing past the sample's node count are dropped and counted in
    ``meta["reference_import"]``. Features are re-measured (araneus definitions); the
    file's own conditioning values are kept in ``meta`` only as their names. Every item
    of the tuple is checked (types, shapes, finiteness, whole-number counts) before use.
    """
    if K is not None and (
        isinstance(K, bool) or not isinstance(K, (int, float, np.integer, np.floating))
        or not np.isfinite(float(K)) or float(K) != int(K) or not 1 <= int(K) <= 1024
    ):  # fmt: skip
        raise InputError(f"K must be a whole number in [1, 1024], got {K!r}")
    path = check_input_file(path, "torch file")
    obj = _load_tuple(path, allow_pickle)
    if not isinstance(obj, (tuple, list)) or len(obj) < 7:
        raise FormatError(path, "expected the 7-tuple (input, y_data, node_number_list, "
                          "labels_y_txt, max_length, posdim_emb, max_neighbors)")  # fmt: skip
    inp = _as_array(obj[0], path, "input")
    if inp.ndim != 3:
        raise FormatError(path, f"input must be (S, max_length, 4 + 2K), got {inp.shape}",
                          "tuple item 0")  # fmt: skip
    k_file = _whole_number(obj[6], path, "max_neighbors", 1, max(1, inp.shape[2] - 4))
    if inp.shape[2] < 4 + k_file:
        raise FormatError(path, f"input must be (S, max_length, 4 + 2K) with K={k_file}, "
                          f"got {inp.shape}", "tuple item 0")  # fmt: skip
    counts = _as_array(obj[2], path, "node_number_list").reshape(-1)
    s, lr, _ = inp.shape
    if counts.shape != (s,) or not np.isfinite(counts).all() or (counts != np.round(counts)).any() \
            or (counts < 0).any() or (counts > lr).any():  # fmt: skip
        raise FormatError(path, f"node_number_list must hold {s} whole counts in [0, {lr}]",
                          "tuple item 2")  # fmt: skip
    counts = counts.astype(np.int64)
    if not np.isfinite(inp[:, :, : 4 + k_file]).all():
        raise FormatError(path, "input holds NaN or infinite values", "tuple item 0")
    k = k_file if K is None else int(K)
    real = np.arange(lr)[None, :] < counts[:, None]
    nb = np.rint(np.clip(inp[:, :, 4 : 4 + k_file], -1, lr + 1)).astype(np.int64)
    ok = (nb > 0) & real[..., None]
    dangling = ok & (nb > counts[:, None, None])
    ok &= ~dangling
    si, ri, ki = np.nonzero(ok)
    a = si * lr + ri
    b = si * lr + nb[si, ri, ki] - 1
    edges, _, rep = canonicalize_edges(np.stack([a, b], axis=1), s * lr)
    p = Packed(np.full(s, lr, np.int64), inp[:, :, 1:4].reshape(-1, 3), edges,
               np.tile(np.arange(lr), s), np.zeros(s, np.int64))  # fmt: skip
    p = restrict_nodes(p, real.ravel())
    keep = degree_cap_mask(p.pos, p.edges, k)
    p = Packed(p.sizes, p.pos, p.edges[keep], p.origin, p.source_id)
    labels = obj[3]
    meta = {
        "source": f"reference:{path.name}",
        "reference_import": {
            "samples": int(s), "max_length": int(lr), "max_neighbors": k_file,
            "self_loops_dropped": int(rep.self_loops), "dangling_dropped": int(dangling.sum()),
            "degree_cap_dropped_edges": int((~keep).sum()),
            "labels_y": [_label(x) for x in labels] if isinstance(labels, (list, tuple)) else [],
        },
    }  # fmt: skip
    return WebDataset.from_packed(p, k, max(lr, 1), None, meta)


def _label(x) -> str:
    """A label of the file as text: strings and numbers as they are, anything else by type."""
    if isinstance(x, (str, int, float)):
        return str(x)[:200]
    return f"<{type(x).__name__}>"
