"""Design for mechanics: generate candidates for target descriptors, verify, select.

:func:`design` runs ``rounds`` of generate-evaluate-select. Each round asks a generative
model for ``n`` webs (conditions from :mod:`araneus.design.proposals`), computes every
candidate's mechanical descriptors by the finite-element analysis of
:mod:`araneus.mechanics.descriptors` (batched), and keeps them all; later rounds start from
the best designs so far. Designs are ranked by their worst error over the targets,
``max_t |log(achieved_t / requested_t)|``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..features import FEATURE_NAMES, feature_vector
from ..mechanics.descriptors import MECHANICAL_FEATURES, mechanical_descriptors
from ..web import WebGraph
from .proposals import (
    ConditionSurrogate,
    feasible,
    geometry_conditions,
    log_errors,
    retrieve,
    target_conditions,
)
from .stretch import fit_stretch, stretched

#: Length-like conditions, scaled together to change a design's size.
_LENGTHS = ("mean_edge_length", "mean_abs_dx", "mean_abs_dy", "mean_abs_dz")
#: Design materials (descriptors of :mod:`araneus.mechanics.descriptors`).
DESIGN_MATERIALS = ("silk", "dragline", "viscid", "pla", "tpu", "resin")


@dataclass
class Candidate:
    """One generated, FE-verified web: its descriptors (4,) in
    :data:`MECHANICAL_FEATURES` order, the round and the conditions it came from."""

    web: WebGraph
    achieved: np.ndarray
    round: int
    how: str
    conditions: dict


@dataclass
class DesignResult:
    """Every candidate of a design run, ranked (``order``: best first)."""

    targets: dict[str, float]
    material: str
    strut: float | None
    model: str
    conditioned: bool
    candidates: list[Candidate]
    order: np.ndarray
    seconds: float
    rounds: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def achieved(self, i: int) -> dict[str, float]:
        """Target name -> achieved value of candidate ``i``."""
        a = self.candidates[i].achieved
        return {t: float(a[MECHANICAL_FEATURES.index(t)]) for t in self.targets}

    def relative_errors(self, i: int) -> dict[str, float]:
        """Target name -> achieved / requested - 1 of candidate ``i``."""
        return {t: v / self.targets[t] - 1.0 for t, v in self.achieved(i).items()}

    def error(self, i: int) -> float:
        """Worst |relative error| over the targets of candidate ``i`` (inf if undefined)."""
        e = [abs(v) for v in self.relative_errors(i).values()]
        return float(max(e)) if all(np.isfinite(e)) else float("inf")

    def log_error(self, i: int) -> float:
        """Worst |log(achieved / requested)| over the targets of candidate ``i`` (the
        ranking: symmetric, where the relative error favours undershooting)."""
        a = np.array(list(self.achieved(i).values()))
        t = np.array(list(self.targets.values()))
        return float(log_errors(a[None], t).max())

    def best(self, k: int | None = None) -> list[Candidate]:
        """The ``k`` best candidates (all if None), best first."""
        return [self.candidates[i] for i in self.order[:k]]

    def rows(self, k: int | None = None, files: Sequence[str] | None = None) -> list[dict]:
        """Rows of ``designs.csv``: one per design and target, best first."""
        out = []
        for r, i in enumerate(self.order[:k]):
            ach, rel = self.achieved(i), self.relative_errors(i)
            for t, v in self.targets.items():
                out.append({"rank": r + 1, "file": files[r] if files else "", "target": t,
                            "requested": v, "achieved": ach[t], "relative_error": rel[t]})  # fmt: skip
        return out


def check_targets(targets: Mapping[str, float]) -> dict[str, float]:
    """Validated targets: known descriptor names, positive finite values."""
    if not isinstance(targets, Mapping) or not targets:
        raise InputError(f"give at least one target, e.g. stiffness_z_per_mass=500 "
                         f"(names: {', '.join(MECHANICAL_FEATURES)})")  # fmt: skip
    out = {}
    for name, value in targets.items():
        if name not in MECHANICAL_FEATURES:
            raise InputError(f"unknown target {name!r}; valid: {', '.join(MECHANICAL_FEATURES)}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"target {name}={value!r} is not a number") from None
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"target {name}={value!r} must be a positive stiffness per gram")
        out[name] = v
    return out


def parse_targets(items: Sequence[str]) -> dict[str, float]:
    """``["stiffness_z_per_mass=500", ...]`` -> checked targets."""
    out = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep:
            raise InputError(f"--target {item!r}: expected NAME=VALUE")
        if name.strip() in out:
            raise InputError(f"--target {name.strip()} given twice")
        out[name.strip()] = value.strip()
    return check_targets(out)


def load_generator(model, sampling: Sequence[str] = ()):
    """A model from a name (shipped weights), a checkpoint path, or a model object."""
    from ..models import load_model
    from ..models.base import set_sampling
    from ..models.pretrained import load_pretrained, pretrained_models

    if isinstance(model, (str, os.PathLike)):
        if str(model) in pretrained_models():
            gen, name = load_pretrained(str(model)), str(model)
        elif Path(model).exists():
            gen, name = load_model(model), str(model)
        else:
            raise InputError(f"--model {model!s}: neither a shipped model "
                             f"({', '.join(pretrained_models())}) nor a checkpoint path")  # fmt: skip
    elif callable(getattr(model, "sample", None)):
        gen, name = model, getattr(model, "name", type(model).__name__)
    else:
        raise InputError(f"model must be a name, a checkpoint path or a model, got {model!r}")
    if sampling:
        set_sampling(gen, list(sampling))
    return gen, name


def _geometry(web: WebGraph) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, map(float, feature_vector(web))))


class _Search:
    """State of one design run.

    Every candidate remembers the descriptor values its conditions implied (the request
    of a conditioned model, the retrieved sample's descriptors, the source design's
    values for a variation). After each round the median log offset between achieved
    and implied values (the model's calibration on these targets) is measured over all
    candidates so far, and the next round's requests are corrected by it: half of the
    next candidates come from corrected requests (fresh retrieved samples, rescaled by
    the measured scaling law), half are variations of the best designs so far, stretched
    along x, y, z by FE-fitted factors (:mod:`araneus.design.stretch`).
    """

    def __init__(self, targets, material, strut, gen, data, guide, guidance, seed):
        self.targets, self.material, self.strut = targets, material, strut
        self.gen, self.data, self.guidance = gen, data, guidance
        names = tuple(getattr(gen, "feature_names", ()))
        self.names = names
        self.conditioned = set(targets) <= set(names)
        self.geo = [n for n in names if n in FEATURE_NAMES]
        self.t = np.array(list(targets.values()))
        self.cols = [MECHANICAL_FEATURES.index(n) for n in targets]
        self.surrogate = None
        if guide and not self.conditioned and self.geo:
            self.surrogate = ConditionSurrogate(data, self.geo, list(targets))
        self.rng = np.random.default_rng(seed)
        self.cands: list[Candidate] = []
        self.implied: list[np.ndarray] = []
        self.used: set[int] = set()
        self._exponent: np.ndarray | None = None
        self.stretch: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def score(self, achieved: np.ndarray) -> np.ndarray:
        return log_errors(np.atleast_2d(achieved)[:, self.cols], self.t).max(axis=1)

    def offset(self) -> np.ndarray:
        """Median log(achieved / implied) per target over all candidates so far (0: none)."""
        if not self.cands:
            return np.zeros(len(self.t))
        a = np.array([c.achieved[self.cols] for c in self.cands])
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log(a / np.array(self.implied))
        r = np.where(np.isfinite(r), r, np.nan)
        med = np.nanmedian(r, axis=0) if np.isfinite(r).any() else np.zeros(len(self.t))
        return np.where(np.isfinite(med), med, 0.0)

    def exponent(self) -> np.ndarray:
        """d log(descriptor) / d log(size) per target, measured by FE on (up to 8)
        candidates scaled by 1.25 (pretensioned silk: exactly -2; printed struts between
        -2 (stretching) and -4 (bending))."""
        if self._exponent is None:
            ok = [c for c in self.cands if np.isfinite(c.achieved[self.cols]).all()][:8]
            if not ok:
                return np.full(len(self.t), -2.0)
            big = [c.web.replace(pos=(c.web.pos - c.web.pos.mean(0)) * 1.25) for c in ok]
            d2 = mechanical_descriptors(big, self.material, self.strut)[:, self.cols]
            d1 = np.array([c.achieved[self.cols] for c in ok])
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.nanmedian(np.log(d2 / d1), axis=0) / np.log(1.25)
            self._exponent = np.where(np.isfinite(p) & (p < -0.5), p, -2.0)
        return self._exponent

    def rescaled(self, cond: dict, error: np.ndarray) -> dict:
        """``cond`` with its length-like features scaled so that, by the measured scaling
        law, a web with log error ``error`` (achieved / wanted, per target) would meet
        the targets (one common factor: the mean over targets)."""
        factor = float(np.exp(np.mean(error / -self.exponent())))
        factor = float(np.clip(factor, 0.05, 20.0))
        return {k: (v * factor if k in _LENGTHS else v) for k, v in cond.items()}

    def requests(self, n: int, want: np.ndarray, how: str) -> list[tuple[dict, str, np.ndarray]]:
        """``n`` proposals asking for descriptor values ``want``."""
        goal = dict(zip(self.targets, map(float, want)))
        if self.conditioned:
            return [(target_conditions(goal), how, want)] * n
        rows = [int(r) for r in retrieve(self.data, goal, n + len(self.used))
                if int(r) not in self.used][:n]  # fmt: skip
        self.used.update(rows)
        cols = [self.data.feature_names.index(t) for t in self.targets]
        out = []
        for r, cond in zip(rows, geometry_conditions(self.data, rows, self.geo)):
            implied = self.data.features[r, cols]
            if self.surrogate is not None:
                cond = self.surrogate.guide(cond, dict(zip(self.targets, map(float, implied))))
            out.append((cond, how, implied))
        return out

    def best_stretched(self, m: int):
        """The ``m`` best candidates so far and their FE-fitted stretches (cached)."""
        scores = self.score(np.array([c.achieved for c in self.cands]))
        best = [int(i) for i in np.argsort(scores, kind="stable")[:m]]
        todo = [i for i in best if i not in self.stretch]
        if todo:
            s, d = fit_stretch([self.cands[i].web for i in todo], self.t, self.cols,
                               self.material, self.strut)  # fmt: skip
            for i, si, di in zip(todo, s, d):
                self.stretch[i] = (si, di)
        return best

    def variations(self, n: int, shift: np.ndarray) -> list[tuple[dict, str, np.ndarray]]:
        """``n`` proposals: the geometry of the best designs so far, stretched along x, y, z
        by the FE-fitted factors that would make them meet the targets (with the
        corrected targets for a conditioned model)."""
        m = max(1, n // 2)
        best = self.best_stretched(m)
        out = []
        for j in range(n):
            c = self.cands[best[j % m]]
            web = stretched(c.web, self.stretch[best[j % m]][0])
            geo = {k: v for k, v in _geometry(web).items() if k in self.geo}
            if self.conditioned:
                want = self.t * np.exp(-shift)
                goal = dict(zip(self.targets, map(float, want)))
                out.append((target_conditions(goal, geo), "variation", want))
            else:
                out.append((geo, "variation", self.t))
        return out

    def proposals(self, r: int, n: int) -> list[tuple[dict, str, np.ndarray]]:
        if r == 0:
            return self.requests(n, self.t, "model" if self.conditioned else "retrieved")
        shift = self.offset()
        k = n - n // 2
        if self.conditioned:
            calibrated = self.requests(k, self.t * np.exp(-shift), "calibrated")
        else:  # the data end where the model's offset would push the request: rescale
            calibrated = [(self.rescaled(c, shift), "calibrated", imp)
                          for c, _, imp in self.requests(k, self.t, "calibrated")]  # fmt: skip
        return calibrated + self.variations(n - k, shift)

    def run_round(self, r: int, props: list[tuple[dict, str, np.ndarray]]) -> dict:
        t0 = time.perf_counter()
        conds = [{k: v for k, v in c.items() if k in self.names} for c, _, _ in props]
        if hasattr(self.gen, "condition_bounds"):  # guided or rescaled requests may stray
            bounds = self.gen.condition_bounds()
            conds = [feasible(c, bounds, self.gen.max_degree) for c in conds]
        seed = int(self.rng.integers(2**31))
        webs = self.gen.sample(conds, len(conds), guidance=self.guidance, seed=seed)
        t1 = time.perf_counter()
        ach = mechanical_descriptors(webs, self.material, self.strut)
        t2 = time.perf_counter()
        for w, a, (c, how, implied) in zip(webs, ach, props):
            self.cands.append(Candidate(w, a, r, how, c))
            self.implied.append(np.asarray(implied, np.float64))
        top = int(np.argmin(self.score(np.array([c.achieved for c in self.cands]))))
        best = float(np.max(np.abs(self.cands[top].achieved[self.cols] / self.t - 1)))
        return {"round": r + 1, "candidates": len(webs), "generate_s": round(t1 - t0, 3),
                "verify_s": round(t2 - t1, 3), "best_error_so_far": best,
                "calibration_offset": dict(zip(self.targets, map(float, self.offset())))}  # fmt: skip


def design(
    targets: Mapping[str, float],
    material: str = "silk",
    model="sparse",
    n: int = 16,
    rounds: int = 3,
    strut: float | None = None,
    data=None,
    guide: bool = False,
    guidance: float = 1.0,
    seed: int = 0,
    sampling: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    size: bool = False,
) -> DesignResult:
    """Generate webs that have the target mechanical descriptors.

    Parameters
    ----------
    targets
        ``{descriptor name: value}`` [N/mm/g], any subset of
        :data:`~araneus.mechanics.descriptors.MECHANICAL_FEATURES`.
    material
        Material the descriptors are computed for (``silk``, ``pla``, ...).
    model
        Shipped model name, checkpoint path, or a model object.
    n
        Candidates per round.
    rounds
        Generate-evaluate-select rounds (1: generate once and rank).
    strut
        Thread / strut diameter [mm] (default by material).
    data
        Dataset with the descriptors of ``material`` (for a model not conditioned on them:
        retrieval and the surrogate); default: the default dataset, built once and cached
        (:func:`design_data`).
    guide
        Move the retrieved geometric conditions along a surrogate's gradient until it
        predicts the requested descriptors (models not conditioned on them; off by default:
        it did not improve the designs, see docs/design.md).
    guidance
        Classifier-free guidance scale of the model.
    seed
        Seed of the sampling.
    sampling
        Sampling settings of the model (``["exact=false", ...]``).
    progress
        Called with (round done, rounds).
    size
        Post-hoc sizing: also offer the four best designs stretched along x, y, z by the
        FE-fitted factors that bring them to the targets (``how="sized"``, ``round`` one
        past the last). Off by default: it changes the model's webs after the fact, and is
        reported apart from them.
    """
    t0 = time.perf_counter()
    targets = check_targets(targets)
    material = str(material).lower()
    if material not in DESIGN_MATERIALS:
        raise InputError(f"unknown material {material!r}; valid: {', '.join(DESIGN_MATERIALS)}")
    for name, v, lo in (("n", n, 1), ("rounds", rounds, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or v > 10_000:
            raise InputError(f"{name} must be an integer in {lo}..10000, got {v!r}")
    gen, name = load_generator(model, sampling)
    conditioned = set(targets) <= set(getattr(gen, "feature_names", ()))
    notes = []
    if not conditioned and data is None:
        data = design_data(material, strut)
    if not conditioned:
        notes.append(f"model {name} is not conditioned on {sorted(set(targets))}: conditions "
                     "are the geometry of the training samples nearest the targets"
                     + (", guided by the surrogate's gradient" if guide else "")
                     + "; later rounds correct the requests by the calibration measured so far")  # fmt: skip
    search = _Search(targets, material, strut, gen, data, guide, guidance, seed)
    stats = []
    for r in range(int(rounds)):
        stats.append(search.run_round(r, search.proposals(r, n)))
        if progress is not None:
            progress(r + 1, int(rounds))
    if size:
        for i in search.best_stretched(4):
            st, ach = search.stretch[i]
            web = stretched(search.cands[i].web, st)
            search.cands.append(Candidate(web, ach, int(rounds), "sized",
                                          {"stretch_log": st.tolist(), "from_candidate": i}))  # fmt: skip
            search.implied.append(search.t)
        notes.append("sized: the best designs stretched along x, y, z by FE-fitted factors "
                     "(post-hoc, not the model's own webs)")  # fmt: skip
    scores = search.score(np.array([c.achieved for c in search.cands]))
    order = np.argsort(scores, kind="stable")
    return DesignResult(targets, material, strut, name, conditioned, search.cands, order,
                        time.perf_counter() - t0, stats, notes)  # fmt: skip


# ---------------------------------------------------------------------------- dataset
def cache_dir() -> Path:
    """Where built design datasets are kept: ``$ARANEUS_CACHE``, else
    ``$XDG_CACHE_HOME/araneus``, else ``~/.cache/araneus``."""
    env = os.environ.get("ARANEUS_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "araneus"


def design_data(material: str = "silk", strut: float | None = None, n: int = 4000, seed: int = 0):
    """The default dataset (:func:`araneus.dataset.default_dataset`, ``n`` samples, the
    models' training set) with the descriptors of ``material``; built on first use (about
    15 s) and kept in :func:`cache_dir`. A kept copy is used only while its descriptor
    definition and its source webs' fingerprint
    (:func:`araneus.dataset.build.sources_fingerprint`) match the current ones, so a
    builder change (new default data) rebuilds it."""
    from ..dataset import WebDataset, default_dataset
    from ..dataset.build import default_sources, sources_fingerprint
    from ..dataset.mechanics import DEFINITION

    tag = f"design_{material}_{'default' if strut is None else f'{float(strut):g}'}_{n}_{seed}"
    path = cache_dir() / f"{tag}.npz"
    if path.is_file():
        try:
            ds = WebDataset.load(path)
            mech = ds.meta.get("mechanics") or {}
            kept = (ds.meta.get("default") or {}).get("sources")
            if (mech.get("definition") == DEFINITION and mech.get("material") == material
                    and kept == sources_fingerprint(default_sources(seed))):  # fmt: skip
                return ds
        except Exception:  # noqa: BLE001 - a stale or broken cache file is rebuilt
            pass
    ds = default_dataset(n, seed=seed, mechanics=material, strut=strut)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save(path)
    return ds
