"""JSON formats: the plain scan-skeleton JSON and araneus' own lossless JSON.

* **Skeleton JSON** (what scan-skeleton tools write)::

      {"nodes": [[x, y, z], ...], "edges": [[i, j], ...]}

  0-based indices; rows of 2 coordinates get z = 0. Other top-level keys are kept in
  ``meta`` when they are plain JSON values.
* **araneus JSON** (``"format": "araneus-web"``): the same two arrays plus ``version``,
  ``meta`` and typed node/edge attributes ``{"dtype": "int8", "shape": [...], "data": ...}``.
  Floats are written with Python's shortest round-trip repr, so positions and attributes
  read back bit for bit. Thread codes are stored with the table of thread names they index,
  so files stay readable if :data:`~araneus.web.THREAD_TYPES` grows.

The reader detects which of the two a ``.json`` file holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output
from ..errors import FormatError, InputError
from ..web import THREAD_CODE, THREAD_TYPES, WebGraph
from ._carry import CarryRules, check_carry
from ._common import ReadReport, build_web, float_matrix, index_matrix, pad_xyz, read_text

FORMAT_TAG = "araneus-web"
VERSION = 1
_ATTR_KINDS = "biufU"


def read_json(path: Path, fmt: str = "json") -> tuple[WebGraph, ReadReport]:
    """Read a skeleton JSON or araneus JSON file (detected from its content)."""
    doc = _load(path)
    if not isinstance(doc, dict):
        raise FormatError(path, f"top level must be a JSON object, got {type(doc).__name__}")
    tag = doc.get("format")
    if tag is not None and tag != FORMAT_TAG:
        raise FormatError(path, f"unknown JSON format tag {tag!r} (expected {FORMAT_TAG!r})")
    for key in ("nodes", "edges"):
        if key not in doc:
            raise FormatError(
                path, f"missing key {key!r}; expected {{'nodes': [...], 'edges': [...]}}"
            )
    pos = pad_xyz(float_matrix(path, doc["nodes"], "nodes", (2, 3), lambda r: f"nodes[{r}]"))
    edges = index_matrix(path, doc["edges"], "edges", lambda r: f"edges[{r}]")
    if tag is None:
        meta = {k: v for k, v in doc.items() if k not in ("nodes", "edges")}
        return build_web(
            path,
            "skeleton-json",
            pos,
            edges,
            meta=meta,
            node_loc=lambda r: f"nodes[{r}]",
            edge_loc=lambda r: f"edges[{r}]",
        )
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise FormatError(
            path, f"unsupported araneus-web version {version!r} (this araneus reads 1..{VERSION})"
        )
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise FormatError(path, "'meta' must be a JSON object", "key 'meta'")
    budget = 64 * path.stat().st_size + (16 << 20)  # decoded attributes vs the file's size
    node_attrs = _read_attrs(path, doc.get("node_attrs", {}), "node_attrs", len(pos), budget)
    edge_attrs = _read_attrs(path, doc.get("edge_attrs", {}), "edge_attrs", len(edges), budget)
    if "thread" in edge_attrs:
        edge_attrs["thread"] = _remap_threads(path, edge_attrs["thread"], doc.get("thread_types"))
    return build_web(
        path,
        fmt,
        pos,
        edges,
        node_attrs,
        edge_attrs,
        meta,
        node_loc=lambda r: f"nodes[{r}]",
        edge_loc=lambda r: f"edges[{r}]",
    )


def _load(path: Path) -> Any:
    text = read_text(path)
    if not text.strip():
        raise FormatError(path, "file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            path, f"invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise FormatError(path, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise FormatError(path, f"invalid JSON: {exc}") from None


def _read_attrs(path: Path, block: Any, key: str, n: int, budget: int) -> dict[str, np.ndarray]:
    if not isinstance(block, dict):
        raise FormatError(path, f"{key!r} must be a JSON object", f"key {key!r}")
    out = {}
    for name, spec in block.items():
        where = f"{key}[{name!r}]"
        if not isinstance(spec, dict) or "dtype" not in spec or "data" not in spec:
            raise FormatError(path, "attribute must be an object with 'dtype' and 'data'", where)
        out[name] = _typed_array(path, spec, where, n, budget)
    return out


def _declared_dtype(path: Path, spec: Any, where: str) -> np.dtype:
    if not isinstance(spec, str) or len(spec) > 16:
        raise FormatError(path, f"dtype must be a short type name, got {str(spec)[:40]!r}", where)
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError):
        raise FormatError(path, f"unknown dtype {spec!r}", where) from None
    if dtype.kind not in _ATTR_KINDS or dtype.shape or dtype.names:
        raise FormatError(path, f"unsupported attribute dtype {spec!r}", where)
    return dtype


def _typed_array(path: Path, spec: dict, where: str, n: int, budget: int) -> np.ndarray:
    """The attribute ``spec`` as an array of its declared dtype, checked before allocating.

    Every value must already be of the declared kind (no float truncated to an integer,
    no number turned into text, no string longer than a ``<U`` width), the shape must
    match the data, and the declared dtype must not blow the data up past ``budget``
    bytes (a 120-byte file declaring ``<U300000000``).
    """
    dtype = _declared_dtype(path, spec["dtype"], where)
    count, widest, bad = _leaves(spec["data"], _LEAF_TYPES[dtype.kind])
    if bad is not None:
        raise FormatError(
            path, f"value {str(bad)[:40]!r} ({type(bad).__name__}) in data of dtype {dtype}", where
        )
    if count * dtype.itemsize > budget:
        raise FormatError(
            path,
            f"dtype {spec['dtype']} for {count} values needs {count * dtype.itemsize:,} bytes, "
            "far more than the file's data could fill",
            where,
        )
    if dtype.kind == "U" and widest > dtype.itemsize // 4:
        raise FormatError(
            path, f"a string of {widest} characters does not fit dtype {dtype}", where
        )
    try:
        with np.errstate(over="ignore"):  # an overflow to inf is reported just below
            arr = np.array(spec["data"], dtype=dtype)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise FormatError(path, f"bad attribute data: {str(exc)[:200]}", where) from None
    if dtype.kind == "f" and count and not np.isfinite(arr).all():
        finite = np.isfinite(np.array(spec["data"], dtype=np.float64))
        if (finite & ~np.isfinite(arr)).any():
            raise FormatError(path, f"a value overflows dtype {dtype}", where)
    if "shape" in spec:
        shape = spec["shape"]
        ok = isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        )
        if not ok or len(shape) > 8 or int(np.prod(shape, dtype=object)) != arr.size:
            raise FormatError(
                path, f"shape {str(shape)[:40]} does not fit {arr.size} data values", where
            )
        arr = arr.reshape(shape)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise FormatError(
            path, f"attribute has shape {arr.shape}, expected first dimension {n}", where
        )
    return arr


#: Python types a JSON value may have for each dtype kind (bool is not a number here).
_LEAF_TYPES = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,)}


def _leaves(data: Any, types: tuple[type, ...]) -> tuple[int, int, Any]:
    """(number of leaves, longest string, first leaf of a wrong type or None) of nested
    lists ``data``, walked without recursion."""
    count, widest, stack = 0, 0, [data]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
            continue
        if not isinstance(x, types) or (isinstance(x, bool) and bool not in types):
            return count, widest, x
        count += 1
        if isinstance(x, str):
            widest = max(widest, len(x))
    return count, widest, None


def _remap_threads(path: Path, codes: np.ndarray, table: Any) -> np.ndarray:
    where = "edge_attrs['thread']"
    if table is None:
        table = THREAD_TYPES
    if not isinstance(table, list) or not all(isinstance(t, str) for t in table):
        raise FormatError(path, "'thread_types' must be a list of names", "key 'thread_types'")
    unknown = [t for t in table if t not in THREAD_CODE]
    if unknown:
        raise FormatError(path, f"unknown thread type(s) {unknown}", "key 'thread_types'")
    if codes.dtype.kind not in "iu":
        raise FormatError(path, "thread codes must be integers", where)
    bad = (codes < 0) | (codes >= len(table))
    if bad.any():
        r = int(np.argwhere(bad)[0, 0])
        raise FormatError(path, f"thread code {codes[r].tolist()} out of range", f"{where} row {r}")
    lut = np.array([THREAD_CODE[t] for t in table], dtype=codes.dtype)
    return lut[codes]  # the file's dtype kept (int8 as araneus writes it)


def _attr_block(attrs: dict[str, np.ndarray], what: str) -> dict[str, Any]:
    out = {}
    for name, arr in attrs.items():
        if arr.dtype.kind not in _ATTR_KINDS:
            raise InputError(
                f"{what} attribute {name!r} has dtype {arr.dtype}, which JSON cannot hold"
            )
        out[name] = {
            "dtype": arr.dtype.str.lstrip("<>|=") if arr.dtype.kind == "U" else arr.dtype.name,
            "shape": list(arr.shape),
            "data": arr.tolist(),
        }
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _dump(path: Path, doc: dict[str, Any]) -> None:
    try:
        text = json.dumps(doc, default=_json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot write {path}: web meta/attributes are not JSON serialisable ({exc})"
        ) from None
    with atomic_output(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


RULES = CarryRules("araneus JSON")


def write_json(web: WebGraph, path: Path) -> None:
    """Write araneus JSON (lossless: positions, edges, attributes, meta)."""
    check_carry(web, RULES)
    doc: dict[str, Any] = {"format": FORMAT_TAG, "version": VERSION, "meta": web.meta}
    if "thread" in web.edge_attrs:
        doc["thread_types"] = list(THREAD_TYPES)
    doc["nodes"] = web.pos.tolist()
    doc["edges"] = web.edges.tolist()
    doc["node_attrs"] = _attr_block(web.node_attrs, "node")
    doc["edge_attrs"] = _attr_block(web.edge_attrs, "edge")
    _dump(path, doc)


def write_skeleton_json(web: WebGraph, path: Path) -> None:
    """Write plain skeleton JSON ``{"nodes": ..., "edges": ...}`` (attributes and meta dropped)."""
    _dump(path, {"nodes": web.pos.tolist(), "edges": web.edges.tolist()})
