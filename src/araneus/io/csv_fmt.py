"""CSV: a node table plus an edge table, as in Lu, Yang & Buehler (2022).

A web ``NAME`` is stored as two files side by side:

* ``NAME.nodes.csv``: header ``id,x,y,z[,attr...]`` (``z`` optional: 2-D webs get z = 0);
* ``NAME.edges.csv``: header ``source,target[,attr...]``.

Any of ``NAME.csv``, ``NAME.nodes.csv`` or ``NAME.edges.csv`` names the pair, for reading
and writing. Node ids are arbitrary labels (numbers or text, unique); edges refer to them
and are mapped to 0-based indices in node-table order. When every id (and edge end) is a
finite number that float64 holds exactly, ids are compared as numbers (``7`` matches
``7.0``), otherwise as text. The header names the reader looks for (:data:`SPECIAL`) are
case-insensitive, other names keep their case; a leading ``#`` on the header is ignored;
tab- or semicolon-separated files are accepted.

Extra columns become attributes: integers, floats, ``true``/``false`` booleans or text.
``thread`` holds thread-type names (or codes); an ``anchor`` column of true/false/yes/no/1/0
is boolean, any other ``anchor`` column is read like the rest. A column ``name[k]``
(k = 0, 1, ...) is one component of a 2-D attribute ``name``. The writer refuses (before
writing) attributes that would not read back as written; see :func:`write_csv`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .._util import atomic_outputs
from ..errors import FormatError, InputError
from ..web import WebGraph
from ._carry import CarryRules, check_carry
from ._common import (
    _COMPONENT,
    COLUMN_KINDS,
    ReadReport,
    attr_columns,
    build_web,
    float_matrix,
    join_component_columns,
    read_text,
    thread_names_to_codes,
)

ID_NAMES = ("id", "node", "node_id", "index")
SRC_NAMES = ("source", "src", "u", "i", "from", "node1", "start")
DST_NAMES = ("target", "dst", "v", "j", "to", "node2", "end")


def csv_pair(path: Path) -> tuple[Path, Path]:
    """The (nodes, edges) file pair named by ``path`` (stem, ``.nodes.csv`` or ``.edges.csv``)."""
    name = path.name
    low = name.lower()
    for tail in (".nodes.csv", ".edges.csv", ".csv"):
        if low.endswith(tail):
            stem = name[: -len(tail)]
            break
    else:
        stem = name
    return path.with_name(f"{stem}.nodes.csv"), path.with_name(f"{stem}.edges.csv")


#: Header names matched case-insensitively (lower-cased on reading); others keep their case.
SPECIAL = frozenset(ID_NAMES + SRC_NAMES + DST_NAMES + ("x", "y", "z", "thread", "anchor"))


def _column_name(cell: str, first: bool) -> str:
    name = cell.strip()
    if first:
        name = name.lstrip("#").strip()
    m = _COMPONENT.match(name)
    base = m.group(1) if m else name
    if base.lower() in SPECIAL:
        return name.lower()
    return name


class _Table:
    """A parsed CSV table: header names, string columns, and source line numbers."""

    def __init__(self, path: Path):
        self.path = path
        text = read_text(path)
        lines = text.splitlines()
        first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
        if first is None:
            raise FormatError(path, "file is empty (expected a header line)")
        head = lines[first]
        delim = "," if "," in head else "\t" if "\t" in head else ";" if ";" in head else ","
        reader = csv.reader(io.StringIO(text), delimiter=delim, skipinitialspace=True)
        rows: list[list[str]] = []
        self.lines: list[int] = []
        header = None
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if header is None:
                    header = [_column_name(c, k == 0) for k, c in enumerate(row)]
                    self.header_line = reader.line_num
                    continue
                if len(row) != len(header):
                    raise FormatError(
                        path,
                        f"row has {len(row)} columns, header has {len(header)}",
                        f"line {reader.line_num}",
                    )
                rows.append(row)
                self.lines.append(reader.line_num)
        except csv.Error as exc:
            raise FormatError(path, f"bad CSV: {exc}", f"line {reader.line_num}") from None
        if header is None:  # only blank cells, e.g. a line holding '"  "'
            raise FormatError(path, "file holds no header line (only blanks)")
        if len(set(header)) != len(header):
            raise FormatError(path, f"duplicate column names in header {header}", "header")
        self.header = header
        cells = np.char.strip(np.array(rows, dtype=str).reshape(len(rows), len(header)))
        self.cols = {h: cells[:, k] for k, h in enumerate(header)}

    def loc(self, r: int) -> str:
        return f"line {self.lines[r]}" if r < len(self.lines) else f"line {self.header_line}"

    def find(self, names: tuple[str, ...], what: str) -> str:
        for n in names:
            if n in self.cols:
                return n
        raise FormatError(
            self.path,
            f"no {what} column; header is {self.header}, expected one of {list(names)}",
            "header",
        )

    def numbers(self, names: list[str], what: str) -> np.ndarray:
        data = np.stack([self.cols[n] for n in names], axis=1) if names else None
        return float_matrix(self.path, data, what, (len(names),), self.loc)


_BOOL_WORDS = ("true", "false", "1", "0", "yes", "no")


def parse_cells(path: Path, name: str, vals: np.ndarray, loc) -> np.ndarray:
    """Typed values of the CSV column ``name`` from its (stripped) text cells.

    ``thread`` (and ``thread[k]``) columns hold thread names or codes; an ``anchor``
    column of true/false/yes/no/1/0 words is boolean; otherwise the first of int64,
    uint64, float64, true/false booleans or text that holds every cell.
    """
    m = _COMPONENT.match(name)
    base = m.group(1) if m else name
    if base == "thread":
        return thread_names_to_codes(path, vals, loc)
    low = np.char.lower(vals)
    if base == "anchor" and np.isin(low, _BOOL_WORDS).all():
        return np.isin(low, ["true", "1", "yes"])
    if len(vals) == 0:
        return vals.astype(np.float64)
    for typ in (np.int64, np.uint64, np.float64):
        try:
            return vals.astype(typ)
        except (ValueError, OverflowError):
            pass
    if np.isin(low, ["true", "false"]).all():
        return low == "true"
    return vals


def _attrs(t: _Table, used: set[str]) -> dict[str, np.ndarray]:
    cols = {name: parse_cells(t.path, name, t.cols[name], t.loc) for name in t.header
            if name not in used}  # fmt: skip
    return join_component_columns(t.path, cols)


def _keys(ids: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Comparable keys of node ids and edge ends: numbers if every one is a finite number
    that float64 holds exactly (so ``7`` matches ``7.0``), else the stripped text."""
    try:
        a, b = ids.astype(np.float64), other.astype(np.float64)
    except ValueError:
        return ids, other
    both = np.concatenate([a, b])
    if not np.isfinite(both).all() or np.abs(both).max(initial=0) > 2**53:
        return ids, other
    return a, b


def read_csv(path: Path, fmt: str = "csv") -> tuple[WebGraph, ReadReport]:
    """Read the node/edge table pair named by ``path`` (see module docstring)."""
    npath, epath = csv_pair(path)
    for p in (npath, epath):
        if not p.exists():
            raise FormatError(
                p, f"no such file (a CSV web is the pair {npath.name} + {epath.name})"
            )
    nt, et = _Table(npath), _Table(epath)
    idc = nt.find(ID_NAMES, "node id")
    xyz = [nt.find(("x",), "x"), nt.find(("y",), "y")] + (["z"] if "z" in nt.cols else [])
    pos = nt.numbers(xyz, "node coordinates")
    if pos.shape[1] == 2:
        pos = np.concatenate([pos, np.zeros((len(pos), 1))], axis=1)
    src, dst = et.find(SRC_NAMES, "edge source"), et.find(DST_NAMES, "edge target")
    ids = nt.cols[idc]
    ends = np.concatenate([et.cols[src], et.cols[dst]])
    nkey, ekey = _keys(ids, ends)
    order = np.argsort(nkey, kind="stable")
    skey = nkey[order]
    dup = np.flatnonzero(skey[1:] == skey[:-1])
    if len(dup):
        r = int(order[dup[0] + 1])
        raise FormatError(npath, f"duplicate node id {str(ids[r])!r}", nt.loc(r))
    at = np.searchsorted(skey, ekey).clip(0, max(len(skey) - 1, 0))
    found = skey[at] == ekey if len(skey) else np.zeros(len(ekey), bool)
    if not found.all():
        k = int(np.flatnonzero(~found)[0])
        r = k % len(et.cols[src]) if len(et.cols[src]) else 0
        raise FormatError(epath, f"edge refers to unknown node id {str(ends[k])!r}", et.loc(r))
    m = len(et.cols[src])
    idx = order[at] if len(order) else at
    edges = np.stack([idx[:m], idx[m:]], axis=1).astype(np.int64)
    node_attrs = _attrs(nt, {idc, *xyz})
    edge_attrs = _attrs(et, {src, dst})
    return build_web(
        path,
        fmt,
        pos,
        edges,
        node_attrs,
        edge_attrs,
        {},
        node_loc=nt.loc,
        edge_loc=lambda r: f"{epath.name} {et.loc(r)}",
    )


def _table_text(header: list[str], cols: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(zip(*cols))
    return buf.getvalue()


RULES = CarryRules(
    "CSV",
    node_reserved=frozenset({"id", "x", "y", "z"}),
    edge_reserved=frozenset({"source", "target"}),
    fold_case=True,
    text="csv",
    components=True,
)


def _check_csv(web: WebGraph, path: Path) -> None:
    """Refuse attributes whose CSV columns would not read back as written (InputError)."""
    carried = lambda k, a: a.ndim <= 2 and a.dtype.kind in COLUMN_KINDS  # noqa: E731
    check_carry(web, RULES, carried)
    for what, attrs in (("node", web.node_attrs), ("edge", web.edge_attrs)):
        for name in attrs:
            if name.lower() in SPECIAL and name != name.lower():
                raise InputError(
                    f"{what} attribute {name!r} would read back from CSV as {name.lower()!r} "
                    "(that header name is case-insensitive); rename it"
                )
        for key, cells in attr_columns(attrs, bool_text=True).items():
            text = np.array([v if isinstance(v, str) else str(v) for v in cells], dtype=str)
            back = parse_cells(path, key, text, str)
            m = _COMPONENT.match(key)
            orig = attrs[m.group(1)][:, int(m.group(2))] if m and m.group(1) in attrs else None
            orig = attrs[key] if orig is None else orig
            if not _same_values(orig, back):
                raise InputError(
                    f"{what} attribute {key!r} would not read back from CSV as written "
                    f"({orig.dtype} values read as {back.dtype}); araneus JSON keeps it"
                )


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if len(a) == 0:
        return True
    if (a.dtype.kind == "U") != (b.dtype.kind == "U"):
        return False
    if (
        a.dtype.kind in "biuf"
        and b.dtype.kind in "biuf"
        and (a.dtype.kind == "b") != (b.dtype.kind == "b")
    ):
        return bool(np.isin(a, (0, 1)).all()) and np.array_equal(a.astype(bool), b.astype(bool))
    nan = a.dtype.kind == "f" and b.dtype.kind == "f"
    return bool(np.array_equal(a, b, equal_nan=nan))


def write_csv(web: WebGraph, path: Path) -> None:
    """Write ``NAME.nodes.csv`` and ``NAME.edges.csv`` (ids 0..N-1; see module docstring).

    Raises :class:`InputError` before writing anything for an attribute that would not
    read back as written (a name clashing with ``id``/``x``/``y``/``z`` or
    ``source``/``target``, text with control characters or surrounding blanks, text that
    reads as numbers, long doubles, ...).
    """
    _check_csv(web, path)
    npath, epath = csv_pair(path)
    nattr = attr_columns(web.node_attrs, bool_text=True)
    eattr = attr_columns(web.edge_attrs, bool_text=True)
    pos = web.pos
    ncols = [list(range(web.n_nodes)), pos[:, 0].tolist(), pos[:, 1].tolist(), pos[:, 2].tolist()]
    ntext = _table_text(["id", "x", "y", "z", *nattr], ncols + list(nattr.values()))
    ecols = [web.edges[:, 0].tolist(), web.edges[:, 1].tolist()]
    etext = _table_text(["source", "target", *eattr], ecols + list(eattr.values()))
    with atomic_outputs([npath, epath]) as (tn, te):  # the pair as one unit (never mixed)
        tn.write_text(ntext, encoding="utf-8")
        te.write_text(etext, encoding="utf-8")
