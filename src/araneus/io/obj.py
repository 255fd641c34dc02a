"""Wavefront OBJ with ``v`` (vertex) and ``l`` (polyline) records.

``v x y z [w | r g b]`` gives a node (extra numbers ignored). ``l a b c ...`` is a polyline:
consecutive vertices become edges (a-b, b-c). Indices are 1-based; negative indices count
back from the last vertex defined so far (``-1`` = the latest); ``a/t`` forms use ``a``.
Faces (``f``) are not threads: they are skipped and counted in the report notes; other
records (``vn``, ``vt``, ``g``, ``o``, ``usemtl``, ...) are ignored. The writer emits one
``l i j`` per edge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._util import atomic_output
from ..errors import FormatError
from ..web import WebGraph
from ._common import ReadReport, build_web, float_matrix, read_text


def _index(path: Path, tok: str, nv: int, line: int) -> int:
    head = tok.split("/", 1)[0]
    try:
        k = int(head) if len(head) <= 18 else None
    except ValueError:
        k = None
    if k is None:
        shown = tok if len(tok) <= 40 else tok[:40] + "..."
        raise FormatError(
            path, f"vertex index {shown!r} is not an integer of at most 18 digits", f"line {line}"
        )
    if k == 0:
        raise FormatError(path, "vertex index 0 (OBJ indices start at 1)", f"line {line}")
    if k < 0:
        if nv + k < 0:
            raise FormatError(
                path,
                f"relative index {k} reaches before the first vertex ({nv} defined)",
                f"line {line}",
            )
        return nv + k
    return k - 1


def read_obj(path: Path, fmt: str = "obj") -> tuple[WebGraph, ReadReport]:
    """Read ``v`` and ``l`` records of an OBJ file (see module docstring)."""
    text = read_text(path)
    if not text.strip():
        raise FormatError(path, "file is empty")
    verts: list[list[str]] = []
    vlines: list[int] = []
    edges: list[tuple[int, int]] = []
    elines: list[int] = []
    faces = 0
    for ln, raw in enumerate(text.splitlines(), start=1):
        tok = raw.split("#", 1)[0].split()
        if not tok:
            continue
        key = tok[0]
        if key == "v":
            if len(tok) < 4:
                raise FormatError(
                    path, f"vertex needs x y z, got {len(tok) - 1} values", f"line {ln}"
                )
            verts.append(tok[1:4])
            vlines.append(ln)
        elif key == "l":
            if len(tok) < 3:
                raise FormatError(path, "polyline needs at least 2 vertices", f"line {ln}")
            idx = [_index(path, t, len(verts), ln) for t in tok[1:]]
            edges.extend(zip(idx[:-1], idx[1:]))
            elines.extend([ln] * (len(idx) - 1))
        elif key == "f":
            faces += 1
    pos = float_matrix(path, verts, "vertex", (3,), lambda r: f"line {vlines[r]}")
    e = np.array(edges, dtype=np.int64).reshape(-1, 2)
    notes = {"faces_ignored": faces} if faces else {}
    return build_web(
        path,
        fmt,
        pos,
        e,
        node_loc=lambda r: f"line {vlines[r]}",
        edge_loc=lambda r: f"line {elines[r]}",
        index_base=1,
        notes=notes,
    )


def write_obj(web: WebGraph, path: Path) -> None:
    """Write ``v`` lines (shortest exact float repr) and one ``l i j`` line per edge (1-based)."""
    p = web.pos.tolist()
    e = (web.edges + 1).tolist()
    parts = [f"# araneus web: {web.n_nodes} nodes, {web.n_edges} edges\n"]
    parts.append("".join(f"v {x!r} {y!r} {z!r}\n" for x, y, z in p))
    parts.append("".join(f"l {i} {j}\n" for i, j in e))
    with atomic_output(path) as tmp:
        tmp.write_text("".join(parts), encoding="utf-8")
