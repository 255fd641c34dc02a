"""MATLAB ``.mat`` (v4-v7, via scipy.io): ``nodes`` (N x 2 or N x 3) and ``edges`` (E x 2).

Edge indices are **1-based**, as MATLAB users write them; 2-D webs get z = 0. The writer
also stores 1-D/2-D numeric attributes as variables ``node_<name>`` / ``edge_<name>`` (one
row per node/edge) and ``meta`` as JSON text in ``araneus_meta``; ``araneus_bool`` and
``araneus_matrix`` list the boolean and the 2-D attributes. The reader picks those up again.
v5/v7 files are read by :mod:`araneus.io._mat5`: bounded (only the variables araneus uses
are inflated, each only up to the size it declares, within the input limit) and safe on
untrusted files; v4 files by scipy.io. MATLAB v7.3 (HDF5) files are not supported: save them with ``-v7``.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output, read_input_bytes
from ..errors import FormatError
from ..web import WebGraph
from ._carry import CarryRules, check_carry
from ._common import (
    ReadReport,
    build_web,
    float_matrix,
    index_matrix,
    mark_bools,
    meta_from_json,
    meta_to_json,
    pad_xyz,
)
from ._mat5 import is_v5, read_v5

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,57}$")


def _numeric(path: Path, mat: dict, name: str) -> np.ndarray:
    if name not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise FormatError(path, f"missing variable {name!r}; the file holds {found}")
    arr = mat[name]
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        kind = getattr(arr, "dtype", type(arr))
        raise FormatError(path, f"must be a numeric matrix, got {kind}", f"variable {name!r}")
    return arr


_REQUIRED = ("nodes", "edges", "araneus_meta", "araneus_bool", "araneus_matrix")


def _wanted(name: str) -> bool:
    return name in _REQUIRED or name.startswith(("node_", "edge_"))


def _load(path: Path) -> dict:
    """The variables araneus uses: v5/v7 files through the bounded reader of
    :mod:`araneus.io._mat5` (scipy's is not safe on untrusted files), v4 through scipy."""
    import scipy.io

    data = read_input_bytes(path)
    if is_v5(data):
        mat = read_v5(path, data, _wanted)
        for name in ("nodes", "edges", "araneus_meta"):
            if isinstance(mat.get(name), str):
                raise FormatError(
                    path, f"must be a numeric matrix or text, got {mat[name]}", f"variable {name!r}"
                )
        return {k: v for k, v in mat.items() if not isinstance(v, str)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's MatReadWarning etc.: the checks below speak
        return scipy.io.loadmat(io.BytesIO(data), squeeze_me=False, chars_as_strings=True)


def read_mat(path: Path, fmt: str = "mat") -> tuple[WebGraph, ReadReport]:
    """Read ``nodes``/``edges`` (1-based) and any ``node_*``/``edge_*`` attribute variables."""
    try:
        mat = _load(path)
    except FormatError:
        raise
    except NotImplementedError:
        raise FormatError(
            path, "MATLAB v7.3 (HDF5) files are not supported; save with -v7"
        ) from None
    except Exception as exc:  # noqa: BLE001 - scipy.io raises many unrelated types
        raise FormatError(
            path, f"not a readable MATLAB file ({type(exc).__name__}: {exc})"
        ) from None
    nodes = _numeric(path, mat, "nodes")
    if nodes.ndim != 2 or nodes.shape[1] not in (2, 3):
        raise FormatError(path, f"must be N x 2 or N x 3, got {nodes.shape}", "variable 'nodes'")
    pos = pad_xyz(
        float_matrix(
            path,
            nodes.astype(np.float64),
            "nodes",
            (2, 3),
            lambda r: f"variable 'nodes' row {r + 1}",
        )
    )
    e = _numeric(path, mat, "edges")
    if e.size == 0:
        e = np.zeros((0, 2))
    if e.ndim != 2 or e.shape[1] != 2:
        raise FormatError(path, f"must be E x 2, got {e.shape}", "variable 'edges'")
    eloc = lambda r: f"variable 'edges' row {r + 1}"  # noqa: E731
    edges = index_matrix(path, e.astype(np.float64), "edges", eloc) - 1
    matrices = set(_text_var(mat, "araneus_matrix").split(","))
    node_attrs = _attrs(path, mat, "node_", len(pos), matrices)
    edge_attrs = _attrs(path, mat, "edge_", len(edges), matrices)
    names = _text_var(mat, "araneus_bool").split(",")
    mark_bools(node_attrs, [k[5:] for k in names if k.startswith("node_")])
    mark_bools(edge_attrs, [k[5:] for k in names if k.startswith("edge_")])
    meta: dict[str, Any] = {}
    if "araneus_meta" in mat:
        text = np.asarray(mat["araneus_meta"]).ravel()
        meta = meta_from_json(path, text[0] if text.size else "", "variable 'araneus_meta'")
    return build_web(
        path,
        fmt,
        pos,
        edges,
        node_attrs,
        edge_attrs,
        meta,
        node_loc=lambda r: f"variable 'nodes' row {r + 1}",
        edge_loc=eloc,
        index_base=1,
    )


def _text_var(mat: dict, name: str) -> str:
    """The text held by variable ``name`` ('' if absent, empty or not text)."""
    v = mat.get(name)
    if not isinstance(v, np.ndarray) or v.size == 0 or v.dtype.kind != "U":
        return ""
    return str(v.ravel()[0])


def _attrs(path: Path, mat: dict, prefix: str, n: int, matrices: set[str]) -> dict:
    """``prefix*`` variables with one row per node/edge; 1-D unless listed in ``matrices``
    (``araneus_matrix``), since MATLAB stores a 1-D attribute as an N x 1 column."""
    out = {}
    for key, arr in mat.items():
        if not key.startswith(prefix) or not isinstance(arr, np.ndarray):
            continue
        if arr.dtype.kind not in "biuf" or arr.ndim != 2:
            continue
        if key in matrices:
            if arr.size == 0 and n == 0:
                arr = arr.reshape(0, arr.shape[1])
        elif arr.size == 0 and n == 0:
            arr = arr.reshape(0)
        elif arr.shape == (1, n) and n != 1:
            arr = arr[0]
        elif arr.shape[0] == n and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.shape[0] != n:
            raise FormatError(path, f"has {arr.shape[0]} rows, expected {n}", f"variable {key!r}")
        out[key[len(prefix) :]] = arr
    return out


RULES = CarryRules("MAT")


def _carried(name: str, arr: np.ndarray) -> bool:
    return arr.dtype.kind in "biuf" and arr.ndim <= 2 and bool(_NAME.match(name))


def write_mat(web: WebGraph, path: Path) -> None:
    """Write ``nodes`` (N x 3), ``edges`` (E x 2, 1-based, double), attributes and meta."""
    import scipy.io

    check_carry(web, RULES, _carried)
    data: dict[str, Any] = {
        "nodes": web.pos,
        "edges": (web.edges + 1).astype(np.float64).reshape(-1, 2),
        "araneus_meta": meta_to_json(web.meta),
    }
    bools, matrices = [], []
    for prefix, attrs in (("node_", web.node_attrs), ("edge_", web.edge_attrs)):
        for name, arr in attrs.items():
            if _carried(name, arr):
                data[prefix + name] = arr[:, None] if arr.ndim == 1 else arr
                if arr.dtype.kind == "b":
                    bools.append(prefix + name)
                if arr.ndim == 2:
                    matrices.append(prefix + name)
    data["araneus_bool"] = ",".join(bools)
    data["araneus_matrix"] = ",".join(matrices)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        scipy.io.savemat(fh, data, do_compression=True, oned_as="column")
