"""GraphML via networkx: node attributes ``x``, ``y``, ``z`` (``z`` optional, default 0).

Node ids may be any strings; nodes are numbered in file order. Other attributes present on
every node (edge) become node (edge) attributes; ``thread`` is written as the thread-type
name; a 2-D attribute ``name`` is written as scalar attributes ``name[0]``, ``name[1]``, ...
and reassembled on reading. ``meta`` travels as JSON text in the graph attribute
``araneus_meta``. Parallel edges (multigraph files) and both directions of directed files
are counted as duplicates.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_output, read_input_bytes
from ..errors import FormatError
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
    meta_from_json,
    meta_to_json,
    thread_names_to_codes,
)

_META_KEY = "araneus_meta"


def _common(path: Path, dicts: list[dict], skip: set[str], what: str) -> dict[str, np.ndarray]:
    """Attributes present on every node (edge), as arrays; ``name[k]`` keys are re-joined."""
    if not dicts:
        return {}
    keys = set(dicts[0]) - skip
    for d in dicts[1:]:
        keys &= set(d)
    cols: dict[str, np.ndarray] = {}
    for k in sorted(keys):
        vals = [d[k] for d in dicts]
        m = _COMPONENT.match(k)
        if (m.group(1) if m else k) == "thread":
            arr = thread_names_to_codes(path, np.array(vals), lambda r: f"{what} {r}")
        else:
            try:
                arr = np.array(vals)
            except (ValueError, TypeError, OverflowError):
                continue  # values no numpy column holds (mixed, huge ints): not an attribute
        if arr.ndim == 1 and arr.dtype.kind in COLUMN_KINDS:
            cols[k] = arr
    return join_component_columns(path, cols, f"{what} attributes")


def read_graphml(path: Path, fmt: str = "graphml") -> tuple[WebGraph, ReadReport]:
    """Read a GraphML file whose nodes carry ``x``, ``y`` (and ``z``)."""
    import networkx as nx

    data = read_input_bytes(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # networkx warns on keys without a type
            g = nx.read_graphml(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - xml/networkx raise many unrelated types
        raise FormatError(
            path, f"not a readable GraphML file ({type(exc).__name__}: {exc})"
        ) from None
    nodes = list(g.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    ndata = [g.nodes[n] for n in nodes]
    rows = []
    for n, d in zip(nodes, ndata):
        if "x" not in d or "y" not in d:
            raise FormatError(path, "node has no 'x'/'y' attribute", f"node {n!r}")
        rows.append([d["x"], d["y"], d.get("z", 0.0)])
    pos = float_matrix(path, rows, "node coordinates", (3,), lambda r: f"node {nodes[r]!r}")
    edata = list(g.edges(data=True))
    edges = np.array([(index[u], index[v]) for u, v, _ in edata], dtype=np.int64).reshape(-1, 2)
    node_attrs = _common(path, ndata, {"x", "y", "z"}, "node")
    edge_attrs = _common(path, [d for _, _, d in edata], set(), "edge")
    meta: dict[str, Any] = {
        k: v
        for k, v in g.graph.items()
        if k != _META_KEY and not k.startswith("node_default") and not k.startswith("edge_default")
    }
    if _META_KEY in g.graph:
        meta.update(meta_from_json(path, g.graph[_META_KEY], f"graph attribute {_META_KEY!r}"))
    return build_web(
        path,
        fmt,
        pos,
        edges,
        node_attrs,
        edge_attrs,
        meta,
        node_loc=lambda r: f"node {nodes[r]!r}",
        edge_loc=lambda r: f"edge {r}",
    )


def _records(attrs: dict[str, np.ndarray], n: int) -> list[dict[str, Any]]:
    cols = attr_columns(attrs)
    keys = list(cols)
    return [dict(zip(keys, vals)) for vals in zip(*cols.values())] if keys else [{}] * n


RULES = CarryRules("GraphML", node_reserved=frozenset({"x", "y", "z"}), text="xml", components=True)


def write_graphml(web: WebGraph, path: Path) -> None:
    """Write GraphML with node attributes x, y, z plus the web's attributes and meta.

    Raises :class:`InputError` before writing for a node attribute named ``x``/``y``/``z``
    and for text XML cannot hold (control characters, CR, lone surrogates).
    """
    import networkx as nx

    check_carry(web, RULES, lambda k, a: a.ndim <= 2 and a.dtype.kind in COLUMN_KINDS)

    g = nx.Graph()
    g.graph[_META_KEY] = meta_to_json(web.meta)
    x, y, z = (web.pos[:, k].tolist() for k in range(3))
    nrec = _records(web.node_attrs, web.n_nodes)
    g.add_nodes_from((i, {"x": x[i], "y": y[i], "z": z[i], **nrec[i]}) for i in range(web.n_nodes))
    erec = _records(web.edge_attrs, web.n_edges)
    g.add_edges_from((i, j, erec[r]) for r, (i, j) in enumerate(web.edges.tolist()))
    with atomic_output(path) as tmp:
        nx.write_graphml(g, tmp)
