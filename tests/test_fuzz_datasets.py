"""Property-based fuzzing of the dataset ``.npz`` loader and the reference ``.pt`` importer,
plus the listed cases of issue 22 for both.

Each is fed arbitrary bytes, mutated valid files, re-zipped archives whose members have
wrong dtypes, shapes, values or JSON headers, and reference tuples with wrong items. The
property: a :class:`~araneus.errors.FormatError` (any araneus error) or a valid
:class:`~araneus.dataset.WebDataset` whose summary and webs can be produced. Any other
exception fails. Derandomized; ``make test-slow`` runs the larger sizes.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from araneus.dataset import WebDataset, build_dataset, load_reference
from araneus.dataset.files import summary
from araneus.errors import FormatError
from fuzz_inputs import (
    assert_valid_web,
    dir_fixture,
    dump_json,
    expect_araneus,
    fuzz_settings,
    json_mutated,
    json_values,
    mutated,
    npz_bytes,
)
from synthetic_webs import grid_web

#: Examples per test in the default run and in ``make test-slow``.
N_FAST, N_SLOW = 120, 1000

fuzz_dir = dir_fixture("fuzz_data", ("npz", "pt"))


# ----------------------------------------------------------------------------- datasets
_DS_CACHE: dict[str, object] = {}


def _seed_dataset() -> WebDataset:
    if "ds" not in _DS_CACHE:
        _DS_CACHE["ds"] = build_dataset(grid_web(4, 4, 2), 6, n_min=4, n_max=8, seed=0)
    return _DS_CACHE["ds"]  # type: ignore[return-value]


def _seed_members() -> dict[str, object]:
    ds = _seed_dataset()
    header = {
        "format": "araneus.WebDataset",
        "version": 1,
        "feature_names": list(ds.feature_names),
        "meta": ds.meta,
        "normaliser": ds.normaliser.to_dict(),
    }
    members: dict[str, object] = {n: getattr(ds, n) for n in
                                  ("pos", "nbrs", "mask", "features", "split", "origin",
                                   "source_id")}  # fmt: skip
    members["header"] = json.loads(json.dumps(header))
    return members


def _load_dataset(blob: bytes, d: Path) -> None:
    path = d / "d.npz"
    path.write_bytes(blob)
    ds = expect_araneus(lambda: WebDataset.load(path))
    if ds is not None:
        assert isinstance(ds, WebDataset)
        assert isinstance(summary(ds), str)
        for w in ds.to_webs():
            assert_valid_web(w, d)


_DTYPES = ["f4", "f8", "i8", "i1", "u8", "u1", "?", "c16", "U3", "O", "V4", ">f4", "f2"]


@st.composite
def _npz_members(draw) -> tuple[dict[str, object], bool]:
    members = _seed_members()
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(members) + ["junk"]))
        how = draw(st.sampled_from(["header", "array", "drop", "raw", "values"]))
        if key == "header" or how == "header":
            hdr = dict(members["header"]) if isinstance(members["header"], dict) else {}
            members["header"] = draw(json_mutated(hdr))
        elif how == "drop" and key in members:
            del members[key]
        elif how == "raw":
            members[key] = draw(st.binary(max_size=200))
        elif how == "values" and key in members and not isinstance(members[key], bytes):
            arr = np.array(members[key], copy=True)
            if arr.size:
                flat = arr.reshape(-1)
                i = draw(st.integers(0, flat.size - 1))
                try:
                    flat[i] = draw(st.sampled_from([-2, -1, 0, 1, 3, 99, 2**31, 0.5]))
                except (OverflowError, ValueError, TypeError):
                    continue  # a value this dtype cannot hold: no mutation
                members[key] = arr
        else:
            dt = draw(st.sampled_from(_DTYPES))
            shape = draw(st.lists(st.integers(0, 5), max_size=4))
            members[key] = np.zeros(shape, dtype=dt) if dt != "O" else np.empty(shape, object)
    out = {}
    for k, v in members.items():
        if k == "header" and not isinstance(v, bytes):
            out[k] = np.frombuffer(dump_json(v), dtype=np.uint8)
        else:
            out[k] = v
    return out, draw(st.booleans())


def _valid_npz() -> bytes:
    m = _seed_members()
    m["header"] = np.frombuffer(json.dumps(m["header"]).encode(), np.uint8)
    return npz_bytes(m)


def _dataset_tests(n: int):
    @fuzz_settings(n)
    @given(blob=st.one_of(st.binary(max_size=3000),
                          st.builds(bytes.__add__, st.just(b"PK\x03\x04"), st.binary())))  # fmt: skip
    def arbitrary(blob, fuzz_dir):
        _load_dataset(blob, fuzz_dir / "npz")

    @fuzz_settings(2 * n)
    @given(data=st.data())
    def mutants(data, fuzz_dir):
        files = data.draw(mutated({"d.npz": _valid_npz()}))
        _load_dataset(files["d.npz"], fuzz_dir / "npz")

    @fuzz_settings(2 * n)
    @given(spec=_npz_members())
    def members(spec, fuzz_dir):
        m, compressed = spec
        _load_dataset(npz_bytes(m, compressed), fuzz_dir / "npz")

    return arbitrary, mutants, members


test_dataset_arbitrary_bytes, test_dataset_mutated_file, test_dataset_mutated_members = (
    _dataset_tests(N_FAST)
)
_slow_ds = _dataset_tests(N_SLOW)
test_dataset_arbitrary_bytes_slow = pytest.mark.slow(_slow_ds[0])
test_dataset_mutated_file_slow = pytest.mark.slow(_slow_ds[1])
test_dataset_mutated_members_slow = pytest.mark.slow(_slow_ds[2])


def test_valid_dataset_seed_loads(fuzz_dir):
    path = fuzz_dir / "npz" / "ok.npz"
    path.write_bytes(_valid_npz())
    ds = WebDataset.load(path)
    assert len(ds) == len(_seed_dataset()) and np.array_equal(ds.nbrs, _seed_dataset().nbrs)


# ----------------------------------------------------------------------------- reference .pt
def _reference_tuple():
    import torch

    k, lr = 3, 5
    inp = torch.zeros(2, lr, 4 + 2 * k)
    inp[0, :4, 1:4] = torch.tensor([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0]])
    inp[0, 0, 4:6] = torch.tensor([2.0, 4])
    inp[0, 1, 4:6] = torch.tensor([1.0, 3])
    inp[1, :3, 1:4] = torch.tensor([[0.0, 0, 1], [1, 0, 1], [0, 1, 1]])
    inp[1, 0, 4:6] = torch.tensor([2.0, 3])
    return [inp, torch.zeros(2, 7), [4, 3], ["a", "b"], lr, 3, k]


def _pt_bytes(items) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(tuple(items), buf)
    return buf.getvalue()


def _load_pt(blob: bytes, d: Path) -> None:
    path = d / "r.pt"
    path.write_bytes(blob)
    ds = expect_araneus(lambda: load_reference(path))
    if ds is not None:
        assert isinstance(ds, WebDataset)
        assert isinstance(summary(ds), str)
        for w in ds.to_webs():
            assert_valid_web(w, d)


@st.composite
def _pt_item(draw):
    import torch

    kind = draw(st.sampled_from(["number", "tensor", "json", "array"]))
    if kind == "number":
        return draw(st.sampled_from([float("inf"), float("nan"), -1, 0, 1, 2.5, 1e30, 10**30,
                                     True, None, "3"]))  # fmt: skip
    if kind == "json":
        return draw(json_values())
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=4)))
    dt = draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool,
                               torch.uint8, torch.complex64, torch.bfloat16]))  # fmt: skip
    fill = draw(st.sampled_from([0, 1, 3, -1, float("nan"), float("inf"), 1e30, 0.5]))
    try:
        t = torch.full(shape, fill, dtype=dt)
    except (RuntimeError, OverflowError):
        t = torch.zeros(shape, dtype=dt)
    return t if kind == "tensor" else t.numpy() if dt not in (torch.bfloat16,) else t


def _reference_tests(n: int):
    @fuzz_settings(n)
    @given(blob=st.one_of(st.binary(max_size=2000),
                          st.builds(bytes.__add__, st.just(b"PK\x03\x04"), st.binary())))  # fmt: skip
    def arbitrary(blob, fuzz_dir):
        _load_pt(blob, fuzz_dir / "pt")

    @fuzz_settings(n)
    @given(data=st.data())
    def mutants(data, fuzz_dir):
        files = data.draw(mutated({"r.pt": _pt_bytes(_reference_tuple())}))
        _load_pt(files["r.pt"], fuzz_dir / "pt")

    @fuzz_settings(2 * n)
    @given(data=st.data())
    def items(data, fuzz_dir):
        tup = _reference_tuple()
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, 7))
            if i == 7:
                tup = tup[: data.draw(st.integers(0, 6))]
            elif i < len(tup):
                tup[i] = data.draw(_pt_item())
        try:
            blob = _pt_bytes(tup)
        except (pickle.PicklingError, TypeError, RuntimeError):
            return
        _load_pt(blob, fuzz_dir / "pt")

    return arbitrary, mutants, items


test_reference_arbitrary_bytes, test_reference_mutated_file, test_reference_mutated_items = (
    _reference_tests(N_FAST)
)
_slow_pt = _reference_tests(N_SLOW)
test_reference_arbitrary_bytes_slow = pytest.mark.slow(_slow_pt[0])
test_reference_mutated_file_slow = pytest.mark.slow(_slow_pt[1])
test_reference_mutated_items_slow = pytest.mark.slow(_slow_pt[2])


# ----------------------------------------------------------------------------- listed cases
def _npz_with_header(header_text: bytes, d: Path) -> Path:
    m = _seed_members()
    m["header"] = np.frombuffer(header_text, np.uint8)
    path = d / "h.npz"
    path.write_bytes(npz_bytes(m))
    return path


def _header_doc(**changes) -> dict:
    doc = dict(_seed_members()["header"])
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    "header,problem",
    [
        (b"null", "header must be a JSON object, got null"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps(_header_doc(feature_names=None)).encode(), "'feature_names' must be a list"),
        (json.dumps(_header_doc(meta=[1, 2])).encode(), "'meta' must be a JSON object"),
        (json.dumps(_header_doc(version="1")).encode(), "unsupported dataset version"),
        (json.dumps(_header_doc(feature_names=["a"] * 7)).encode(), "distinct names"),
        (b'{"format": "araneus.WebDataset", "version": 1e999}', "unsupported dataset version"),
        (b"1" * 5000, "not JSON text"),
        (b"\xff\xfe", "not JSON text"),
    ],
)
def test_dataset_header_problems(fuzz_dir, header, problem):
    path = _npz_with_header(header, fuzz_dir / "npz")
    with pytest.raises(FormatError, match=problem) as info:
        WebDataset.load(path)
    assert info.value.where == "array 'header'"


def test_dataset_normaliser_problems(fuzz_dir):
    norm = dict(_seed_members()["header"]["normaliser"])
    for bad in ({"pos_scale": 10**400}, {"pos_scale": None}, {"feat_min": [0.0]},
                {"feat_max": ["a"] * 7}, {"feature_names": ["x"] * 7}):  # fmt: skip
        text = json.dumps(_header_doc(normaliser={**norm, **bad})).encode()
        with pytest.raises(FormatError, match="normaliser"):
            WebDataset.load(_npz_with_header(text, fuzz_dir / "npz"))


def test_dataset_flipped_bit_in_a_deflated_member(fuzz_dir):
    import zipfile

    blob = bytearray(_valid_npz())
    with zipfile.ZipFile(__import__("io").BytesIO(bytes(blob))) as zf:
        info = zf.getinfo("pos.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    path = fuzz_dir / "npz" / "flip.npz"
    for k in range(0, info.compress_size, max(1, info.compress_size // 9)):
        data = bytearray(blob)
        data[start + k] ^= 0x10
        path.write_bytes(bytes(data))
        with pytest.raises(FormatError, match="not a readable .npz dataset|array 'pos'"):
            WebDataset.load(path)


def test_dataset_bombs_are_refused_before_inflating(fuzz_dir, monkeypatch):
    import tracemalloc

    d = fuzz_dir / "npz"
    m = _seed_members()
    m["header"] = np.frombuffer(json.dumps(m["header"]).encode(), np.uint8)
    # an unused member of 80 MB zeros (80 kB compressed) is never inflated
    (d / "junk.npz").write_bytes(npz_bytes({**m, "junk": np.zeros(10_000_000)}))
    monkeypatch.setenv("ARANEUS_MAX_INPUT_BYTES", str(4 << 20))
    tracemalloc.start()
    try:
        assert len(WebDataset.load(d / "junk.npz")) == len(_seed_dataset())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8e6
    # a used member declaring more than the limit: refused from the zip directory alone
    s, length, _ = m["pos"].shape
    big = {**m, "features": np.zeros((s, 8_000_000 // s))}
    (d / "bomb.npz").write_bytes(npz_bytes(big))
    assert (d / "bomb.npz").stat().st_size < 200_000
    with pytest.raises(FormatError, match="more than the .*input limit"):
        WebDataset.load(d / "bomb.npz")
    # a .npy header whose shape disagrees with the sizes the zip declares
    hdr = np.lib.format.header_data_from_array_1_0(m["pos"])
    hdr["shape"] = (10**6, length, 3)
    raw = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(raw, hdr)
    (d / "lie.npz").write_bytes(npz_bytes({**m, "pos": raw.getvalue() + m["pos"].tobytes()}))
    with pytest.raises(FormatError, match="needs .* bytes but the archive declares") as info:
        WebDataset.load(d / "lie.npz")
    assert info.value.where == "array 'pos'"


@pytest.mark.parametrize(
    "member,value,problem",
    [
        ("split", np.full(6, 256), "split codes"),
        ("nbrs", np.zeros((6, 8, 5), np.uint64) + 2**63, "int64"),
        ("mask", np.zeros((6, 8), np.int8), "dtype int8"),
        ("pos", np.zeros((6, 8, 3), object), "dtype object"),
        ("origin", np.zeros((5, 8), np.int64), "disagrees with mask"),
        ("features", np.zeros((6, 7, 1)), "dimension"),
    ],
)
def test_dataset_array_problems(fuzz_dir, member, value, problem):
    m = _seed_members()
    m["header"] = np.frombuffer(json.dumps(m["header"]).encode(), np.uint8)
    if m[member].shape[:1] != value.shape[:1] and member != "origin":
        value = np.resize(value, m[member].shape[:1] + value.shape[1:])
    path = fuzz_dir / "npz" / "a.npz"
    path.write_bytes(npz_bytes({**m, member: value}))
    with pytest.raises(FormatError, match=problem):
        WebDataset.load(path)


def test_dataset_summary_tolerates_odd_meta(fuzz_dir):
    m = _seed_members()
    meta = {"sampler": "rw", "sources": 3, "counts": [1, 2], "bandwidth": {"a": [[[[1]]]]},
            "source": "x" * 500}  # fmt: skip
    m["header"] = np.frombuffer(json.dumps(_header_doc(meta=meta)).encode(), np.uint8)
    path = fuzz_dir / "npz" / "odd.npz"
    path.write_bytes(npz_bytes(m))
    text = summary(WebDataset.load(path))
    assert "source  " + "x" * 77 + "..." in text and "<nested dict>" in text


def test_dataset_special_paths(fuzz_dir):
    with pytest.raises(FormatError, match="is a directory"):
        WebDataset.load(fuzz_dir)
    if Path("/dev/zero").exists():
        with pytest.raises(FormatError, match="not a regular file"):
            WebDataset.load("/dev/zero")


@pytest.mark.parametrize(
    "item,value,problem",
    [
        (6, float("inf"), "max_neighbors must be a whole number"),
        (6, float("nan"), "max_neighbors must be a whole number"),
        (6, 1e30, "max_neighbors must be a whole number"),
        (6, 2.5, "max_neighbors must be a whole number"),
        (6, True, "max_neighbors must be a whole number"),
        (6, "3", "max_neighbors must be a whole number"),
        (2, [4, float("nan")], "node_number_list"),
        (2, [4.5, 3], "node_number_list"),
        (2, [4, 9], "node_number_list"),
        (0, "input", "not a numeric array"),
    ],
)
def test_reference_item_problems(fuzz_dir, item, value, problem):
    tup = _reference_tuple()
    tup[item] = value
    path = fuzz_dir / "pt" / "bad.pt"
    path.write_bytes(_pt_bytes(tup))
    with pytest.raises(FormatError, match=problem):
        load_reference(path)


def test_reference_k_argument_and_odd_labels(fuzz_dir):
    from araneus.errors import InputError

    path = fuzz_dir / "pt" / "ok.pt"
    tup = _reference_tuple()
    tup[3] = ["a", ["deep", ["er"]], 3.5]
    path.write_bytes(_pt_bytes(tup))
    ds = load_reference(path, K=2)
    assert ds.K == 2 and ds.meta["reference_import"]["labels_y"] == ["a", "<list>", "3.5"]
    for k in (float("inf"), 0, 2.5, 10**6, "3"):
        with pytest.raises(InputError, match="K must be a whole number"):
            load_reference(path, K=k)


def test_cli_dataset_info_on_a_broken_file(fuzz_dir, capsys):
    from araneus.cli import main

    path = _npz_with_header(b"null", fuzz_dir / "npz")
    with pytest.raises(SystemExit) as info:
        main(["dataset", "info", str(path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1
