"""Strut and node sizes, and the boolean (CSG) union of tubes and node spheres.

All lengths here are in millimetres: positions have already been multiplied by the user's
``scale`` when they reach these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError
from ..web import THREAD_TYPES, WebGraph

#: A strut diameter specification: one diameter (mm), a mapping thread type -> diameter (mm,
#: with an optional ``"default"`` key), or the name of an edge attribute holding per-edge
#: diameters in the web's own length unit (multiplied by ``scale``).
StrutSpec = float | Mapping[str, float] | str


def _check_positive(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise InputError(f"{what} must be finite numbers, got NaN or infinity")
    if np.any(values <= 0):
        raise InputError(f"{what} must be positive, got {float(np.min(values)):g}")


def strut_diameters(web: WebGraph, strut: StrutSpec, scale: float = 1.0) -> np.ndarray:
    """Per-edge strut diameters in millimetres.

    Parameters
    ----------
    web
        The web; only its edges and edge attributes are read.
    strut
        A number (mm, every edge), a mapping from thread-type name to diameter (mm; key
        ``"default"`` covers types not listed), or the name of an edge attribute holding
        diameters in the web's length unit (multiplied by ``scale``).
    scale
        Millimetres per web length unit.

    Returns
    -------
    ndarray, float64 (E,)
        Diameters in mm.
    """
    n_e = web.n_edges
    if isinstance(strut, str):
        if strut not in web.edge_attrs:
            have = ", ".join(sorted(web.edge_attrs)) or "none"
            raise InputError(f"strut: the web has no edge attribute {strut!r} (it has: {have})")
        raw = np.asarray(web.edge_attrs[strut])
        if raw.ndim != 1 or raw.dtype.kind not in "fiu":
            raise InputError(f"strut: edge attribute {strut!r} must be one number per edge")
        d = raw.astype(np.float64) * scale
        _check_positive(d, f"strut diameters from edge attribute {strut!r}")
        return d
    if isinstance(strut, Mapping):
        return _diameters_by_thread(web, strut)
    try:
        value = float(strut)
    except (TypeError, ValueError):
        raise InputError(
            f"strut must be a number, a thread-type mapping or an edge attribute name, got {strut!r}"
        ) from None
    d = np.full(n_e, value)
    _check_positive(np.array([value]), "strut diameter")
    return d


def _diameters_by_thread(web: WebGraph, strut: Mapping[str, float]) -> np.ndarray:
    table = np.full(len(THREAD_TYPES), np.nan)
    default = np.nan
    for name, value in strut.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"strut[{name!r}] must be a number, got {value!r}") from None
        _check_positive(np.array([v]), f"strut diameter for thread type {name!r}")
        if name == "default":
            default = v
        elif name in THREAD_TYPES:
            table[THREAD_TYPES.index(name)] = v
        else:
            raise InputError(
                f"strut: unknown thread type {name!r}; valid: default, {', '.join(THREAD_TYPES)}"
            )
    table[np.isnan(table)] = default
    if "thread" in web.edge_attrs:
        codes = np.asarray(web.edge_attrs["thread"]).astype(np.int64)
    else:
        codes = np.zeros(web.n_edges, dtype=np.int64)
    if np.any((codes < 0) | (codes >= len(THREAD_TYPES))):
        raise InputError("edge attribute 'thread' holds codes outside THREAD_TYPES")
    d = table[codes]
    if np.any(np.isnan(d)):
        missing = sorted({THREAD_TYPES[c] for c in codes[np.isnan(d)]})
        raise InputError(
            f"strut: no diameter for thread type(s) {', '.join(missing)}; add them or a 'default'"
        )
    return d


def node_diameters(
    web: WebGraph, strut_d: np.ndarray, node: float | None = None, node_factor: float = 1.25
) -> tuple[np.ndarray, int]:
    """Per-node sphere diameters in mm, never smaller than the thickest incident strut.

    Parameters
    ----------
    web
        The web.
    strut_d
        (E,) strut diameters in mm.
    node
        Requested node diameter in mm; ``None`` uses ``node_factor`` times the thickest
        incident strut.
    node_factor
        Used when ``node`` is None.

    Returns
    -------
    diameters : ndarray, float64 (N,)
        0 for isolated nodes.
    n_enlarged : int
        Nodes whose requested diameter was raised to the local strut diameter.
    """
    local = np.zeros(web.n_nodes)
    np.maximum.at(local, web.edges[:, 0], strut_d)
    np.maximum.at(local, web.edges[:, 1], strut_d)
    if node is None:
        return local * node_factor, 0
    value = float(node)
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"node diameter must be a positive number, got {node!r}")
    d = np.maximum(local, value)
    n_enlarged = int(np.count_nonzero((local > value) & (local > 0)))
    d[local == 0] = 0.0
    return d, n_enlarged


def _frames(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (E, 3) perpendicular to the unit directions ``z`` and each other."""
    helper = np.where(np.abs(z[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.cross(z, x)


def sphere_inradius_ratio(segments: int) -> float:
    """Inradius / radius of manifold3d's geodesic sphere with ``segments`` segments."""
    import manifold3d as m3d

    mesh = m3d.Manifold.sphere(1.0, segments).to_mesh()
    v = np.asarray(mesh.vert_properties)[:, :3]
    t = np.asarray(mesh.tri_verts)
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return float(np.min(np.abs(np.sum(n * v[t[:, 0]], axis=1))))


def tube_transforms(
    pos: np.ndarray,
    edges: np.ndarray,
    radius: np.ndarray,
    start_offset: np.ndarray,
    end_offset: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps (K, 3, 4) taking a unit cylinder (radius 1, z in [0, 1]) onto each tube.

    Each tube runs along its edge from ``start_offset`` after the first node to
    ``end_offset`` before the second (mm). Tubes with no length left (wholly inside the node
    spheres) are dropped; the second return value lists the edges that were kept.
    """
    a = pos[edges[:, 0]]
    d = pos[edges[:, 1]] - a
    length = np.linalg.norm(d, axis=1)
    z = d / length[:, None]
    body = length - start_offset - end_offset
    keep = np.flatnonzero(body > 1e-9 * np.maximum(length, 1.0))
    x, y = _frames(z[keep])
    r = radius[keep, None]
    m = np.empty((len(keep), 3, 4))
    m[:, :, 0] = x * r
    m[:, :, 1] = y * r
    m[:, :, 2] = z[keep] * body[keep, None]
    m[:, :, 3] = a[keep] + z[keep] * start_offset[keep, None]
    return m, keep


def csg_union(
    pos: np.ndarray,
    edges: np.ndarray,
    strut_d: np.ndarray,
    node_d: np.ndarray,
    segments: int,
    extra: list[Any] | None = None,
) -> Any:
    """Boolean union of one tube per edge and one sphere per node (a ``manifold3d.Manifold``).

    Tubes start inside the node spheres, just deep enough that their end caps are covered by
    the (polygonal) spheres; this keeps the number of tube-tube intersections inside the
    joints small, which is where most of the boolean time goes.

    Parameters
    ----------
    pos
        (N, 3) node positions in mm.
    edges
        (E, 2) node indices.
    strut_d, node_d
        (E,) and (N,) diameters in mm (node 0 = no sphere).
    segments
        Facets around each tube and along each sphere's circumference.
    extra
        Further manifolds (e.g. a base plate) to include in the union.
    """
    import manifold3d as m3d

    r = strut_d / 2.0
    rin = node_d / 2.0 * sphere_inradius_ratio(segments) * 0.995
    off = np.sqrt(np.clip(rin[edges] ** 2 - r[:, None] ** 2, 0.0, None))
    mats, _ = tube_transforms(pos, edges, r, off[:, 0], off[:, 1])
    unit_tube = m3d.Manifold.cylinder(1.0, 1.0, 1.0, segments)
    unit_ball = m3d.Manifold.sphere(1.0, segments)
    parts = [unit_tube.transform(m) for m in mats]
    nodes = np.flatnonzero(node_d > 0)
    ball = np.zeros((len(nodes), 3, 4))
    ball[:, [0, 1, 2], [0, 1, 2]] = node_d[nodes, None] / 2.0
    ball[:, :, 3] = pos[nodes]
    parts.extend(unit_ball.transform(m) for m in ball)
    parts.extend(extra or [])
    return m3d.Manifold.batch_boolean(parts, m3d.OpType.Add)
