"""MATLAB ``.mat`` (v4-v7, via scipy.io): ``nodes`` (N x 2 or N x 3) and ``edges`` (E x 2).

Edge indices are **1-based**, as MATLAB users write them; 2-D webs get z = 0. The writer
also stores 1-D/2-D numeric attributes as variables ``node_<name>`` / ``edge_<name>`` (one
row per node/edge) and ``meta`` as JSON text in ``araneus_meta`` (``araneus_bool`` lists the boolean ones); the reader picks those up
again. MATLAB v7.3 (HDF5) files are not supported: save them with ``-v7``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output
from ..errors import FormatError
from ..web import WebGraph
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


def read_mat(path: Path, fmt: str = "mat") -> tuple[WebGraph, ReadReport]:
    """Read ``nodes``/``edges`` (1-based) and any ``node_*``/``edge_*`` attribute variables."""
    import scipy.io

    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        mat = scipy.io.loadmat(path, squeeze_me=False, chars_as_strings=True)
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
    node_attrs = _attrs(path, mat, "node_", len(pos))
    edge_attrs = _attrs(path, mat, "edge_", len(edges))
    if "araneus_bool" in mat:
        names = str(np.asarray(mat["araneus_bool"]).ravel()[0]) if mat["araneus_bool"].size else ""
        names = names.split(",")
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


def _attrs(path: Path, mat: dict, prefix: str, n: int) -> dict[str, np.ndarray]:
    out = {}
    for key, arr in mat.items():
        if not key.startswith(prefix) or not isinstance(arr, np.ndarray):
            continue
        if arr.dtype.kind not in "biuf" or arr.ndim != 2:
            continue
        if arr.size == 0 and n == 0:
            arr = arr.reshape(0)
        elif arr.shape == (1, n) and n != 1:
            arr = arr[0]
        elif arr.shape[0] == n and arr.shape[1] == 1:
            arr = arr[:, 0]
        elif arr.shape[0] != n:
            raise FormatError(path, f"has {arr.shape[0]} rows, expected {n}", f"variable {key!r}")
        out[key[len(prefix) :]] = arr
    return out


def write_mat(web: WebGraph, path: Path) -> None:
    """Write ``nodes`` (N x 3), ``edges`` (E x 2, 1-based, double), attributes and meta."""
    import scipy.io

    data: dict[str, Any] = {
        "nodes": web.pos,
        "edges": (web.edges + 1).astype(np.float64).reshape(-1, 2),
        "araneus_meta": meta_to_json(web.meta),
    }
    bools = []
    for prefix, attrs in (("node_", web.node_attrs), ("edge_", web.edge_attrs)):
        for name, arr in attrs.items():
            if arr.dtype.kind in "biuf" and arr.ndim <= 2 and _NAME.match(name):
                data[prefix + name] = arr[:, None] if arr.ndim == 1 else arr
                if arr.dtype.kind == "b":
                    bools.append(prefix + name)
    data["araneus_bool"] = ",".join(bools)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        scipy.io.savemat(fh, data, do_compression=True, oned_as="column")
