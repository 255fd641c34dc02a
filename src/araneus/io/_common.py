"""Shared pieces of the readers: the read report and the validate-and-canonicalise step.

Every reader parses its file into raw arrays (positions, a raw edge list with 0-based
indices, attribute arrays) and hands them to :func:`build_web`, which checks them, turns
every problem into a :class:`~araneus.errors.FormatError` naming the file and location,
and canonicalises the edge list with :meth:`WebGraph.from_raw`, counting the quirks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._util import read_input_bytes
from ..errors import FormatError, InputError
from ..web import THREAD_CODE, THREAD_TYPES, WebGraph

Locator = Callable[[int], str]


@dataclass(frozen=True)
class ReadReport:
    """What a reader found in a file and what it changed while canonicalising it.

    Attributes
    ----------
    path, format
        The file read and the format name used.
    n_nodes, n_edges
        Size of the resulting web.
    input_edges
        Edge records in the file (before canonicalisation).
    self_loops
        Self-loop edge records dropped.
    duplicates
        Duplicate edge records dropped (an edge listed twice, in either direction).
    reversed_duplicates
        Of ``duplicates``, those listing an already seen edge in the opposite direction.
    isolated_nodes
        Nodes used by no edge (kept in the web unless ``drop_isolated`` was asked for).
    isolated_dropped
        Isolated nodes removed because ``drop_isolated=True``.
    notes
        Format-specific remarks (e.g. ``{"faces_ignored": 12}``).
    """

    path: str
    format: str
    n_nodes: int
    n_edges: int
    input_edges: int
    self_loops: int
    duplicates: int
    reversed_duplicates: int
    isolated_nodes: int
    isolated_dropped: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict view (JSON-serialisable)."""
        return {
            "path": self.path,
            "format": self.format,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "input_edges": self.input_edges,
            "self_loops_dropped": self.self_loops,
            "duplicates_dropped": self.duplicates,
            "of_which_reverse_direction": self.reversed_duplicates,
            "isolated_nodes": self.isolated_nodes,
            "isolated_dropped": self.isolated_dropped,
            **({"notes": dict(self.notes)} if self.notes else {}),
        }


def _row_loc(what: str) -> Locator:
    return lambda r: f"{what} {r}"


def float_matrix(
    path: Path,
    data: Any,
    name: str,
    ncols: tuple[int, ...],
    loc: Locator | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Convert nested rows (lists / string tokens) to a float64 (R, C) array.

    ``C`` must be one of ``ncols``; text, ragged rows and (if ``finite``) non-finite values raise
    :class:`FormatError` naming the first offending row via ``loc``.
    """
    loc = loc or _row_loc(f"{name} row")
    if isinstance(data, np.ndarray) and data.dtype.kind in "iuf" and data.ndim == 2:
        arr = data.astype(np.float64)
    else:
        try:
            arr = np.array(data)
        except ValueError:
            arr = None
        if arr is None or arr.dtype == object or (arr.size and arr.ndim != 2):
            _raise_ragged(path, data, name, ncols, loc)
        if arr.size == 0:
            return np.zeros((0, ncols[-1]))
        if arr.dtype.kind not in "iuf":
            arr = _strings_to_float(path, arr, name, loc)
        elif isinstance(data, list):
            _reject_bools(path, data, name, loc)
        arr = arr.astype(np.float64)
    if arr.shape[1] not in ncols:
        want = " or ".join(str(c) for c in ncols)
        raise FormatError(path, f"{name} must have {want} columns, got {arr.shape[1]}", loc(0))
    ok = np.isfinite(arr)
    if finite and not ok.all():
        r = int(np.argwhere(~ok)[0, 0])
        raise FormatError(path, f"{name} has a non-finite value {arr[r].tolist()}", loc(r))
    return arr


def _raise_ragged(path: Path, data: Any, name: str, ncols: tuple[int, ...], loc: Locator) -> None:
    try:
        rows = list(data)
    except TypeError:
        raise FormatError(path, f"{name} must be a list of rows") from None
    want = " or ".join(str(c) for c in ncols)
    first = None
    for r, row in enumerate(rows):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise FormatError(path, f"{name} row is not a list: {str(row)[:40]!r}", loc(r))
        if len(row) not in ncols:
            raise FormatError(path, f"{name} row has {len(row)} values, expected {want}", loc(r))
        first = len(row) if first is None else first
        if len(row) != first:
            raise FormatError(
                path, f"{name} row has {len(row)} values but earlier rows have {first}", loc(r)
            )
    for r, row in enumerate(rows):
        for v in row:
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise FormatError(path, f"{name} row has a non-numeric value {v!r}", loc(r))
            if isinstance(v, str):
                try:
                    float(v)
                except ValueError:
                    raise FormatError(
                        path, f"{name} row has a non-numeric value {v!r}", loc(r)
                    ) from None
    raise FormatError(path, f"{name} rows are inconsistent")


def _reject_bools(path: Path, rows: list, name: str, loc: Locator) -> None:
    for r, row in enumerate(rows):
        if any(isinstance(v, bool) for v in row):
            raise FormatError(path, f"{name} has a boolean where a number belongs", loc(r))


def _strings_to_float(path: Path, arr: np.ndarray, name: str, loc: Locator) -> np.ndarray:
    if arr.dtype.kind in "US":
        try:
            return arr.astype(np.float64)
        except ValueError:
            pass
    flat = arr.reshape(len(arr), -1)
    for r, row in enumerate(flat):
        for v in row:
            try:
                if isinstance(v, (bool, np.bool_)):
                    raise ValueError
                float(v)
            except (TypeError, ValueError):
                v = v.item() if isinstance(v, np.generic) else v
                raise FormatError(path, f"{name} has a non-numeric value {v!r}", loc(r)) from None
    raise FormatError(path, f"{name} is not numeric")


def index_matrix(
    path: Path, data: Any, name: str, loc: Locator | None = None, width: int = 2
) -> np.ndarray:
    """Convert rows of node indices to int64 (R, width); non-integers raise FormatError."""
    loc = loc or _row_loc(f"{name} row")
    if isinstance(data, np.ndarray) and data.dtype.kind in "iu":
        if data.size and (data.ndim != 2 or data.shape[1] != width):
            raise FormatError(path, f"{name} must have {width} columns, got shape {data.shape}")
        if data.dtype.kind == "u" and data.size and data.max() > np.iinfo(np.int64).max:
            r = int(np.argmax(data.max(axis=1)))
            raise FormatError(path, f"{name} has an absurd node index {data[r].tolist()}", loc(r))
        arr = data.astype(np.int64).reshape(-1, width) if data.size else np.zeros((0, width))
        return arr.astype(np.int64)
    f = float_matrix(path, data, name, (width,), loc)
    bad = f != np.round(f)
    if bad.any():
        r = int(np.argwhere(bad)[0, 0])
        raise FormatError(path, f"{name} has a non-integer node index {f[r].tolist()}", loc(r))
    if np.abs(f).max(initial=0) > 2**53:
        r = int(np.argmax(np.abs(f).max(axis=1)))
        raise FormatError(path, f"{name} has an absurd node index {f[r].tolist()}", loc(r))
    return f.astype(np.int64)


def pad_xyz(pos: np.ndarray) -> np.ndarray:
    """(N, 2) -> (N, 3) with z = 0; (N, 3) unchanged."""
    if pos.shape[1] == 2:
        return np.concatenate([pos, np.zeros((len(pos), 1))], axis=1)
    return pos


def thread_names_to_codes(path: Path, values: Any, loc: Locator) -> np.ndarray:
    """Map thread type names (or integer codes as text) to int8 codes."""
    vals = np.asarray(values)
    if vals.dtype.kind in "iu":
        out = vals.astype(np.int64)
    else:
        uniq, inv = np.unique(vals.astype(str), return_inverse=True)
        codes = np.empty(len(uniq), dtype=np.int64)
        for k, v in enumerate(uniq.tolist()):
            s = v.strip()
            if s in THREAD_CODE:
                codes[k] = THREAD_CODE[s]
            elif _small_int(s) is not None:
                codes[k] = _small_int(s)
            else:
                r = int(np.flatnonzero(inv.ravel() == k)[0])
                raise FormatError(
                    path, f"unknown thread type {s!r}; valid: {', '.join(THREAD_TYPES)}", loc(r)
                )
        out = codes[inv.ravel()]
    bad = (out < 0) | (out >= len(THREAD_TYPES))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise FormatError(path, f"thread code {int(out[r])} out of range", loc(r))
    return out.astype(np.int8)


def _small_int(s: str) -> int | None:
    """``s`` as an int if it is a short decimal integer (thread codes), else None."""
    if len(s) > 18 or not s.lstrip("-").isdecimal():
        return None
    try:
        return int(s)
    except ValueError:
        return None


def build_web(
    path: Path,
    fmt: str,
    pos: np.ndarray,
    edges: np.ndarray,
    node_attrs: Mapping[str, Any] | None = None,
    edge_attrs: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    *,
    node_loc: Locator | None = None,
    edge_loc: Locator | None = None,
    index_base: int = 0,
    notes: Mapping[str, Any] | None = None,
) -> tuple[WebGraph, ReadReport]:
    """Validate raw arrays read from ``path`` and build a canonical web plus its report.

    Parameters
    ----------
    pos
        (N, 3) float positions (already checked finite by :func:`float_matrix`).
    edges
        (E, 2) int64 raw edge list, **0-based** (readers of 1-based formats subtract 1 and
        pass ``index_base=1`` so that messages quote the file's own numbers).
    node_loc, edge_loc
        Map a row number to a location string for messages (``"line 12"``).
    """
    node_loc = node_loc or _row_loc("node")
    edge_loc = edge_loc or _row_loc("edge")
    n = len(pos)
    if len(edges):
        neg = edges.min(axis=1) < 0
        if neg.any():
            r = int(np.flatnonzero(neg)[0])
            shown = (edges[r] + index_base).tolist()
            extra = " (indices in this format start at 1)" if index_base else ""
            raise FormatError(
                path, f"edge {shown} has an index below {index_base}{extra}", edge_loc(r)
            )
        past = edges.max(axis=1) >= n
        if past.any():
            r = int(np.flatnonzero(past)[0])
            shown = (edges[r] + index_base).tolist()
            raise FormatError(
                path,
                f"edge {shown} refers to a node past the node count ({n} node{'' if n == 1 else 's'})",
                edge_loc(r),
            )
    try:
        web, canon = WebGraph.from_raw(pos, edges, node_attrs, edge_attrs, meta)
    except InputError as exc:
        raise FormatError(path, str(exc)) from None
    isolated = int(np.count_nonzero(web.degrees == 0))
    report = ReadReport(
        path=str(path),
        format=fmt,
        n_nodes=web.n_nodes,
        n_edges=web.n_edges,
        input_edges=canon.n_input,
        self_loops=canon.self_loops,
        duplicates=canon.duplicates,
        reversed_duplicates=canon.reversed_duplicates,
        isolated_nodes=isolated,
        notes=dict(notes or {}),
    )
    return web, report


def read_text(path: Path) -> str:
    """Read a text file as UTF-8; binary garbage raises FormatError.

    The file must be a regular file no larger than the input limit
    (:func:`araneus._util.max_input_bytes`); devices, pipes and directories are refused
    before anything is read.
    """
    data = read_input_bytes(path)
    if b"\x00" in data[:4096]:
        raise FormatError(path, "file looks binary (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(path, "file is not valid UTF-8 text", f"line {line}") from None


def thread_names(codes: np.ndarray) -> list[str]:
    """Names of thread codes for writers; codes outside THREAD_TYPES raise InputError."""
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise InputError(f"edge attribute 'thread' must hold integer codes, got dtype {c.dtype}")
    bad = (c < 0) | (c >= len(THREAD_TYPES))
    if bad.any():
        at = tuple(np.argwhere(bad)[0])
        raise InputError(
            f"edge attribute 'thread' row {at[0]} holds code {int(c[at])}, outside "
            f"THREAD_TYPES (0..{len(THREAD_TYPES) - 1})"
        )
    return np.asarray(THREAD_TYPES)[c.astype(np.int64)].tolist()


def scalar_attrs(attrs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The 1-D attributes with plain numeric/bool dtypes (those simple formats can carry)."""
    return {k: v for k, v in attrs.items() if v.ndim == 1 and v.dtype.kind in "biuf"}


# --------------------------------------------------------------- attributes and meta in text
#: dtype kinds an attribute column may have to travel through a text/XML format.
COLUMN_KINDS = "biufU"
_COMPONENT = re.compile(r"^(.+)\[(\d+)\]$")


def attr_columns(attrs: Mapping[str, np.ndarray], bool_text: bool = False) -> dict[str, list]:
    """Flatten attributes into named 1-D columns of plain Python values, for writers.

    Parameters
    ----------
    attrs
        Node or edge attributes, each (R,) or (R, C) with a dtype kind in ``"biufU"``;
        others (objects, 3-D arrays) are skipped.
    bool_text
        Write booleans as ``"true"``/``"false"`` (for CSV) instead of Python bools.

    Returns
    -------
    dict
        ``name`` -> list of R values for a 1-D attribute; ``name[k]`` -> list for column
        ``k`` of a 2-D one. ``thread`` codes become thread-type names.
    """
    cols: dict[str, list] = {}
    for name, arr in attrs.items():
        if arr.ndim > 2 or arr.dtype.kind not in COLUMN_KINDS:
            continue
        parts = (
            {name: arr}
            if arr.ndim == 1
            else {f"{name}[{k}]": arr[:, k] for k in range(arr.shape[1])}
        )
        for key, col in parts.items():
            if name == "thread":
                cols[key] = thread_names(col)
            elif bool_text and col.dtype.kind == "b":
                cols[key] = np.where(col, "true", "false").tolist()
            else:
                cols[key] = col.tolist()
    return cols


def join_component_columns(
    path: Path, cols: Mapping[str, np.ndarray], where: str = "header"
) -> dict[str, np.ndarray]:
    """Inverse of :func:`attr_columns`: stack columns ``name[0]``, ``name[1]``, ... into (R, C).

    Columns without a ``[k]`` suffix pass through unchanged. Components not numbered
    0..C-1 raise :class:`FormatError` naming ``where`` in ``path``.
    """
    out: dict[str, np.ndarray] = {}
    comps: dict[str, dict[int, np.ndarray]] = {}
    for key, arr in cols.items():
        m = _COMPONENT.match(key)
        if m:
            comps.setdefault(m.group(1), {})[int(m.group(2))] = arr
        else:
            out[key] = arr
    for base, parts in comps.items():
        if sorted(parts) != list(range(len(parts))):
            raise FormatError(path, f"columns {base}[k] must be numbered 0..k-1", where)
        if base in out:
            raise FormatError(path, f"column {base} and columns {base}[k] both present", where)
        arrs = [parts[k] for k in range(len(parts))]
        kinds = {a.dtype.kind for a in arrs}
        if len(kinds) > 1 and "U" in kinds:  # booleans and numbers join as numbers
            raise FormatError(path, f"columns {base}[k] mix text and number columns", where)
        out[base] = np.stack(np.broadcast_arrays(*arrs), axis=1).astype(np.result_type(*arrs))
    return out


def meta_to_json(meta: Mapping[str, Any]) -> str:
    """``meta`` as one line of JSON; numpy values become lists/numbers, anything else text."""
    return json.dumps(dict(meta), default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def meta_from_json(path: Path, text: Any, where: str) -> dict[str, Any]:
    """Parse ``meta`` stored as JSON text; anything but a JSON object raises FormatError."""
    try:
        meta = json.loads(str(text))
    except (TypeError, ValueError, RecursionError):
        raise FormatError(path, "web meta is not JSON text", where) from None
    if not isinstance(meta, dict):
        raise FormatError(path, f"web meta must be a JSON object, got {type(meta).__name__}", where)
    return meta


def mark_bools(attrs: dict[str, np.ndarray], names: Any) -> None:
    """Cast the attributes named in ``names`` (written as 0/1 numbers) back to bool, in place."""
    for key in names:
        if key in attrs:
            attrs[key] = attrs[key].astype(bool)
