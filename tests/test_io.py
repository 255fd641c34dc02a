"""Readers and writers: round trips (hypothesis), quirk counts, malformed files, CLI."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from araneus import FormatError, InputError, WebGraph
from araneus.io import available_formats, format_for, read_web, read_web_report, write_web
from araneus.io import ply as ply_mod
from araneus.web import THREAD_TYPES

# ----------------------------------------------------------------------------- strategies
coord = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def webs(draw, attrs: bool = True, max_nodes: int = 25) -> WebGraph:
    n = draw(st.integers(0, max_nodes))
    pos = np.array(draw(st.lists(st.tuples(coord, coord, coord), min_size=n, max_size=n)))
    pos = pos.reshape(n, 3)
    raw = []
    if n >= 2:
        raw = draw(
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n)
        )
    web, _ = WebGraph.from_raw(pos, np.array(raw, dtype=np.int64).reshape(-1, 2))
    if not attrs:
        return web
    m = web.n_edges
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return web.replace(
        node_attrs={"anchor": rng.random(n) < 0.3},
        edge_attrs={
            "thread": rng.integers(0, len(THREAD_TYPES), m).astype(np.int8),
            "radius": rng.random(m) * 1e-3,
        },
        meta={"units": "mm", "seed": seed},
    )


HYP = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _roundtrip(web: WebGraph, name: str, fmt: str | None = None) -> WebGraph:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        write_web(web, path, fmt)
        return read_web(path, fmt)


def _same_attrs(a: dict, b: dict, exact_dtype: bool = True) -> None:
    assert set(a) == set(b)
    for k in a:
        if exact_dtype:
            assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k


# ----------------------------------------------------------------------------- round trips
@HYP
@given(webs())
def test_json_roundtrip_exact(web):
    out = _roundtrip(web, "w.json")
    assert out.equals(web)
    assert np.array_equal(out.pos, web.pos) and np.array_equal(out.edges, web.edges)
    _same_attrs(out.node_attrs, web.node_attrs)
    _same_attrs(out.edge_attrs, web.edge_attrs)
    assert out.meta == web.meta


@HYP
@given(webs(attrs=False))
def test_skeleton_json_roundtrip(web):
    out = _roundtrip(web, "w.json", "skeleton-json")
    assert np.array_equal(out.pos, web.pos) and np.array_equal(out.edges, web.edges)


@HYP
@given(webs())
def test_csv_roundtrip(web):
    out = _roundtrip(web, "w.csv")
    assert np.array_equal(out.pos, web.pos) and np.array_equal(out.edges, web.edges)
    # CSV has no dtypes: thread (names -> int8) and anchor (true/false -> bool) keep theirs
    _same_attrs(out.node_attrs, web.node_attrs)
    _same_attrs(out.edge_attrs, web.edge_attrs)


@pytest.mark.parametrize(
    "name,fmt", [("w.mat", None), ("w.ply", None), ("w.ply", "ply-ascii"), ("w.graphml", None)]
)
@HYP
@given(web=webs())
def test_attr_formats_roundtrip(web, name, fmt):
    out = _roundtrip(web, name, fmt)
    if name.endswith(".graphml"):
        # networkx lists edges by adjacency, not file order; attributes are only known from
        # the nodes/edges that carry them
        out, web = _edge_sorted(out), _edge_sorted(web)
        if web.n_nodes == 0 or web.n_edges == 0:
            out = out.replace(
                node_attrs=web.node_attrs if web.n_nodes == 0 else out.node_attrs,
                edge_attrs=web.edge_attrs if web.n_edges == 0 else out.edge_attrs,
            )
    assert np.array_equal(out.pos, web.pos) and np.array_equal(out.edges, web.edges)
    _same_attrs(out.node_attrs, web.node_attrs)
    _same_attrs(out.edge_attrs, web.edge_attrs)
    assert out.meta == web.meta


def _edge_sorted(web: WebGraph) -> WebGraph:
    order = np.lexsort(web.edges.T[::-1])
    return web.replace(
        edges=web.edges[order], edge_attrs={k: v[order] for k, v in web.edge_attrs.items()}
    )


@HYP
@given(webs())
def test_ply_big_endian_roundtrip(web):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "be.ply"
        ply_mod._write(web, path, "binary_big_endian")
        assert b"format binary_big_endian 1.0" in path.read_bytes()[:200]
        out = read_web(path)
    assert np.array_equal(out.pos, web.pos) and np.array_equal(out.edges, web.edges)
    _same_attrs(out.edge_attrs, web.edge_attrs)


@HYP
@given(webs(attrs=False))
def test_obj_roundtrip(web):
    out = _roundtrip(web, "w.obj")
    assert np.array_equal(out.pos, web.pos) and np.array_equal(out.edges, web.edges)


@HYP
@given(webs(attrs=False))
def test_xyz_nodes_roundtrip(web):
    if web.n_nodes == 0:
        return  # an empty node list is rejected as malformed (tested below)
    out = _roundtrip(web, "w.xyz")
    assert np.array_equal(out.pos, web.pos) and out.n_edges == 0


# ----------------------------------------------------------------------------- quirks
QUIRKY = {  # 4 nodes; edges: 0-1, 1-0 (reverse dup), 2-2 (loop), 1-2, 0-1 (dup); node 3 unused
    "q.json": '{"nodes": [[0,0,0],[1,0,0],[0,1,0],[5,5,5]], '
    '"edges": [[0,1],[1,0],[2,2],[1,2],[0,1]]}',
    "q.obj": "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 5 5 5\nl 1 2\nl 2 1\nl 3 3\nl 2 3\nl 1 2\n",
    "q.ply": "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
    "property float z\nelement edge 5\nproperty int vertex1\nproperty int vertex2\nend_header\n"
    "0 0 0\n1 0 0\n0 1 0\n5 5 5\n0 1\n1 0\n2 2\n1 2\n0 1\n",
}


def _write_quirky(d: Path, name: str) -> Path:
    path = d / name
    if name == "q.csv":
        (d / "q.nodes.csv").write_text("id,x,y,z\na,0,0,0\nb,1,0,0\nc,0,1,0\nd,5,5,5\n")
        (d / "q.edges.csv").write_text("source,target\na,b\nb,a\nc,c\nb,c\na,b\n")
    elif name == "q.mat":
        scipy.io.savemat(
            path,
            {
                "nodes": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]],
                "edges": [[1, 2], [2, 1], [3, 3], [2, 3], [1, 2]],
            },
        )
    elif name == "q.graphml":
        import networkx as nx

        g = nx.MultiDiGraph()
        for i, p in enumerate([(0, 0, 0), (1, 0, 0), (0, 1, 0), (5, 5, 5)]):
            g.add_node(f"n{i}", x=float(p[0]), y=float(p[1]), z=float(p[2]))
        for u, v in [(0, 1), (1, 0), (2, 2), (1, 2), (0, 1)]:
            g.add_edge(f"n{u}", f"n{v}")
        nx.write_graphml(g, path)
    else:
        path.write_text(QUIRKY[name])
    return path


@pytest.mark.parametrize("name", ["q.json", "q.obj", "q.ply", "q.csv", "q.mat", "q.graphml"])
def test_quirks_counted(tmp_path, name):
    web, rep = read_web_report(_write_quirky(tmp_path, name))
    assert (web.n_nodes, web.n_edges) == (4, 2)
    assert sorted(map(tuple, web.edges.tolist())) == [(0, 1), (1, 2)]
    assert rep.input_edges == 5 and rep.self_loops == 1 and rep.duplicates == 2
    assert rep.reversed_duplicates == 1 and rep.isolated_nodes == 1
    web2, rep2 = read_web_report(tmp_path / name, drop_isolated=True)
    assert web2.n_nodes == 3 and rep2.isolated_dropped == 1 and rep2.n_nodes == 3


def test_two_d_inputs_get_z_zero(tmp_path):
    scipy.io.savemat(
        tmp_path / "t.mat",
        {"nodes": np.array([[0.0, 1], [2, 3], [4, 5]]), "edges": np.array([[1, 2], [2, 3]])},
    )
    web = read_web(tmp_path / "t.mat")
    assert np.array_equal(web.pos[:, 2], np.zeros(3)) and web.edges.tolist() == [[0, 1], [1, 2]]
    (tmp_path / "t.json").write_text('{"nodes": [[0,1],[2,3]], "edges": [[0,1]]}')
    assert read_web(tmp_path / "t.json").pos.tolist() == [[0, 1, 0], [2, 3, 0]]


def test_csv_pair_naming_and_ids(tmp_path):
    (tmp_path / "w.nodes.csv").write_text("#ID;X;Y\n10;0;0\n7;1;0\n3;2;0\n")
    (tmp_path / "w.edges.csv").write_text("u;v;weight\n10;7.0;1.5\n7;3;2\n")
    for name in ("w.csv", "w.nodes.csv", "w.edges.csv"):
        web = read_web(tmp_path / name)
        assert web.edges.tolist() == [[0, 1], [1, 2]]
        assert web.edge_attrs["weight"].tolist() == [1.5, 2.0]
    write_web(web, tmp_path / "out.edges.csv")
    assert (tmp_path / "out.nodes.csv").exists() and (tmp_path / "out.edges.csv").exists()


def test_obj_polylines_relative_and_faces(tmp_path):
    p = tmp_path / "p.obj"
    p.write_text(
        "# c\no web\nv 0 0 0\nv 1 0 0 1\nv 1 1 0 .5 .5 .5\nvn 0 0 1\n"
        "f 1 2 3\nl 1 2 3 -3\nl 1/1 2/2\n"
    )
    web, rep = read_web_report(p)
    assert sorted(map(tuple, web.edges.tolist())) == [(0, 1), (0, 2), (1, 2)]
    assert rep.duplicates == 1 and rep.notes == {"faces_ignored": 1}


def test_ply_skips_face_elements_binary(tmp_path):
    import trimesh

    trimesh.creation.box().export(tmp_path / "box.ply")
    web, rep = read_web_report(tmp_path / "box.ply")
    assert web.n_nodes == 8 and web.n_edges == 0 and rep.notes["elements_skipped"] == {"face": 12}


def test_xyz_reads_classic_xyz(tmp_path):
    (tmp_path / "c.xyz").write_text("3\nwater\nO 0 0 0\nH 1 0 0\nH 0 1 0\n")
    assert read_web(tmp_path / "c.xyz").pos.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_lammps_data_file(tmp_path):
    pos = np.array([[0.0, 0, 0], [1, 0, 0], [1, 2, 0], [0, 2, 0]])
    web = WebGraph(
        pos,
        [[0, 1], [1, 2], [2, 3]],
        {"anchor": np.array([1, 0, 0, 1], bool)},
        {"thread": np.array([2, 3, 2], np.int8)},
    )
    write_web(web, tmp_path / "w.data")
    text = (tmp_path / "w.data").read_text()
    assert "4 atoms" in text and "3 bonds" in text and "2 atom types" in text
    assert "2 bond types" in text and "1=radial 2=spiral" in text
    box = {
        ln.split()[-1]: tuple(map(float, ln.split()[:2]))
        for ln in text.splitlines()
        if ln.endswith(("xhi", "yhi", "zhi"))
    }
    for k, ax in enumerate("xyz"):
        lo, hi = box[f"{ax}hi"]
        assert lo < pos[:, k].min() and hi > pos[:, k].max()
    atoms = text.split("Atoms # bond\n\n")[1].split("\n\nBonds")[0].splitlines()
    assert [int(a.split()[2]) for a in atoms] == [2, 1, 1, 2]
    bonds = [list(map(int, b.split())) for b in text.split("Bonds\n\n")[1].splitlines()]
    assert bonds == [[1, 1, 1, 2], [2, 2, 2, 3], [3, 1, 3, 4]]
    with pytest.raises(FormatError, match="cannot be read"):
        read_web(tmp_path / "w.data")


# ----------------------------------------------------------------------------- registry
def test_registry_and_overrides(tmp_path):
    fm = available_formats()
    assert {"json", "csv", "graphml", "mat", "ply", "obj", "lammps", "xyz"} <= set(fm)
    assert format_for("a.PLY").name == "ply" and format_for("a.lmp", mode="write").name == "lammps"
    with pytest.raises(FormatError, match="cannot tell the format"):
        read_web(tmp_path / "w.foo")
    with pytest.raises(InputError, match="unknown format"):
        read_web(tmp_path / "w.json", format="nope")
    (tmp_path / "w.dat").write_text('{"nodes": [[0,0,0],[1,1,1]], "edges": [[0,1]]}')
    assert read_web(tmp_path / "w.dat", format="json").n_edges == 1
    assert read_web(tmp_path / "w.dat", format=".json").n_edges == 1


@pytest.mark.parametrize("suffix", [".json", ".csv", ".graphml", ".mat", ".ply", ".data"])
def test_write_rejects_bad_thread_codes(tmp_path, suffix):
    web = WebGraph(np.zeros((2, 3)), [[0, 1]], edge_attrs={"thread": np.array([99], np.int8)})
    with pytest.raises(InputError, match="thread"):
        write_web(web, tmp_path / f"w{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path):
    web = WebGraph(np.zeros((2, 3)), [[0, 1]], meta={"bad": object()})
    with pytest.raises(InputError, match="not JSON serialisable"):
        write_web(web, tmp_path / "w.json")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError):
        write_web("not a web", tmp_path / "w.json")


# ----------------------------------------------------------------------------- malformed files
PLY_HEAD = (
    "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
    "property float z\nelement edge 1\nproperty int vertex1\nproperty int vertex2\n"
    "end_header\n"
)
BAD = [
    # (file name, content, expected message part, expected location part)
    ("e.json", "", "empty", None),
    ("e.json", '{"nodes": [[0,0,0]], "edges": [[0,1]', "invalid JSON", "line 1"),
    ("e.json", '{"nodes": [[0,0,0],[1,"a",0]], "edges": []}', "non-numeric", "nodes[1]"),
    ("e.json", '{"nodes": [[0,0,0],[1,0]], "edges": []}', "values", "nodes[1]"),
    ("e.json", '{"nodes": [[0,0,0],[1,0,0,4]], "edges": []}', "values", "nodes[1]"),
    ("e.json", '{"nodes": [[0,0,0],[1,0,NaN]], "edges": []}', "non-finite", "nodes[1]"),
    (
        "e.json",
        '{"nodes": [[0,0,0],[1,0,0]], "edges": [[0,1],[1,2]]}',
        "past the node count",
        "edges[1]",
    ),
    ("e.json", '{"nodes": [[0,0,0],[1,0,0]], "edges": [[0,-1]]}', "below 0", "edges[0]"),
    ("e.json", '{"nodes": [[0,0,0],[1,0,0]], "edges": [[0,0.5]]}', "non-integer", "edges[0]"),
    ("e.json", '{"nodes": [[0,0,0]]}', "missing key 'edges'", None),
    ("e.json", "[1, 2]", "JSON object", None),
    (
        "e.json",
        '{"format": "araneus-web", "version": 99, "nodes": [], "edges": []}',
        "version",
        None,
    ),
    (
        "e.json",
        '{"format": "araneus-web", "version": 1, "nodes": [[0,0,0]], "edges": [], '
        '"node_attrs": {"a": {"dtype": "int8", "data": [1, 2]}}}',
        "first dimension",
        "node_attrs",
    ),
    ("e.json", '{"format": "other", "nodes": [], "edges": []}', "format tag", None),
    ("e.obj", "v 0 0\n", "x y z", "line 1"),
    ("e.obj", "v 0 0 0\nv 0 a 0\n", "non-numeric", "line 2"),
    ("e.obj", "v 0 0 0\nl 1 2\n", "past the node count", "line 2"),
    ("e.obj", "v 0 0 0\nv 1 1 1\nl 0 1\n", "index 0", "line 3"),
    ("e.obj", "v 0 0 0\nl -2 1\n", "before the first vertex", "line 2"),
    ("e.obj", "v 0 0 0\nv 1 1 1\nl 1 x\n", "not an integer", "line 3"),
    ("e.obj", "v 0 0 nan\n", "non-finite", "line 1"),
    ("e.obj", "   \n", "empty", None),
    ("e.ply", "", "empty", None),
    ("e.ply", "plx\n", "not a PLY", None),
    ("e.ply", PLY_HEAD.replace("end_header\n", ""), "end_header", None),
    ("e.ply", PLY_HEAD + "0 0 0\n1 1 1\n", "ends after 0 of 1", "element 'edge'"),
    ("e.ply", PLY_HEAD + "0 0 0\n1 1\n0 1\n", "values", "line 12"),
    ("e.ply", PLY_HEAD + "0 0 0\n1 x 1\n0 1\n", "non-numeric", "line 12"),
    ("e.ply", PLY_HEAD + "0 0 0\n1 1 1\n0 2\n", "past the node count", "element 'edge' row 0"),
    ("e.ply", PLY_HEAD + "0 0 0\n1 1 1\n0 1.5\n", "integer", "line 13"),
    ("e.ply", PLY_HEAD + "0 0 0\nnan 1 1\n0 1\n", "non-finite", "element 'vertex' row 1"),
    (
        "e.ply",
        PLY_HEAD.replace("ascii", "binary_little_endian") + "\x00" * 10,
        "truncated",
        "element 'vertex'",
    ),
    ("e.ply", PLY_HEAD.replace("ascii", "ebcdic"), "unknown PLY format", "header line 2"),
    (
        "e.ply",
        PLY_HEAD.replace("property float y", "property quad y"),
        "bad property",
        "header line 5",
    ),
    (
        "e.ply",
        PLY_HEAD.replace("property float x\n", "") + "0 0\n1 1\n0 1\n",
        "no property 'x'",
        None,
    ),
    ("e.xyz", "#ID x y z\n", "no node rows", None),
    ("e.xyz", "0 1 2 3\n1 1 2\n", "values", "line 2"),
    ("e.xyz", "0 1 2 3 4 5\n", "values", "line 1"),
    ("e.xyz", "0 1 q 3\n", "non-numeric", "line 1"),
    ("e.graphml", "<graphml><graph><node id='a'/></graph></graphml>", "no 'x'", "node 'a'"),
    ("e.graphml", "<graphml><graph><node id='a'/></gr", "not a readable GraphML", None),
]
BAD_CSV = [
    ("id,x,y,z\n1,0,0,0\n2,1,x,0\n", "source,target\n1,2\n", "non-numeric", "line 3"),
    ("id,x,y,z\n1,0,0,0\n2,1,1,0\n", "source,target\n1,3\n", "unknown node id '3'", "line 2"),
    ("id,x,y,z\n1,0,0,0\n2,1,1\n", "source,target\n1,2\n", "3 columns", "line 3"),
    ("id,x,y,z\n1,0,0,0\n1,1,1,0\n", "source,target\n1,2\n", "duplicate node id", "line 3"),
    ("id,x,y,z\n1,0,0,nan\n", "source,target\n", "non-finite", "line 2"),
    ("", "source,target\n", "empty", None),
    ("id,a,b\n1,2,3\n", "source,target\n", "no x column", "header"),
    ("id,x,y,z\n1,0,0,0\n", "s,t\n", "no edge source column", "header"),
    (
        "id,x,y,z\n1,0,0,0\n2,0,0,1\n",
        "source,target,thread\n1,2,silk\n",
        "unknown thread type",
        "line 2",
    ),
]


@pytest.mark.parametrize("name,content,problem,where", BAD)
def test_malformed_files(tmp_path, name, content, problem, where):
    path = tmp_path / name
    path.write_bytes(content.encode())
    with pytest.raises(FormatError) as info:
        read_web(path)
    msg = str(info.value)
    assert name in msg and problem in msg, msg
    if where:
        assert where in (info.value.where or ""), msg


@pytest.mark.parametrize("nodes,edges,problem,where", BAD_CSV)
def test_malformed_csv(tmp_path, nodes, edges, problem, where):
    (tmp_path / "e.nodes.csv").write_text(nodes)
    (tmp_path / "e.edges.csv").write_text(edges)
    with pytest.raises(FormatError) as info:
        read_web(tmp_path / "e.csv")
    msg = str(info.value)
    assert ".csv" in msg and problem in msg, msg
    if where:
        assert where in (info.value.where or ""), msg


def test_csv_missing_partner(tmp_path):
    (tmp_path / "e.nodes.csv").write_text("id,x,y,z\n")
    with pytest.raises(FormatError, match=r"e\.edges\.csv.*no such file"):
        read_web(tmp_path / "e.nodes.csv")


MAT_BAD = [
    ({"nodes": np.ones((4, 2)), "edges": np.array([[0, 2]])}, "below 1", "variable 'edges' row 1"),
    (
        {"nodes": np.ones((4, 2)), "edges": np.array([[1, 5]])},
        "past the node count",
        "variable 'edges' row 1",
    ),
    ({"node": np.ones((4, 2)), "edges": np.array([[1, 2]])}, "missing variable 'nodes'", None),
    ({"nodes": np.ones((4, 2))}, "missing variable 'edges'", None),
    ({"nodes": np.ones((4, 4)), "edges": np.array([[1, 2]])}, "N x 2 or N x 3", "variable 'nodes'"),
    ({"nodes": np.ones((4, 3)), "edges": np.array([[1, 2, 3]])}, "E x 2", "variable 'edges'"),
    ({"nodes": np.array(["abc"]), "edges": np.array([[1, 2]])}, "numeric", "variable 'nodes'"),
    (
        {"nodes": np.ones((4, 2)), "edges": np.array([[1, 2.5]])},
        "non-integer",
        "variable 'edges' row 1",
    ),
    (
        {"nodes": np.array([[0, 0], [np.nan, 1]]), "edges": np.array([[1, 2]])},
        "non-finite",
        "variable 'nodes' row 2",
    ),
]


@pytest.mark.parametrize("variables,problem,where", MAT_BAD)
def test_malformed_mat(tmp_path, variables, problem, where):
    scipy.io.savemat(tmp_path / "e.mat", variables)
    with pytest.raises(FormatError) as info:
        read_web(tmp_path / "e.mat")
    assert problem in str(info.value) and "e.mat" in str(info.value)
    if where:
        assert where in (info.value.where or "")


@pytest.mark.parametrize("suffix", [".json", ".csv", ".graphml", ".mat", ".ply", ".obj", ".xyz"])
@pytest.mark.parametrize("seed", [0, 1])
def test_binary_garbage_and_missing(tmp_path, suffix, seed):
    data = np.random.default_rng(seed).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    target = tmp_path / ("g.nodes.csv" if suffix == ".csv" else f"g{suffix}")
    target.write_bytes(data)
    if suffix == ".csv":
        (tmp_path / "g.edges.csv").write_bytes(data)
    with pytest.raises(FormatError, match="g\\."):
        read_web(target)
    with pytest.raises(FormatError, match="no such file"):
        read_web(tmp_path / f"missing{suffix}")


def test_truncated_binary_ply(tmp_path):
    web = WebGraph(np.random.default_rng(0).random((50, 3)), [[i, i + 1] for i in range(49)])
    write_web(web, tmp_path / "w.ply")
    data = (tmp_path / "w.ply").read_bytes()
    (tmp_path / "t.ply").write_bytes(data[:-7])
    with pytest.raises(FormatError, match="truncated") as info:
        read_web(tmp_path / "t.ply")
    assert info.value.where == "element 'edge'"


def test_truncated_json_every_cut(tmp_path):
    web = WebGraph(np.arange(12.0).reshape(4, 3), [[0, 1], [2, 3]])
    write_web(web, tmp_path / "w.json")
    text = (tmp_path / "w.json").read_text()
    for cut in range(0, len(text) - 2, 7):
        (tmp_path / "t.json").write_text(text[:cut])
        with pytest.raises(FormatError):
            read_web(tmp_path / "t.json")


# ----------------------------------------------------------------------------- CLI
def _cli(*args: str) -> int:
    from araneus.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_info_and_convert(tmp_path, capsys):
    src = _write_quirky(tmp_path, "q.json")
    assert _cli("info", str(src), "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nodes"] == 4 and out["edges"] == 2 and out["components"] == 2
    assert out["read"]["duplicates_dropped"] == 2 and out["read"]["self_loops_dropped"] == 1
    assert out["degree"]["histogram"] == {"0": 1, "1": 2, "2": 1}
    assert _cli("info", str(src)) == 0
    text = capsys.readouterr().out
    assert "duplicates" in text and "self-loops" in text and "edge length" in text
    assert (
        _cli("convert", str(src), str(tmp_path / "o.out"), "--to", "ply-ascii", "--drop-isolated")
        == 0
    )
    assert "1 isolated" in capsys.readouterr().out
    web = read_web(tmp_path / "o.out", format="ply")
    assert web.n_nodes == 3 and web.n_edges == 2
    assert _cli("convert", str(src), str(tmp_path / "o.foo")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "o.foo" in err and "Traceback" not in err
    (tmp_path / "bad.json").write_text("{")
    assert _cli("info", str(tmp_path / "bad.json")) == 2
    assert "bad.json" in capsys.readouterr().err
    assert not (tmp_path / "o.foo").exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


# ------------------------------------------------------------- shared attribute/meta helpers
def test_graphml_2d_attr_roundtrip_and_gappy_components(tmp_path):
    import networkx as nx

    web = WebGraph(np.eye(3), [[0, 1], [1, 2]], node_attrs={"uv": np.arange(6.0).reshape(3, 2)})
    out = _roundtrip(web, "w.graphml")
    assert np.array_equal(out.node_attrs["uv"], web.node_attrs["uv"])
    g = nx.Graph()
    for i in range(2):
        g.add_node(i, x=float(i), y=0.0, **{"a[0]": 1.0, "a[2]": 2.0})
    g.add_edge(0, 1)
    nx.write_graphml(g, tmp_path / "g.graphml")
    with pytest.raises(FormatError, match=r"a\[k\] must be numbered"):
        read_web(tmp_path / "g.graphml")


@pytest.mark.parametrize("meta_text", ["{not json", "[1, 2]"])
def test_meta_that_is_not_a_json_object(tmp_path, meta_text):
    path = tmp_path / "m.ply"
    path.write_text(
        f"ply\nformat ascii 1.0\ncomment araneus-meta {meta_text}\n"
        "element vertex 1\nproperty double x\nproperty double y\nend_header\n0 0\n"
    )
    with pytest.raises(FormatError, match="meta"):
        read_web(path)


# ------------------------------------------------------------- input hardening (issue 22)
def _ply(body: str, v1: str = "int", v2: str = "int", n_edges: int = 1) -> str:
    return (
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty double x\nproperty double y\n"
        f"property double z\nelement edge {n_edges}\nproperty {v1} vertex1\n"
        f"property {v2} vertex2\nend_header\n0 0 0\n1 0 0\n0 1 0\n" + body
    )


def test_csv_blank_node_file_and_nan_ids(tmp_path):
    (tmp_path / "b.nodes.csv").write_text('"  "\n')
    (tmp_path / "b.edges.csv").write_text("")
    with pytest.raises(FormatError, match="no header line"):
        read_web(tmp_path / "b.csv")
    (tmp_path / "n.nodes.csv").write_text("id,x,y,z\nnan,0,0,0\nnan,1,0,0\n")
    (tmp_path / "n.edges.csv").write_text("source,target\n")
    with pytest.raises(FormatError, match="duplicate node id 'nan'") as info:
        read_web(tmp_path / "n.csv")
    assert info.value.where == "line 3"
    # non-finite and huge ids are compared as text: 'inf' matches 'inf', not '1e999'
    (tmp_path / "i.nodes.csv").write_text("id,x,y,z\ninf,0,0,0\n1e999,1,0,0\n7,2,0,0\n")
    (tmp_path / "i.edges.csv").write_text("source,target\ninf,7\n")
    assert read_web(tmp_path / "i.csv").edges.tolist() == [[0, 2]]


@pytest.mark.parametrize(
    "anchor", [np.array([0.0, 1.0, 0.5]), np.array([0.0, 1.0, 1.0]), np.array([0, 1, 1])]
)
def test_csv_non_boolean_anchor_round_trips(anchor):
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"anchor": anchor})
    out = _roundtrip(web, "w.csv").node_attrs["anchor"]
    assert np.array_equal(out, anchor)
    assert out.dtype.kind == ("b" if anchor.dtype.kind == "i" else "f")  # 0/1 words: bool


def test_ply_float_vertex_indices(tmp_path):
    p = tmp_path / "f.ply"
    p.write_text(_ply("0.5 1.7\n", "float", "double"))
    with pytest.raises(FormatError, match="non-integer node index") as info:
        read_web(p)
    assert info.value.where == "element 'edge' row 0"
    p.write_text(_ply("2.0 1\n", "float", "double"))
    assert read_web(p).edges.tolist() == [[1, 2]]
    web = WebGraph(np.eye(3), [[0, 1]])  # binary float indices: same check
    data = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty double x\n"
        b"property double y\nproperty double z\nelement edge 1\nproperty float vertex1\n"
        b"property float vertex2\nend_header\n"
        + web.pos.tobytes()
        + np.array([0.0, 1.5], "<f4").tobytes()
    )
    p.write_bytes(data)
    with pytest.raises(FormatError, match="non-integer"):
        read_web(p)


@pytest.mark.parametrize(
    "typ,value,bound",
    [("uchar", "258", "255"), ("ushort", "70000", "65535"), ("uint", "-1", "4294967295"),
     ("char", "200", "127"), ("int", "2147483648", "2147483647")],
)  # fmt: skip
def test_ply_ascii_integers_are_range_checked(tmp_path, typ, value, bound):
    p = tmp_path / "r.ply"
    p.write_text(_ply(f"{value} 1\n", typ, typ))
    with pytest.raises(FormatError, match=f"must be an integer in .*{bound}") as info:
        read_web(p)
    assert info.value.where == "line 14"


def test_ply_rows_past_the_declared_counts(tmp_path):
    p = tmp_path / "e.ply"
    p.write_text(_ply("0 1\n1 2\n", n_edges=0))
    with pytest.raises(FormatError, match="2 data line.* after the last element") as info:
        read_web(p)
    assert info.value.where == "line 14"
    web = WebGraph(np.eye(3), [[0, 1]])
    write_web(web, tmp_path / "b.ply")
    (tmp_path / "b.ply").write_bytes((tmp_path / "b.ply").read_bytes() + b"\x01" * 8)
    with pytest.raises(FormatError, match="8 bytes after the last element"):
        read_web(tmp_path / "b.ply")


@pytest.mark.parametrize("fmt", ["ply", "ply-ascii"])
def test_ply_meta_mentioning_end_header_round_trips(tmp_path, fmt):
    meta = {"note": "x\nend_header\nelement vertex 0", "end_header": "end_header"}
    web = WebGraph(np.eye(3), [[0, 1]], meta=meta)
    write_web(web, tmp_path / "m.ply", fmt)
    out = read_web(tmp_path / "m.ply")
    assert out.meta == meta and out.equals(web)


def test_json_absurd_string_dtype_is_refused_before_allocating(tmp_path):
    import tracemalloc

    p = tmp_path / "u.json"
    p.write_text(
        '{"format":"araneus-web","version":1,"nodes":[[0,0,0]],"edges":[],'
        '"node_attrs":{"a":{"dtype":"<U300000000","data":["x"]}}}'
    )
    assert len(p.read_bytes()) < 130
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="far more than the file") as info:
            read_web(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.where == "node_attrs['a']" and peak < 10e6  # was 2.4 GB


@pytest.mark.parametrize(
    "spec,problem",
    [
        ('{"dtype": "int8", "data": [1.7, 2.0]}', "float"),
        ('{"dtype": "int8", "data": [300, 1]}', "bad attribute data"),
        ('{"dtype": "int32", "data": [true, false]}', "bool"),
        ('{"dtype": "U3", "data": [1, 2]}', "int"),
        ('{"dtype": "U1", "data": ["ab", "c"]}', "does not fit"),
        ('{"dtype": "float32", "data": [1e300, 1]}', "overflows"),
        ('{"dtype": "O", "data": [1, 2]}', "unsupported"),
        ('{"dtype": ["a", "f8"], "data": [1, 2]}', "type name"),
        ('{"dtype": "f8", "data": [1, 2], "shape": [1, 2]}', "first dimension"),
        ('{"dtype": "f8", "data": [1, 2], "shape": [3]}', "does not fit"),
    ],
)
def test_json_attribute_data_must_match_its_dtype(tmp_path, spec, problem):
    p = tmp_path / "a.json"
    p.write_text(
        '{"format":"araneus-web","version":1,"nodes":[[0,0,0],[1,0,0]],"edges":[],'
        f'"node_attrs":{{"a":{spec}}}}}'
    )
    with pytest.raises(FormatError, match=problem):
        read_web(p)


def test_json_keeps_big_unsigned_and_2d_thread_attributes():
    m = 2
    web = WebGraph(
        np.eye(3),
        [[0, 1], [1, 2]],
        node_attrs={"id64": np.array([0, 2**64 - 1, 5], np.uint64)},
        edge_attrs={
            "thread": np.array([[1, 2], [3, 0]], np.int8),
            "force_density": np.array([1.5, -2e9]),  # issue 19's attributes
            "bridge": np.array([0, 1], np.int8),
        },
    )
    out = _roundtrip(web, "w.json")
    _same_attrs(out.node_attrs, web.node_attrs)
    _same_attrs(out.edge_attrs, web.edge_attrs)
    for name in ("w.csv", "w.ply", "w.mat", "w.graphml"):
        plain = {k: v for k, v in web.edge_attrs.items() if k != "thread"}
        back = _roundtrip(web.replace(node_attrs={}, edge_attrs=plain), name)
        assert np.array_equal(back.edge_attrs["force_density"][:m], [1.5, -2e9]), name
        assert back.edge_attrs["bridge"].tolist() == [0, 1], name


@pytest.mark.parametrize("name", ["w.ply", "w.csv", "w.graphml"])
@pytest.mark.parametrize("attr", ["x", "y", "z"])
def test_attributes_named_like_coordinates(tmp_path, name, attr):
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={attr: np.arange(3.0)})
    with pytest.raises(InputError, match=f"node attribute '{attr}' has the name of a"):
        write_web(web, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    for keeps in ("k.json", "k.mat"):  # formats without a namespace clash keep it
        assert np.array_equal(_roundtrip(web, keeps).node_attrs[attr], np.arange(3.0))


@pytest.mark.parametrize("name", ["w.json", "w.csv", "w.graphml", "w.mat", "w.ply"])
def test_long_double_attributes_are_refused(tmp_path, name):
    web = WebGraph(
        np.eye(3), [[0, 1], [1, 2]], edge_attrs={"q": np.arange(2, dtype=np.longdouble) / 3}
    )
    with pytest.raises(InputError, match="long double"):
        write_web(web, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["a\x00b", "esc\x1b", "cr\r", "lf\nx", "\ud800", " pad"])
def test_control_characters_in_text_attributes(tmp_path, value):
    labels = np.array(["ok", value, "z"])
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"label": labels})
    assert _roundtrip(web, "w.json").node_attrs["label"].tolist() == labels.tolist()
    for name in ("w.csv",) + (("w.graphml",) if value not in ("lf\nx", " pad") else ()):
        with pytest.raises(InputError, match="label"):
            write_web(web, tmp_path / name)
        assert list(tmp_path.iterdir()) == []
    for name in ("w.ply", "w.mat"):  # text attributes are not carried (documented)
        assert "label" not in _roundtrip(web, name).node_attrs
    if value in ("lf\nx", " pad"):  # XML keeps LF and blanks in element text
        assert _roundtrip(web, "w.graphml").node_attrs["label"].tolist() == labels.tolist()


def test_csv_refuses_text_that_would_read_back_as_numbers(tmp_path):
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"code": np.array(["1", "2", "3"])})
    with pytest.raises(InputError, match="would not read back"):
        write_web(web, tmp_path / "w.csv")
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"Weight": np.arange(3)})
    assert "Weight" in _roundtrip(web, "w.csv").node_attrs  # case kept
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"Anchor": np.ones(3, bool)})
    with pytest.raises(InputError, match="read back from CSV as 'anchor'"):
        write_web(web, tmp_path / "w.csv")


def test_mat_keeps_one_column_2d_attributes():
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"c": np.arange(3.0)[:, None],
                                                     "v": np.arange(3.0)})  # fmt: skip
    out = _roundtrip(web, "w.mat")
    assert out.node_attrs["c"].shape == (3, 1) and out.node_attrs["v"].shape == (3,)


def test_special_files_and_directories(tmp_path, capsys):
    with pytest.raises(FormatError, match="is a directory, not a web file"):
        read_web(tmp_path)
    with pytest.raises(FormatError, match="is a directory"):
        read_web(tmp_path, format="json")
    assert _cli("info", str(tmp_path)) == 2
    assert "is a directory" in capsys.readouterr().err
    if Path("/dev/zero").exists():
        for fmt in ("json", "ply", "mat", "graphml", "csv"):
            with pytest.raises(FormatError, match="not a regular file"):
                read_web("/dev/zero", format=fmt)
        assert _cli("info", "/dev/zero", "--format", "json") == 2
        assert "not a regular file" in capsys.readouterr().err


def test_input_size_limit(tmp_path, monkeypatch):
    web = WebGraph(np.random.default_rng(0).random((50, 3)), [[0, 1]])
    for name in ("w.json", "w.ply", "w.mat", "w.graphml", "w.obj"):
        write_web(web, tmp_path / name)
    monkeypatch.setenv("ARANEUS_MAX_INPUT_BYTES", "500")
    for name in ("w.json", "w.ply", "w.graphml", "w.obj"):
        with pytest.raises(FormatError, match="input limit"):
            read_web(tmp_path / name)
    monkeypatch.setenv("ARANEUS_MAX_INPUT_BYTES", "lots")
    with pytest.raises(InputError, match="ARANEUS_MAX_INPUT_BYTES"):
        read_web(tmp_path / "w.json")


def _mat_v5(variables: dict, compress: bool = True) -> bytes:
    import io as _io

    buf = _io.BytesIO()
    scipy.io.savemat(buf, variables, do_compression=compress)
    return buf.getvalue()


def test_mat_bomb_and_unused_variables(tmp_path, monkeypatch):
    import tracemalloc

    small = {"nodes": np.eye(3), "edges": np.array([[1.0, 2.0]])}
    junk = np.zeros((400_000, 3))  # 9.6 MB of zeros, ~10 kB compressed
    p = tmp_path / "b.mat"
    p.write_bytes(_mat_v5({**small, "junk": junk}))
    assert p.stat().st_size < 50_000
    monkeypatch.setenv("ARANEUS_MAX_INPUT_BYTES", str(1 << 20))
    tracemalloc.start()
    try:
        assert read_web(p).n_edges == 1  # 'junk' is never inflated
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2e6
    p.write_bytes(_mat_v5({"nodes": junk, "edges": small["edges"]}))
    with pytest.raises(FormatError, match="inflate past") as info:
        read_web(p)
    assert info.value.where == "variable 'nodes'"


def test_mat_crafted_type_codes_do_not_reach_scipy(tmp_path):
    """scipy's v5 reader indexes a C table with the element type code (a segfault on
    codes it does not know); araneus parses v5 itself and names the problem."""
    data = bytearray(_mat_v5({"nodes": np.eye(3), "edges": np.array([[1.0, 2.0]])}, False))
    real = data.find(struct.pack("<II", 9, 72))  # miDOUBLE data of the 3x3 'nodes'
    assert real > 0
    for code in (8, 10, 19, 255, 0x4009):
        data[real : real + 4] = struct.pack("<I", code)
        (tmp_path / "t.mat").write_bytes(bytes(data))
        with pytest.raises(FormatError, match="unknown data type") as info:
            read_web(tmp_path / "t.mat")
        assert info.value.where == "variable 'nodes'"


_MAT_DTYPES = ["f8", "f4", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "?"]


@HYP
@given(
    arrays=st.lists(
        st.tuples(st.sampled_from(_MAT_DTYPES), st.integers(0, 4), st.integers(0, 3)),
        min_size=1,
        max_size=4,
    ),
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    compress=st.booleans(),
)
def test_mat5_reader_agrees_with_scipy(arrays, text, compress):
    """The bounded v5 reader returns what scipy.io.loadmat returns on valid files."""
    import io as _io

    from araneus.io._mat5 import read_v5

    rng = np.random.default_rng(len(arrays))
    variables = {"txt": text}
    for k, (dt, r, c) in enumerate(arrays):
        variables[f"v{k}"] = (rng.random((r, c)) * 200 - 50).astype(dt)
    data = _mat_v5(variables, compress)
    ours = read_v5(Path("x.mat"), data, lambda name: True)
    ref = scipy.io.loadmat(_io.BytesIO(data), chars_as_strings=True)
    for name in variables:
        a, b = ours[name], ref[name]
        if name == "txt":
            assert "".join(a.tolist()) == "".join(np.asarray(b).ravel().tolist()), (a, b)
        else:
            assert a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b), name


def test_cli_convert_refuses_what_the_target_would_garble(tmp_path, capsys):
    web = WebGraph(np.eye(3), [[0, 1]], node_attrs={"x": np.arange(3.0)})
    write_web(web, tmp_path / "w.json")
    for out in ("o.ply", "o.csv", "o.graphml"):
        assert _cli("convert", str(tmp_path / "w.json"), str(tmp_path / out)) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: node attribute 'x'") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json"]
    assert _cli("convert", str(tmp_path / "w.json"), str(tmp_path / "o.mat")) == 0
