"""Model checkpoints: where they live, how they are written, and the validating reader.

A checkpoint is a pair ``model.json`` (model name, config, feature scaler, shapes, training
summary) + ``model.safetensors`` (network weights, float32, and the node-count prior), in a
folder or as ``STEM.json`` + ``STEM.safetensors``. The pair is written as one unit
(:func:`araneus._util.atomic_outputs`): a killed writer leaves the old pair, the new pair or
a pair with a member missing, never a mix. A training run folder also holds
``checkpoints/step-NNNNNNNNN/`` folders (see :mod:`araneus.models.train_state`); a run folder whose
own pair is incomplete is read from its newest complete step.

Reading checks everything before a network is built: JSON types (no bool for an int, no
``Infinity``), ranges and cross-field consistency (feature names, scaler ranges, node and
degree limits), the model config (its own validation), the weight file's tensor names,
dtypes and shapes against the network the config describes (built on torch's ``meta``
device, so an absurd config costs no memory), and finiteness of every weight. Each problem
is a :class:`~araneus.errors.FormatError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_outputs
from ..errors import AraneusError, FormatError
from .conditioning import FeatureScaler, NodeCountPrior

CHECKPOINT_FORMAT = "araneus-model"
CHECKPOINT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
#: Sub-folder of a run folder holding one folder per training checkpoint.
CHECKPOINTS_DIR = "checkpoints"
STEP_RE = re.compile(r"^step-(\d{9})$")

#: Largest web (nodes) a checkpoint may describe: sampling costs grow with its square.
MAX_NODES = 4096
#: Largest magnitude of an integer or float setting in a checkpoint's JSON.
MAX_INT = 2**31 - 1
MAX_FLOAT = 1e12
#: Largest number of conditioning features.
MAX_FEATURES = 256
#: Largest JSON document accepted as a checkpoint (bytes).
MAX_JSON_BYTES = 64 * 2**20


# ----------------------------------------------------------------------------- layout
def step_dirs(run: str | Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of the checkpoint folders of a run, oldest first (complete ones
    only: a folder gets its ``step-N`` name by a rename after everything in it is written)."""
    d = Path(run) / CHECKPOINTS_DIR
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = STEP_RE.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out)


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """(json, weights) paths of a checkpoint.

    A path ending in ``.json`` or ``.safetensors`` names a pair ``STEM.json`` +
    ``STEM.safetensors``. A folder holds ``model.json`` + ``model.safetensors``; in a
    training run folder whose own pair is incomplete (a writer was killed between its two
    renames), the newest step folder that has both is used.
    """
    p = Path(path)
    if p.suffix in (".json", ".safetensors"):
        return p.with_suffix(".json"), p.with_suffix(".safetensors")
    j, w = p / CONFIG_FILE, p / WEIGHTS_FILE
    if not (j.is_file() and w.is_file()):
        for _, d in reversed(step_dirs(p)):
            if (d / CONFIG_FILE).is_file() and (d / WEIGHTS_FILE).is_file():
                return d / CONFIG_FILE, d / WEIGHTS_FILE
    return j, w


# ----------------------------------------------------------------------------- writing
def write_checkpoint(path: str | Path, meta: dict, tensors: dict) -> None:
    """Write the pair for ``path`` as one unit (weights first, the JSON last)."""
    from safetensors.torch import save_file

    cfg_path, w_path = checkpoint_paths_for_write(path)
    text = json.dumps(meta, indent=1, default=_json_default)
    with atomic_outputs([w_path, cfg_path]) as (tw, tj):
        save_file(tensors, str(tw))
        tj.write_text(text, encoding="utf-8")


def checkpoint_paths_for_write(path: str | Path) -> tuple[Path, Path]:
    """(json, weights) paths that :func:`write_checkpoint` writes for ``path``."""
    p = Path(path)
    if p.suffix in (".json", ".safetensors"):
        return p.with_suffix(".json"), p.with_suffix(".safetensors")
    return p / CONFIG_FILE, p / WEIGHTS_FILE


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


# ----------------------------------------------------------------------------- JSON checks
def read_checkpoint_json(path: str | Path) -> dict:
    """Read the JSON half of a checkpoint and check its header (format, version, model)."""
    cfg_path, _ = checkpoint_paths(path)
    if cfg_path.is_dir():
        raise FormatError(cfg_path, "is a folder, not a checkpoint JSON")
    if not cfg_path.is_file():
        raise FormatError(cfg_path, "no model checkpoint here (missing model.json)")
    try:
        if cfg_path.stat().st_size > MAX_JSON_BYTES:
            raise FormatError(cfg_path, f"checkpoint JSON is over {MAX_JSON_BYTES >> 20} MiB")
        text = cfg_path.read_text(encoding="utf-8")
        meta = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(cfg_path, f"cannot read checkpoint JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise FormatError(
            cfg_path, f"not an araneus model checkpoint (format != {CHECKPOINT_FORMAT!r})"
        )
    version = meta.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatError(cfg_path, f"'version' must be a positive integer, got {version!r}")
    if version > CHECKPOINT_VERSION:
        raise FormatError(cfg_path, f"checkpoint version {version} is newer than supported")
    if not isinstance(meta.get("model"), str):
        raise FormatError(cfg_path, f"'model' must be a model name, got {meta.get('model')!r}")
    return meta


def _typed(typ: Any, value: Any, key: str) -> Any:
    """``value`` from JSON, checked strictly against the annotation ``typ``."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _typed(inner[0], value, key)
    if origin in (tuple, list):
        if not isinstance(value, list) or len(value) > 1024:
            raise ValueError(f"{key} must be a list, got {value!r:.60}")
        vals = [_typed(args[0] if args else float, v, key) for v in value]
        return tuple(vals) if origin is tuple else vals
    if typ is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r:.60}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INT:
            raise ValueError(f"{key} must be an integer of at most {MAX_INT}, got {value!r:.60}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a number, got {value!r:.60}")
        if not math.isfinite(value) or abs(value) > MAX_FLOAT:
            raise ValueError(f"{key} must be a finite number of at most {MAX_FLOAT:g}, got {value}")
        return float(value)
    if typ is str:
        if not isinstance(value, str) or len(value) > 200:
            raise ValueError(f"{key} must be a short string, got {value!r:.60}")
        return value
    raise ValueError(f"{key}: unsupported setting type {typ}")


def read_config(cls: Any, meta: dict, cfg_path: Path) -> Any:
    """The model config of a checkpoint: strict JSON types, then the config's own checks.
    Settings missing from older checkpoints take ``cls.legacy_config``."""
    raw = meta.get("config")
    if not isinstance(raw, dict):
        raise FormatError(cfg_path, f"'config' must be an object, got {raw!r:.60}")
    hints = typing.get_type_hints(cls.Config)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise FormatError(cfg_path, f"config has unknown setting(s) {unknown} for {cls.name}")
    values = {**cls.legacy_config}
    try:
        for k, v in raw.items():
            values[k] = _typed(hints[k], v, f"config.{k}")
        cfg = dataclasses.replace(cls.Config(), **values)
    except (AraneusError, ValueError, TypeError, OverflowError) as exc:
        raise FormatError(cfg_path, f"config: {exc}") from None
    for k, sentinel in getattr(cls, "fitted_settings", {}).items():
        if k == "position_unit" and not getattr(cfg, "scale_free", True):
            continue
        if hasattr(cfg, k) and getattr(cfg, k) == sentinel:
            raise FormatError(
                cfg_path, f"config.{k}={sentinel!r} means 'fit from the data': a trained "
                "checkpoint holds the fitted value",
            )
    return cfg


def _number_list(d: dict, key: str, n: int, where: str) -> np.ndarray:
    v = d.get(key)
    if not isinstance(v, list) or len(v) != n:
        raise ValueError(f"{where}.{key} must be a list of {n} numbers")
    return np.array([_typed(float, x, f"{where}.{key}") for x in v], dtype=np.float64)


def read_scaler(meta: dict, cfg_path: Path) -> FeatureScaler:
    """The feature scaler of a checkpoint, checked (names, finite ordered ranges, scale)."""
    d = meta.get("scaler")
    try:
        if not isinstance(d, dict):
            raise ValueError(f"'scaler' must be an object, got {d!r:.60}")
        names = d.get("names")
        if not isinstance(names, list) or not 1 <= len(names) <= MAX_FEATURES:
            raise ValueError(f"scaler.names must be a list of 1 to {MAX_FEATURES} names")
        if not all(isinstance(s, str) and 0 < len(s) <= 100 for s in names):
            raise ValueError("scaler.names must hold non-empty feature names")
        if len(set(names)) != len(names):
            raise ValueError("scaler.names has duplicates")
        f = len(names)
        lo, hi = _number_list(d, "lo", f, "scaler"), _number_list(d, "hi", f, "scaler")
        if (lo > hi).any():
            i = int(np.flatnonzero(lo > hi)[0])
            raise ValueError(f"scaler.lo > scaler.hi for feature {names[i]!r}")
        pos_scale = _typed(float, d.get("pos_scale"), "scaler.pos_scale")
        if not 1e-9 <= pos_scale <= 1e9:
            raise ValueError(f"scaler.pos_scale must be in [1e-9, 1e9], got {pos_scale}")
        log = d.get("log", [False] * f)
        if not isinstance(log, list) or len(log) != f or not all(isinstance(b, bool) for b in log):
            raise ValueError(f"scaler.log must be a list of {f} true/false flags")
    except ValueError as exc:
        raise FormatError(cfg_path, str(exc)) from None
    fnames = meta.get("feature_names", names)
    if fnames != names:
        raise FormatError(cfg_path, "feature_names differ from scaler.names")
    return FeatureScaler(tuple(names), lo, hi, pos_scale, np.array(log, dtype=bool))


def read_sizes(meta: dict, cfg_path: Path) -> tuple[int, int]:
    """``max_nodes`` in [2, MAX_NODES] and ``max_degree`` in [1, max_nodes - 1]."""
    n, k = meta.get("max_nodes"), meta.get("max_degree")
    for key, v, lo, hi in (("max_nodes", n, 2, MAX_NODES), ("max_degree", k, 1, None)):
        hi = hi if hi is not None else max(int(n) - 1, 1)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise FormatError(cfg_path, f"'{key}' must be an integer in [{lo}, {hi}], got {v!r:.60}")
    return int(n), int(k)


def read_extras(meta: dict, cfg_path: Path) -> tuple[dict, dict | None]:
    """Training summary (an object; ``step`` a non-negative integer) and dataset normaliser."""
    train = meta.get("train") or {}
    if not isinstance(train, dict):
        raise FormatError(cfg_path, f"'train' must be an object, got {train!r:.60}")
    step = train.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise FormatError(cfg_path, f"train.step must be a non-negative integer, got {step!r:.60}")
    norm = meta.get("dataset_normaliser")
    if norm is not None and not isinstance(norm, dict):
        raise FormatError(cfg_path, f"'dataset_normaliser' must be an object, got {norm!r:.60}")
    return train, norm


# ----------------------------------------------------------------------------- weights
_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
_INT_DTYPES = ("I8", "I16", "I32", "I64", "U8", "U16", "U32")


def _header(w_path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{name: (dtype, shape)} from a safetensors header, without reading the data."""
    from safetensors import SafetensorError, safe_open

    if not w_path.is_file():
        raise FormatError(w_path, "cannot read weights: no such file")
    try:
        with safe_open(str(w_path), framework="pt") as fh:
            out = {}
            for k in fh.keys():
                sl = fh.get_slice(k)
                out[k] = (str(sl.get_dtype()), tuple(int(s) for s in sl.get_shape()))
            return out
    except (OSError, SafetensorError, ValueError, RuntimeError) as exc:
        raise FormatError(w_path, f"cannot read weights: {exc}") from None


def _expect(head: dict, key: str, dtypes: tuple[str, ...], shape: tuple, w_path: Path) -> None:
    if key not in head:
        raise FormatError(w_path, f"weights lack tensor {key!r}")
    dt, sh = head[key]
    if dt not in dtypes:
        raise FormatError(w_path, f"tensor {key!r} has dtype {dt}, expected one of {dtypes}")
    if sh != shape:
        raise FormatError(w_path, f"tensor {key!r} has shape {list(sh)}, expected {list(shape)}")


def check_weight_layout(model: Any, w_path: Path) -> None:
    """Check the weight file's tensors against the network ``model``'s config describes
    (built on the ``meta`` device: no memory used) and the prior's expected layout."""
    import torch

    head = _header(w_path)
    try:
        with torch.device("meta"):
            model.build_net()
        expected = {f"net.{k}": tuple(v.shape) for k, v in model.net.state_dict().items()}
    except (AraneusError, RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise FormatError(w_path, f"the config does not describe a network: {exc}") from None
    finally:
        model.net = None
    for k, shape in expected.items():
        _expect(head, k, _FLOAT_DTYPES, shape, w_path)
    known = set(expected) | {"prior.counts", "prior.features", "prior.lengths"}
    extra = sorted(k for k in head if k not in known)
    if extra:
        raise FormatError(w_path, f"weights hold tensors the model lacks: {extra[:3]}")
    if getattr(model.config, "scale_free", False) and "prior.lengths" not in head:
        raise FormatError(w_path, "weights lack tensor 'prior.lengths' (web scales of a "
                          "scale-free model)")
    if "prior.counts" not in head:
        raise FormatError(w_path, "weights lack tensor 'prior.counts'")
    shape = head["prior.counts"][1]
    if len(shape) != 1 or shape[0] < 1:
        raise FormatError(w_path, f"prior.counts must hold >= 1 training sample, shape {shape}")
    s = shape[0]
    _expect(head, "prior.counts", _INT_DTYPES, (s,), w_path)
    _expect(head, "prior.features", _FLOAT_DTYPES, (s, len(model.scaler.names)), w_path)
    if "prior.lengths" in head:
        _expect(head, "prior.lengths", _FLOAT_DTYPES, (s,), w_path)


def read_weights(model: Any, w_path: Path) -> dict:
    """Load the tensors (layout already checked) and check their values: finite weights,
    node counts in [1, max_nodes], positive web scales."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        w = load_file(str(w_path))
    except (OSError, SafetensorError, ValueError, RuntimeError) as exc:
        raise FormatError(w_path, f"cannot read weights: {exc}") from None
    for k, t in w.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise FormatError(w_path, f"tensor {k!r} holds NaN or infinite values")
    counts = w["prior.counts"]
    if bool((counts < 1).any()) or bool((counts > model.max_nodes).any()):
        raise FormatError(w_path, f"prior.counts must lie in [1, {model.max_nodes}] nodes")
    if "prior.lengths" in w and bool((w["prior.lengths"] <= 0).any()):
        raise FormatError(w_path, "prior.lengths must be positive")
    return w


def load_torch_checkpoint(cls: Any, path: str | Path, meta: dict) -> Any:
    """A :class:`~araneus.models.base.TorchGenerator` of class ``cls`` from a checkpoint
    whose JSON ``meta`` was read by :func:`read_checkpoint_json` (see the module docstring
    for what is checked)."""
    cfg_path, w_path = checkpoint_paths(path)
    model = cls(read_config(cls, meta, cfg_path))
    model.scaler = read_scaler(meta, cfg_path)
    model.max_nodes, model.max_degree = read_sizes(meta, cfg_path)
    model.train_info, model.dataset_normaliser = read_extras(meta, cfg_path)
    check_weight_layout(model, w_path)
    w = read_weights(model, w_path)
    lengths = w.pop("prior.lengths", None)
    model.prior = NodeCountPrior(
        w.pop("prior.features").float().numpy(),
        w.pop("prior.counts").long().numpy(),
        model.scaler.names,
        lengths=None if lengths is None else lengths.double().numpy(),
    )
    try:
        model.build_net()
        model.net.load_state_dict(
            {k[4:]: v.float() for k, v in w.items() if k.startswith("net.")}, strict=True
        )
    except (RuntimeError, ValueError) as exc:
        raise FormatError(w_path, f"weights do not match the model config: {exc}") from None
    return model
