"""Plain-text exports: the LAMMPS data file (write-only) and the ``#ID x y z`` node list.

* **LAMMPS data** (``atom_style bond``): ``N atoms``/``E bonds``, a box that contains every
  node (padded by 1% of the largest extent so that flat webs get a finite thickness),
  ``Masses`` (1.0), ``Atoms # bond`` lines ``id mol type x y z`` and ``Bonds`` lines
  ``id type i j``, all 1-based. Atom type 2 marks anchor nodes (``node_attrs["anchor"]``);
  bond types number the thread types present (listed in the title line).
* **Node list** (``.xyz``/``.txt``): header ``#ID x y z`` then ``id x y z`` per node, ids
  0-based as in the reference code's output. Edges are not stored. The reader takes
  ``id x y z`` or ``x y z`` rows (``#`` lines are comments) and also classic XYZ files
  (atom count, comment line, ``element x y z`` rows); the web it returns has no edges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._util import atomic_output
from ..errors import FormatError
from ..web import WebGraph
from ._common import ReadReport, build_web, float_matrix, read_text, thread_names


def _box(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(pos) == 0:
        return np.full(3, -0.5), np.full(3, 0.5)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    span = float((hi - lo).max())
    pad = 0.01 * span if span > 0 else 0.5
    return lo - pad, hi + pad


def write_lammps(web: WebGraph, path: Path) -> None:
    """Write a LAMMPS data file (``atom_style bond``) holding the web's nodes and edges."""
    n, m = web.n_nodes, web.n_edges
    anchor = web.node_attrs.get("anchor")
    atype = (
        np.where(np.asarray(anchor, bool), 2, 1)
        if anchor is not None and anchor.ndim == 1
        else np.ones(n, int)
    )
    thread = web.edge_attrs.get("thread")
    if thread is not None and thread.ndim == 1 and m:
        codes, btype = np.unique(thread.astype(np.int64), return_inverse=True)
        btype = btype.ravel() + 1
        names = " ".join(f"{k + 1}={t}" for k, t in enumerate(thread_names(codes)))
        title = f"araneus web, bond types: {names}"
        nbt = len(codes)
    else:
        btype, title, nbt = np.ones(m, int), "araneus web", 1
    nat = 2 if anchor is not None else 1
    lo, hi = _box(web.pos)
    out = [
        f"LAMMPS data file: {title}\n\n",
        f"{n} atoms\n{m} bonds\n{nat} atom types\n{nbt} bond types\n\n",
        *(f"{a!r} {b!r} {ax}lo {ax}hi\n" for a, b, ax in zip(lo.tolist(), hi.tolist(), "xyz")),
        "\nMasses\n\n",
        *(f"{t} 1.0\n" for t in range(1, nat + 1)),
        "\nAtoms # bond\n\n",
        *(
            f"{i + 1} 1 {t} {x!r} {y!r} {z!r}\n"
            for i, (t, (x, y, z)) in enumerate(zip(atype.tolist(), web.pos.tolist()))
        ),
    ]
    if m:
        e = (web.edges + 1).tolist()
        out += [
            "\nBonds\n\n",
            *(f"{k + 1} {t} {i} {j}\n" for k, (t, (i, j)) in enumerate(zip(btype.tolist(), e))),
        ]
    with atomic_output(path) as tmp:
        tmp.write_text("".join(out), encoding="utf-8")


def write_xyz(web: WebGraph, path: Path) -> None:
    """Write the ``#ID x y z`` node list (0-based ids; edges are not stored)."""
    body = "".join(f"{i} {x!r} {y!r} {z!r}\n" for i, (x, y, z) in enumerate(web.pos.tolist()))
    with atomic_output(path) as tmp:
        tmp.write_text("#ID x y z\n" + body, encoding="utf-8")


def read_xyz(path: Path, fmt: str = "xyz") -> tuple[WebGraph, ReadReport]:
    """Read a node list (``id x y z`` / ``x y z`` rows, or classic XYZ); no edges."""
    text = read_text(path)
    rows, lines = [], []
    for ln, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if s and not s.startswith("#"):
            rows.append(s.split())
            lines.append(ln)
    if not rows:
        raise FormatError(path, "file holds no node rows")
    if len(rows[0]) == 1 and rows[0][0].isdecimal() and len(rows[0][0]) <= 18 and len(rows) >= 2:
        count = int(rows[0][0])
        skip = 2 if len(rows) >= count + 2 else 1  # count line, comment line (may be blank)
        rows, lines = rows[skip:], lines[skip:]
        if len(rows) < count:
            raise FormatError(path, f"XYZ header promises {count} atoms, file has {len(rows)}")
        rows, lines = rows[:count], lines[:count]
        if not rows:
            raise FormatError(path, "XYZ header promises 0 atoms: no node rows")
    width = len(rows[0]) if rows else 0
    if width not in (3, 4):
        raise FormatError(
            path, f"rows must be 'id x y z' or 'x y z', got {width} values", f"line {lines[0]}"
        )
    for r, row in enumerate(rows):
        if len(row) != width:
            raise FormatError(
                path, f"row has {len(row)} values, earlier rows have {width}", f"line {lines[r]}"
            )
    coords = [row[width - 3 :] for row in rows]
    pos = float_matrix(path, coords, "node coordinates", (3,), lambda r: f"line {lines[r]}")
    return build_web(
        path, fmt, pos, np.zeros((0, 2), np.int64), node_loc=lambda r: f"line {lines[r]}"
    )
