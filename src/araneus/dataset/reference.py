"""Import of the reference work's pickled dataset tuple (``dataset_webs_medium.pt``).

Layout (see docs/reference.md section 1): a tuple ``(input, y_data, node_number_list,
labels_y_txt, max_length, posdim_emb, max_neighbors)`` where ``input[s, i]`` is
``[ordinal, x, y, z, n_1..n_K, d_1..d_K]`` with neighbour indices 1-based within the
sample and 0 for an empty slot, padded to ``max_length`` rows.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

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

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not allow_pickle:
            raise FormatError(
                path, f"refusing to load: {_RISK} ({str(exc).splitlines()[0]})"
            ) from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises many unrelated types
        raise FormatError(
            path, f"not a readable torch file ({type(exc).__name__}: {exc})"
        ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any failure of an untrusted pickle
        raise FormatError(path, f"unpickling failed ({exc})") from None


def _as_array(x, path: Path, what: str) -> np.ndarray:
    try:
        arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise FormatError(path, f"{what} is not numeric ({exc})") from None


def load_reference(path, allow_pickle: bool = False, K: int | None = None) -> WebDataset:  # noqa: N803
    """Read the reference tuple file into a :class:`WebDataset` (all samples in train).

    Parameters
    ----------
    path
        The ``.pt`` file.
    allow_pickle
        Allow full unpickling if ``weights_only`` loading fails (executes code: trusted files only).
    K
        Neighbour slots (default: the file's ``max_neighbors``).

    Neighbour lists are symmetrised (an edge listed at one end only is kept), self-loops
    and indices pointing past the sample's node count are dropped and counted in
    ``meta["reference_import"]``. Features are re-measured (araneus definitions); the
    file's own conditioning values are kept in ``meta`` only as their names.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "no such file")
    obj = _load_tuple(path, allow_pickle)
    if not isinstance(obj, (tuple, list)) or len(obj) < 7:
        raise FormatError(path, "expected the 7-tuple (input, y_data, node_number_list, "
                          "labels_y_txt, max_length, posdim_emb, max_neighbors)")  # fmt: skip
    inp = _as_array(obj[0], path, "input")
    try:
        k_file = int(obj[6])
        counts = _as_array(obj[2], path, "node_number_list").reshape(-1).astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise FormatError(path, f"bad max_neighbors or node_number_list ({exc})") from None
    if inp.ndim != 3 or inp.shape[2] < 4 + k_file:
        raise FormatError(path, f"input must be (S, max_length, 4 + 2K) with K={k_file}, "
                          f"got {inp.shape}", "tuple item 0")  # fmt: skip
    s, lr, _ = inp.shape
    if counts.shape != (s,) or (counts < 0).any() or (counts > lr).any():
        raise FormatError(path, f"node_number_list must hold {s} counts in [0, {lr}]", "item 2")
    if not np.isfinite(inp[:, :, : 4 + k_file]).all():
        raise FormatError(path, "input holds NaN or infinite values", "tuple item 0")
    k = k_file if K is None else int(K)
    if k < 1:
        raise InputError(f"K must be >= 1, got {K}")
    real = np.arange(lr)[None, :] < counts[:, None]
    nb = np.rint(inp[:, :, 4 : 4 + k_file]).astype(np.int64)
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
            "labels_y": [str(x) for x in labels] if isinstance(labels, (list, tuple)) else [],
        },
    }  # fmt: skip
    return WebDataset.from_packed(p, k, max(lr, 1), None, meta)
