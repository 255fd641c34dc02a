"""Property tests of the checkpoint reader: mutated valid checkpoints (JSON values, JSON text,
weight bytes) either load and then sample fine, or fail with an araneus error. Also the
cases the issue found, one by one."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _models_synth import synth_dataset
from araneus.errors import AraneusError, FormatError, ModelError
from araneus.models import get_model, load_model
from araneus.models.train import TrainConfig
from araneus.web import WebGraph

TINY = {
    "sparse": {"width": 16, "depth": 1, "heads": 2},
    "discrete": {"width": 16, "depth": 1, "heads": 2, "edge_width": 4},
    "autoregressive": {"width": 16, "depth": 1, "heads": 2, "mixtures": 2},
}
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(
    max_examples=int(os.environ.get("ARANEUS_FUZZ_EXAMPLES", "800")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class _Files(dict):
    def __repr__(self) -> str:  # keep hypothesis reports short
        return f"<checkpoint bytes of {', '.join(self)}>"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, tuple[bytes, bytes]]:
    """(model.json bytes, model.safetensors bytes) of a tiny trained model of each kind."""
    data = synth_dataset(24, seed=0, K=4, L=24)
    out = _Files()
    for name, kw in TINY.items():
        folder = tmp_path_factory.mktemp(name)
        m = get_model(name)(**kw)
        m.fit(data, TrainConfig(steps=2, batch_size=8, warmup=1, progress=False))
        m.save(folder)
        out[name] = (
            (folder / "model.json").read_bytes(),
            (folder / "model.safetensors").read_bytes(),
        )
    return out


def _load_and_sample(folder: Path) -> None:
    """The property: an araneus error on loading, or a model that samples (or, for finite
    but absurd weights that overflow in the network, says so as an araneus error)."""
    try:
        model = load_model(folder)
    except AraneusError:
        return
    try:
        webs = model.sample({}, 2, seed=0, steps=2)  # barely trained: the webs may be poor
        one = model.sample({"num_nodes": min(6, model.max_nodes)}, 1, seed=1, steps=2)
    except ModelError as exc:
        assert "non-finite" in str(exc), exc
        return
    assert len(webs) == 2 and all(isinstance(w, WebGraph) for w in webs)
    assert len(one) == 1


def _paths(obj, prefix=()):
    """Every path (tuple of keys/indices) into a JSON document, containers included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:8]):
            yield from _paths(v, (*prefix, i))


def _replace(doc, path, value, delete=False):
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2, 3, 1e30, -1e30, 10**30, 2**31, 2**63, 1e-300, 0.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["1", "", "sparse", "discrete", "autoregressive", "araneus-model"]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=9),
    st.lists(st.integers(-3, 100), max_size=9),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _json_case(checkpoints, tmp_path, name, data):
    text, weights = checkpoints[name]
    doc = json.loads(text)
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths), label="path")
    value = data.draw(JSON_VALUES, label="value")
    delete = data.draw(st.booleans(), label="delete")
    doc = _replace(doc, path, value, delete)
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    _load_and_sample(folder)


def _bytes_case(checkpoints, tmp_path, name, data, which):
    text, weights = checkpoints[name]
    blob = bytearray(text if which == "json" else weights)
    kind = data.draw(st.sampled_from(["flip", "truncate", "nan", "splice"]), label="kind")
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 4), label="n")):
            i = data.draw(st.integers(0, len(blob) - 1), label="at")
            blob[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    elif kind == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1), label="len")]
    elif kind == "nan":  # a float32 in the data area set to NaN / inf / huge
        head = 8 + struct.unpack("<Q", bytes(blob[:8]))[0] if which == "weights" else 0
        i = data.draw(st.integers(head, max(head, len(blob) - 4)), label="at")
        i -= (i - head) % 4
        v = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, 3e38]), label="v")
        blob[i : i + 4] = struct.pack("<f", v)
    else:
        i = data.draw(st.integers(0, len(blob)), label="at")
        blob[i:i] = data.draw(st.binary(min_size=1, max_size=16), label="junk")
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_bytes(bytes(blob) if which == "json" else text)
    (folder / "model.safetensors").write_bytes(bytes(blob) if which == "weights" else weights)
    _load_and_sample(folder)


@pytest.mark.parametrize("name", list(TINY))
@FAST
@given(data=st.data())
def test_mutated_json_values(checkpoints, tmp_path, name, data):
    _json_case(checkpoints, tmp_path, name, data)


@pytest.mark.parametrize("which", ["json", "weights"])
@pytest.mark.parametrize("name", list(TINY))
@FAST
@given(data=st.data())
def test_mutated_bytes(checkpoints, tmp_path, name, which, data):
    _bytes_case(checkpoints, tmp_path, name, data, which)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TINY))
@SLOW
@given(data=st.data())
def test_mutated_json_values_many(checkpoints, tmp_path, name, data):
    _json_case(checkpoints, tmp_path, name, data)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["json", "weights"])
@pytest.mark.parametrize("name", list(TINY))
@SLOW
@given(data=st.data())
def test_mutated_bytes_many(checkpoints, tmp_path, name, which, data):
    _bytes_case(checkpoints, tmp_path, name, data, which)


# ------------------------------------------------------------------ the issue's cases
ISSUE_CASES = [
    ("version", "1", "version"),
    ("config.band", math.inf, "config.band"),
    ("max_degree", 1e30, "max_degree"),
    ("config.self_condition", 1e30, "config.self_condition"),
    ("config.parent_head", -math.inf, "config.parent_head"),
    ("config.components", None, "config.components"),
    ("scaler.lo", [1e308, 0, 0, 0, 0, 0, 0], "scaler"),
    ("scaler.lo", "x", "scaler.lo"),
    ("scaler.pos_scale", 0.0, "pos_scale"),
    ("config.width", 10**9, "width"),
    ("config.depth", 2**31 - 1, "depth"),
    ("config.sample_steps", 10**8, "sample_steps"),
    ("max_nodes", 10**6, "max_nodes"),
    ("feature_names", ["a"], "feature_names"),
    ("model", "nope", "unknown model"),
    ("config", None, "config"),
]


@pytest.mark.parametrize("key,value,match", ISSUE_CASES)
def test_issue_json_values_are_named(checkpoints, tmp_path, key, value, match):
    name = "discrete" if "band" in key or "components" in key or "parent_head" in key else "sparse"
    text, weights = checkpoints[name]
    doc = json.loads(text)
    parts = key.split(".")
    _replace(doc, tuple(parts), value)
    (tmp_path / "model.json").write_text(json.dumps(doc))
    (tmp_path / "model.safetensors").write_bytes(weights)
    with pytest.raises(FormatError, match=match) as err:
        load_model(tmp_path)
    assert "model.json" in str(err.value)


def _weights_with(tmp_path, checkpoints, change):
    import torch
    from safetensors.torch import load_file, save_file

    text, weights = checkpoints["sparse"]
    (tmp_path / "model.json").write_bytes(text)
    (tmp_path / "model.safetensors").write_bytes(weights)
    w = load_file(str(tmp_path / "model.safetensors"))
    change(w, torch)
    save_file(w, str(tmp_path / "model.safetensors"))


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda w, t: w.__setitem__("prior.counts", t.zeros(0, dtype=t.int64)), "prior.counts"),
        (lambda w, t: w.__setitem__("prior.lengths", t.zeros(0)), "prior.lengths"),
        (lambda w, t: w["prior.lengths"].fill_(-1.0), "prior.lengths"),
        (lambda w, t: w.pop("prior.lengths"), "prior.lengths"),
        (lambda w, t: w.__setitem__("prior.lengthz", w.pop("prior.lengths")), "lacks"),
        (lambda w, t: w["prior.counts"].fill_(10**6), "prior.counts"),
        (lambda w, t: next(v for k, v in w.items() if k.startswith("net.")).fill_(float("nan")),
         "NaN"),
        (lambda w, t: w.pop(next(k for k in w if k.startswith("net."))), "lack"),
        (lambda w, t: w.__setitem__("net.extra", t.zeros(3)), "lacks"),
    ],
)
def test_issue_weight_values_are_named(checkpoints, tmp_path, change, match):
    _weights_with(tmp_path, checkpoints, change)
    with pytest.raises(FormatError, match=match) as err:
        load_model(tmp_path)
    assert "model.safetensors" in str(err.value)


def test_deep_json_and_bad_utf8(tmp_path, checkpoints):
    (tmp_path / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "model.safetensors").write_bytes(checkpoints["sparse"][1])
    with pytest.raises(FormatError, match="model.json"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(FormatError, match="model.json"):
        load_model(tmp_path)


def test_shipped_weights_pass_the_checks():
    from araneus.models import load_pretrained, pretrained_models

    for name in pretrained_models():
        assert load_pretrained(name).net is not None
