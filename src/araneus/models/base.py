"""The one interface of araneus generative models, a registry, and the torch base class.

Every model implements :class:`WebGenerator` (``fit`` / ``sample`` / ``save`` / ``load``) and
registers itself by name with :func:`register_model`, so the CLI, evaluation and assembly
never special-case a model. :func:`load_model` reads a checkpoint's JSON to pick the class.

A checkpoint is a folder holding ``model.safetensors`` (the EMA weights, float32, plus the
node-count prior) and ``model.json`` (model name and config, feature names, the feature
scaler fitted on the training split, shapes, training summary), or a pair
``STEM.safetensors`` + ``STEM.json``; :mod:`araneus.models.checkpoint` writes it as one unit
and validates all of it on reading. No pickles.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._util import apply_overrides
from ..errors import ConfigError, FormatError, InputError, ModelError
from ..web import WebGraph
from .checkpoint import (  # noqa: F401 - the format names are re-exported here
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CONFIG_FILE,
    WEIGHTS_FILE,
    checkpoint_paths,
    load_torch_checkpoint,
    read_checkpoint_json,
    write_checkpoint,
)
from .conditioning import (
    Conditions,
    FeatureScaler,
    NodeCountPrior,
    check_conditions,
    condition_bounds,
    parse_conditions,
)
from .decode import DecodeStats, fit_orientation

ORIENTATION_FEATURES = ("mean_abs_dx", "mean_abs_dy", "mean_abs_dz")

_REGISTRY: dict[str, type[WebGenerator]] = {}


class WebGenerator(ABC):
    """Interface of every generative model of webs."""

    name: ClassVar[str] = ""

    @abstractmethod
    def fit(self, data: Any, cfg: Any) -> Any:
        """Train on a ``WebDataset`` with a :class:`~araneus.models.train.TrainConfig`; returns a
        :class:`~araneus.models.train.TrainResult`."""

    @abstractmethod
    def sample(
        self,
        conditions: Conditions,
        n: int,
        *,
        guidance: float = 1.0,
        seed: int | None = None,
        steps: int | None = None,
    ) -> list[WebGraph]:
        """Generate ``n`` webs for ``conditions`` (one dict for all, or a list of ``n``)."""

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Write a checkpoint folder."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path) -> WebGenerator:
        """Read a checkpoint folder written by :meth:`save`."""


def check_common_config(width: int, depth: int, heads: int, p_hide: float, p_uncond: float) -> None:
    """Validate the settings every transformer model shares (raises :class:`ConfigError`)."""
    if width < 8 or depth < 1 or heads < 1 or width % heads:
        raise ConfigError("width must be >= 8 and divisible by heads; depth, heads >= 1")
    if width > 4096 or depth > 64 or heads > 64:
        raise ConfigError(
            f"width <= 4096, depth <= 64 and heads <= 64 required (a bigger network does not "
            f"fit one GPU's memory), got {width}, {depth}, {heads}"
        )
    if not (0 <= p_hide < 1 and 0 <= p_uncond < 1):
        raise ConfigError("p_hide and p_uncond must be in [0, 1)")


def check_guidance(strength: float, sigma: float | None = None) -> None:
    """``feature_guidance`` must be in [0, 1] (0: off); ``guide_sigma`` positive."""
    if not (0 <= strength <= 1):
        raise ConfigError(f"feature_guidance must be in [0, 1] (0: off), got {strength}")
    if sigma is not None and not (sigma > 0 and np.isfinite(sigma)):
        raise ConfigError(f"guide_sigma must be positive and finite, got {sigma}")


def check_order(order: str) -> None:
    """Raise ConfigError unless ``order`` is a known node order ("bfs" or "dfs")."""
    if order not in ("bfs", "dfs"):
        raise ConfigError(f"order must be 'bfs' or 'dfs', got {order!r}")


def check_leaf_fraction(value: float) -> None:
    """``leaf_fraction`` must be -1 (fit from the training data) or in [0, 1]."""
    if not (value == -1 or 0 <= value <= 1):
        raise ConfigError(f"leaf_fraction must be -1 (from the data) or in [0, 1], got {value}")


def leaf_fraction(data: Any) -> float:
    """Fraction of the training split's nodes that are loose ends (degree 1).

    Constrained decoding closes open ends down to this fraction of a web's nodes (see
    :func:`araneus.models.decode.constrained_edges`).
    """
    train = data.subset("train")
    deg = (np.asarray(train.nbrs) >= 0).sum(-1)[np.asarray(train.mask, bool)]
    return float((deg == 1).mean()) if deg.size else 1.0


def max_canonical_offset(data: Any) -> int:
    """Largest ``|i - j|`` over the edges of a dataset's training split (>= 1); ``data``
    may also be an (S, L, K) neighbour array in some node order.

    In the canonical (BFS) node order this bounds how far back a node's neighbours lie: the
    band used by the sparse slot encoding and the autoregressive edge pointer.
    """
    nb = np.asarray(data) if isinstance(data, np.ndarray) else np.asarray(data.subset("train").nbrs)
    idx = np.arange(nb.shape[1])[None, :, None]
    return int(max(np.abs(np.where(nb >= 0, nb - idx, 0)).max(initial=1), 1))


def register_model(name: str) -> Callable[[type[WebGenerator]], type[WebGenerator]]:
    """Class decorator adding a model class to the registry under ``name``."""

    def deco(cls: type[WebGenerator]) -> type[WebGenerator]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ModelError(f"model name {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _import_builtin_models() -> None:
    import importlib

    for mod in ("sparse", "discrete", "autoregressive"):
        try:
            importlib.import_module(f"araneus.models.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"araneus.models.{mod}":
                raise


def available_models() -> list[str]:
    """Names of all registered models."""
    _import_builtin_models()
    return sorted(_REGISTRY)


def get_model(name: str) -> type[WebGenerator]:
    """The model class registered under ``name`` (:class:`InputError` listing valid names)."""
    _import_builtin_models()
    if name not in _REGISTRY:
        raise InputError(f"unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


_checkpoint_paths = checkpoint_paths  # older name


def load_model(path: str | Path) -> WebGenerator:
    """Load any registered model from a checkpoint folder (class chosen from its JSON)."""
    meta = read_checkpoint_json(path)
    name = meta["model"]
    _import_builtin_models()
    if name not in _REGISTRY:
        cfg_path, _ = checkpoint_paths(path)
        raise FormatError(
            cfg_path, f"unknown model {name!r:.60}; available: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]._load_from(path, meta)


class TorchGenerator(WebGenerator):
    """Shared implementation for torch models: config, conditioning, checkpoints, sampling.

    Subclasses define ``Config`` (a dataclass with ``__post_init__`` validation) and
    implement :meth:`build_net`, :meth:`encode`, :meth:`training_loss` and :meth:`generate`.
    ``legacy_config`` holds the values of settings added after checkpoints were first
    written, as those older checkpoints had them: a checkpoint without a key reads as that
    (other missing keys take the config default). ``fitted_settings`` names the "fit from
    the data" values that a trained checkpoint may not hold.
    """

    Config: ClassVar[type]
    legacy_config: ClassVar[dict[str, Any]] = {}
    #: Settings that ``setup`` fits from the data when they hold this value; a trained
    #: checkpoint must hold the fitted value (``position_unit`` only when scale-free).
    fitted_settings: ClassVar[dict[str, Any]] = {"leaf_fraction": -1.0}

    def __init__(self, config: Any = None, **overrides: Any):
        cfg = config if config is not None else self.Config()
        if overrides:
            cfg = apply_overrides(cfg, overrides, f"{self.name} model")
        self.config = cfg
        self.net = None
        self.scaler: FeatureScaler | None = None
        self.prior: NodeCountPrior | None = None
        self.max_nodes = 0
        self.max_degree = 0
        self.train_info: dict = {}
        self.dataset_normaliser: dict | None = None
        self.last_decode_stats = DecodeStats()

    # ----- hooks for subclasses -------------------------------------------------------
    @abstractmethod
    def build_net(self):
        """Create ``self.net`` (an ``nn.Module``) from config and data shapes."""

    @abstractmethod
    def encode(self, data: Any) -> dict:
        """Training tensors (first axis = sample) of a dataset split."""

    @abstractmethod
    def training_loss(self, net, batch: dict, generator) -> Any:
        """Scalar loss of a batch (dict of tensors on the training device)."""

    @abstractmethod
    def generate(
        self, values, present, counts, guidance: float, steps: int | None, generator, lengths=None
    ):
        """Sample and decode: normalised condition tensors (n, F), node counts (n,) and web
        scales (n,) (mean edge lengths in physical units, from the prior; models with
        their own scale model may ignore them)."""

    # ----- data -----------------------------------------------------------------------
    def setup(self, data: Any) -> None:
        """Fit the scaler and count prior on the training split and build the network
        (and a ``leaf_fraction`` of -1, where the model has one, from the data). The scaler
        maps length-like features on a log scale unless the config has a false
        ``log_conditioning``."""
        if getattr(self.config, "leaf_fraction", None) == -1:
            self.config = dataclasses.replace(self.config, leaf_fraction=leaf_fraction(data))
        train = data.subset("train")
        pos, mask, feats = np.asarray(train.pos), np.asarray(train.mask), np.asarray(train.features)
        if pos.ndim != 3 or len(pos) < 1:
            raise InputError("dataset has no training samples")
        kw = {} if getattr(self.config, "log_conditioning", True) else {"log_features": ()}
        self.scaler = FeatureScaler.fit(list(train.feature_names), feats, pos, mask, **kw)
        norm = getattr(data, "normaliser", None)
        if norm is not None and tuple(getattr(norm, "feature_names", ())) == self.scaler.names:
            # the dataset's own affine map (fitted on its training split) wins
            self.scaler.lo = np.asarray(norm.feat_min, dtype=np.float64)
            self.scaler.hi = np.asarray(norm.feat_max, dtype=np.float64)
        self.max_nodes = int(pos.shape[1])
        self.max_degree = int(np.asarray(train.nbrs).shape[2])
        self.prior = NodeCountPrior(
            self.scaler.normalise(feats),
            mask.sum(1),
            self.scaler.names,
            lengths=mean_edge_lengths(pos, np.asarray(train.nbrs)),
        )
        self.dataset_normaliser = norm.to_dict() if hasattr(norm, "to_dict") else None
        self.build_net()

    def ordered_arrays(self, data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pos, nbrs, mask)`` of a dataset (split) in the model's node order: the
        dataset's canonical breadth-first order, or depth-first along the threads where the
        config has ``order="dfs"`` (:func:`~araneus.dataset.encode.depth_first_permutation`)."""
        pos = np.asarray(data.pos, dtype=np.float64)
        mask = np.asarray(data.mask, dtype=bool)
        nbrs = np.asarray(data.nbrs)
        if getattr(self.config, "order", "bfs") == "dfs":
            from ..dataset.encode import depth_first_permutation, permute_nodes

            pos, nbrs = permute_nodes(pos, nbrs, depth_first_permutation(nbrs, mask))
        return pos, nbrs, mask

    def fit_position_unit(self, data: Any) -> float:
        """Model length unit of scale-free positions: twice the RMS of ``pos / rho`` over
        the training split (``rho`` = each sample's mean edge length), so that positions
        divided by ``rho * unit`` have about the diffusion's data spread (0.5)."""
        train = data.subset("train")
        pos, mask = np.asarray(train.pos, np.float64), np.asarray(train.mask, bool)
        rho = mean_edge_lengths(pos, np.asarray(train.nbrs))
        u = (pos / rho[:, None, None])[mask]
        return float(2.0 * np.sqrt((u**2).mean())) if len(u) else 1.0

    def batch_length(self, counts) -> int:
        """Padded length of a sampling batch: its largest node count, not ``max_nodes``.

        Padding is masked out of every attention and loss, so trimming it changes nothing
        but the work done (quadratic in the length for attention and dense edges).
        """
        return int(min(max(int(np.max(counts, initial=1)), 1), self.max_nodes))

    def position_scales(self, lengths, n: int, scale_free: bool, unit: float) -> np.ndarray:
        """(n,) physical length of one model position unit per sample: ``rho * unit`` for
        scale-free models (``lengths`` from the prior), else ``2 * pos_scale``."""
        if not scale_free:
            return np.full(n, 2.0 * self.scaler.pos_scale)
        rho = np.full(n, np.nan) if lengths is None else np.asarray(lengths, np.float64)
        if np.isnan(rho).any():
            known = self.prior.lengths if self.prior.lengths is not None else rho[~np.isnan(rho)]
            if not len(known):
                raise ModelError(f"{self.name}: no web scale known (old checkpoint?)")
            rho = np.where(np.isnan(rho), float(np.median(known)), rho)
        return np.maximum(rho, 1e-9) * unit

    def _given(self, values, present, name: str):
        """Physical value of a feature where it was requested (B,), else NaN."""
        import torch

        if name not in self.scaler.names:
            return torch.full(values.shape[:1], float("nan"), device=values.device)
        i = self.scaler.names.index(name)
        v = self.scaler.denormalise_torch(values)[:, i]
        return torch.where(present[:, i], v, torch.full_like(v, float("nan")))

    def feature_targets(self, values, present, units):
        """Targets of feature guidance (:mod:`araneus.models.guidance`), or None.

        ``units`` (n,): physical length of one model position unit per sample. Returns
        ``(names, target, given)``: the requested edge-mean features that have a
        differentiable definition, their requested values in model units (n, F) and
        which were requested (n, F); None when the config's ``feature_guidance`` is 0 or
        no such feature was requested.
        """
        import torch

        from .guidance import guided_features

        strength = float(getattr(self.config, "feature_guidance", 0.0))
        names = guided_features(self.scaler.names)
        if strength <= 0 or not names:
            return None
        u = torch.as_tensor(np.asarray(units, np.float64), device=values.device)
        phys = torch.stack([self._given(values, present, f).double() for f in names], 1)
        given = ~phys.isnan()
        if not bool(given.any()):
            return None
        return names, torch.where(given, phys / u[:, None], 0.0).float(), given

    def edge_targets(self, values, present, counts) -> np.ndarray:
        """(n,) requested edge totals for constrained decoding: ``num_edges`` if given,
        else ``mean_degree * count / 2`` if the degree is given (``counts`` may hold NaN
        for a count not known in advance); -1 where unknown."""
        e = self._given(values, present, "num_edges").cpu().numpy().astype(np.float64)
        deg = self._given(values, present, "mean_degree").cpu().numpy().astype(np.float64)
        cnt = np.asarray(counts, dtype=np.float64)
        e = np.where(np.isnan(e), deg * cnt / 2, e)
        return np.where(np.isnan(e), -1, np.rint(e)).astype(np.int64)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.scaler.names if self.scaler else ()

    def _require_net(self) -> None:
        if self.net is None or self.scaler is None:
            raise ModelError(f"{self.name} model is not trained or loaded yet")

    @staticmethod
    def device():
        """The best available torch device: CUDA if present, else CPU (never hard-coded)."""
        import torch

        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")

    # ----- interface ------------------------------------------------------------------
    def fit(self, data: Any, cfg: Any = None) -> Any:
        from .train import TrainConfig, train

        return train(self, data, cfg if cfg is not None else TrainConfig())

    def sample(
        self,
        conditions: Conditions,
        n: int,
        *,
        guidance: float = 1.0,
        seed: int | None = None,
        steps: int | None = None,
    ) -> list[WebGraph]:
        import torch

        self._require_net()
        if not np.isfinite(guidance) or guidance < 0 or guidance > 50:
            raise InputError(f"guidance must be in [0, 50], got {guidance}")
        if steps is not None and (
            isinstance(steps, bool) or int(steps) != steps or not 1 <= steps <= 1000
        ):
            raise InputError(f"steps must be an integer in [1, 1000], got {steps}")
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0:
            cells = int(n) * self.max_nodes**2
            if cells > MAX_SAMPLE_CELLS:
                most = MAX_SAMPLE_CELLS // self.max_nodes**2
                raise InputError(
                    f"n={n} webs of up to {self.max_nodes} nodes in one call would need "
                    f"n * L^2 = {cells:,} pair cells (limit {MAX_SAMPLE_CELLS:,}); sample at "
                    f"most {most:,} per call"
                )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
        vals, present = parse_conditions(conditions, n, self.scaler.names)
        self.check_conditions(vals, present)
        rng = np.random.default_rng(seed)
        counts, lengths = self.prior.draw(
            self.scaler.normalise(vals), present, vals, self.max_nodes, rng
        )
        dev = self.device()
        gen = torch.Generator(dev).manual_seed(int(rng.integers(2**62)))
        norm = torch.as_tensor(
            np.where(present, self.scaler.normalise(vals), 0.0), dtype=torch.float32, device=dev
        )
        pres = torch.as_tensor(present, device=dev)
        self.net.to(dev).eval()
        with torch.no_grad():
            try:
                webs, stats = self.generate(
                    norm, pres, counts, float(guidance), steps, gen, lengths=lengths
                )
            except (RuntimeError, InputError) as exc:  # NaN/inf made by damaged weights
                low = str(exc).lower()
                if not any(w in low for w in ("nan", "inf", "not finite")):
                    raise
                raise ModelError(
                    f"{self.name}: sampling met non-finite values ({exc}); the weights "
                    "may be damaged"
                ) from exc
        self.last_decode_stats = stats
        names = self.scaler.names
        fit = getattr(self.config, "exact", False) and getattr(
            self.config, "fit_orientation", False
        )
        out = []
        for r, w in enumerate(webs):
            req = {names[f]: float(vals[r, f]) for f in np.flatnonzero(present[r])}
            extra = {}
            if fit:
                target = np.array([req.get(k, np.nan) for k in ORIENTATION_FEATURES])
                w, angle = fit_orientation(w, target)
                extra = {"orientation_fit_deg": round(angle, 3)}
            w.meta = {
                **w.meta, "model": self.name, "requested": req, "guidance": float(guidance),
                **extra,
            }  # fmt: skip
            out.append(w)
        return out

    def condition_bounds(self) -> dict[str, tuple[float, float]]:
        """Range of each condition this model can be asked for (physical units); see
        :func:`~araneus.models.conditioning.condition_bounds`."""
        self._require_net()
        return condition_bounds(self.scaler, self.max_nodes, self.max_degree)

    def check_conditions(self, values: np.ndarray, present: np.ndarray) -> None:
        """Refuse requests the model cannot make (an :class:`InputError` naming the feature,
        value, range and training range); see
        :func:`~araneus.models.conditioning.check_conditions`."""
        self._require_net()
        check_conditions(values, present, self.scaler, self.max_nodes, self.max_degree, self.name)

    def cfg_net(self, call, values, present, guidance: float):
        """Run ``call(values, present, reps)`` with classifier-free guidance.

        ``call`` must tile its other batch inputs ``reps`` times. The conditional and
        unconditional passes run as one batch; returns the guided outputs (a tensor or a
        tuple of tensors). ``guidance == 1`` runs only the conditional pass.
        """
        from .diffusion import cfg_combine

        if guidance == 1.0:
            return call(values, present, 1)
        import torch

        out = call(
            torch.cat([values, torch.zeros_like(values)]),
            torch.cat([present, torch.zeros_like(present)]),
            2,
        )
        n = values.shape[0]
        if isinstance(out, tuple):
            return tuple(cfg_combine(o[:n], o[n:], guidance) for o in out)
        return cfg_combine(out[:n], out[n:], guidance)

    # ----- checkpoints ----------------------------------------------------------------
    def meta(self) -> dict:
        """JSON-serialisable description of the model (everything but the weights)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "model": self.name,
            "config": dataclasses.asdict(self.config),
            "feature_names": list(self.feature_names),
            "scaler": self.scaler.to_dict() if self.scaler else None,
            "max_nodes": self.max_nodes,
            "max_degree": self.max_degree,
            "dataset_normaliser": self.dataset_normaliser,
            "train": self.train_info,
        }

    def weights(self) -> dict:
        """Tensors to store: network state dict + the node-count prior."""
        import torch

        self._require_net()
        w = {
            f"net.{k}": v.detach().float().cpu().contiguous()
            for k, v in self.net.state_dict().items()
        }
        w["prior.features"] = torch.as_tensor(self.prior.features)
        w["prior.counts"] = torch.as_tensor(self.prior.counts)
        if self.prior.lengths is not None:
            w["prior.lengths"] = torch.as_tensor(self.prior.lengths)
        return w

    def save(self, path: str | Path) -> None:
        """Write the checkpoint pair (``model.json`` + ``model.safetensors`` in folder
        ``path``, or ``STEM.json`` + ``STEM.safetensors``) as one unit."""
        write_checkpoint(path, self.meta(), self.weights())

    @classmethod
    def load(cls, path: str | Path) -> TorchGenerator:
        meta = read_checkpoint_json(path)
        if meta.get("model") != cls.name:
            raise ModelError(
                f"{path}: checkpoint holds model {meta.get('model')!r}, not {cls.name!r}"
            )
        return cls._load_from(path, meta)

    @classmethod
    def _load_from(cls, path: str | Path, meta: dict) -> TorchGenerator:
        return load_torch_checkpoint(cls, path, meta)


#: Largest ``n * max_nodes**2`` of one sampling call (dense pair tensors grow with it).
MAX_SAMPLE_CELLS = 2**24

#: Config fields that only change sampling (safe to override on a trained model).
SAMPLING_KEYS = (
    "exact", "fit_orientation", "temperature", "top_p", "sampler", "churn", "sample_steps",
    "leaf_fraction", "connect", "t_power", "feature_guidance", "guide_sigma", "guide_draws",
)  # fmt: skip


def set_sampling(model: Any, settings: Sequence[str] | dict[str, Any]) -> None:
    """Override sampling-only settings (:data:`SAMPLING_KEYS`) of a loaded model, e.g.
    ``["exact=false", "temperature=0.8"]``. Other keys would no longer match the trained
    network and raise :class:`ConfigError` naming the keys this model accepts."""
    if isinstance(settings, dict):
        keys = list(settings)
    else:
        keys = [str(s).split("=", 1)[0].strip() for s in settings]
    allowed = [k for k in SAMPLING_KEYS if hasattr(model.config, k)]
    bad = [k for k in keys if k not in allowed]
    if bad:
        raise ConfigError(
            f"{model.name}: {', '.join(map(repr, bad))} cannot be set at sampling time; "
            f"sampling settings of this model: {', '.join(allowed)}"
        )
    cfg = apply_overrides(model.config, settings, f"{model.name} sampling settings")
    if getattr(cfg, "leaf_fraction", 0.0) == -1:
        raise ConfigError(
            f"{model.name}: leaf_fraction=-1 (fit from the data) applies only when training; "
            "at sampling give a fraction in [0, 1] (1: no preference for closing ends)"
        )
    model.config = cfg


def mean_edge_lengths(pos: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    """(S,) mean edge length of each padded sample: pos (S, L, 3), nbrs (S, L, K) with -1
    for empty slots (each edge is listed by both ends, so this is the mean over edges).
    Samples without edges get a tiny positive value."""
    pos = np.asarray(pos, dtype=np.float64)
    nbrs = np.asarray(nbrs)
    s = np.arange(pos.shape[0])[:, None, None]
    valid = nbrs >= 0
    d = np.linalg.norm(pos[s, np.where(valid, nbrs, 0)] - pos[:, :, None], axis=-1)
    rho = (d * valid).sum((1, 2)) / np.maximum(valid.sum((1, 2)), 1)
    return np.maximum(rho, 1e-6)
