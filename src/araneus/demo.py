"""The main job: from nothing to designed, assembled, meshed and tested webs in one call.

:func:`run_demo` runs the stages below on the embedded default and writes everything to one
folder (see :func:`araneus.report.demo.write_outputs` for the layout and ``report.html``):

1. :func:`build_source` - the default *Cyrtophora* tent web in its scan-like form (a
   smaller one when quick);
2. :func:`sample_dataset` - inductive samples cut out of it, split train/val/test;
3. :func:`load_models` - the shipped pretrained weights of all three models;
4. :func:`generate_samples` - webs for requested conditions taken from the test split,
   re-measured (requested vs achieved), with validity/V.U.N. and MMD figures;
5. :func:`assemble_structures` - a helical tower and a Lorenz-attractor structure from
   generated pieces (the model is called once per placement), mean edge length graded
   from base to top;
6. :func:`mesh_structure` and :func:`tension_tests` - watertight STL and a virtual tension
   test of each structure in silk and in PLA;
7. :func:`design_for_mechanics` - webs designed for a target stiffness per gram (the silk
   ``stiffness_z_per_mass`` of a held-out sample), each candidate verified by the FE
   descriptors (:mod:`araneus.design`).

Every stage is a plain function of WebGraphs/results, so the stages can be reused alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, InputError, ModelError
from .features import FEATURE_NAMES, features_table
from .web import WebGraph

#: Stage names in run order (the CLI shows one progress step per stage).
STAGES: tuple[str, ...] = (
    "build the default tent web",
    "sample a dataset",
    "load pretrained models",
    "generate and evaluate",
    "assemble helix and Lorenz structures",
    "mesh to STL",
    "virtual tension tests",
    "design for mechanics",
    "write files and report",
)

#: Materials of the tension tests: silk threads with the web's pretension (self-stress at
#: a few percent of breaking force, :mod:`araneus.mechanics.prestress`) and printed PLA
#: struts, stress-free. Both tests run to final failure.
TEST_MATERIALS: tuple[str, ...] = ("silk", "pla")

#: Overlap of consecutive assembly pieces (fraction of the piece size). Small: pieces are
#: joined by stitches rather than by interpenetration, which keeps the number of crossing
#: struts (and so the boolean work of meshing) low.
OVERLAP = 0.25

#: Time span of the Lorenz trajectory: about two lobe crossings, so that the structure's
#: extent is ~1/4 of its arc length and the butterfly stays recognisable at piece scale.
LORENZ_DURATION = 1.0

#: The three models of the demo, in report order.
DEMO_MODELS: tuple[str, ...] = ("sparse", "discrete", "autoregressive")


@dataclass(frozen=True)
class DemoSizes:
    """Work sizes of one demo run (full or quick).

    Attributes
    ----------
    source : tent-builder overrides (empty: the default web).
    n_dataset : samples cut out of the source web.
    n_conditions : requested conditions (test-split samples) per model.
    samples_per_condition : generated webs per condition and model.
    helix_pieces, lorenz_pieces : placements along each curve.
    test_steps : displacement steps of each virtual tension test.
    mesh_segments : facets around each strut of the STL meshes.
    """

    source: tuple[tuple[str, float], ...]
    n_dataset: int
    n_conditions: int
    samples_per_condition: int
    helix_pieces: int
    lorenz_pieces: int
    test_steps: int
    mesh_segments: int
    design_n: int = 8
    design_rounds: int = 2


#: Sizes of the full run (<= 5 min on 2 cores) and of ``--quick`` (well under a minute).
FULL = DemoSizes((), 1200, 6, 4, 16, 20, 30, 8)
QUICK = DemoSizes(
    (
        ("sheet_radius", 50.0),
        ("mesh_spacing", 3.0),
        ("barrier_above", 150),
        ("barrier_below", 100),
        ("rim_threads", 30),
    ),
    200,
    3,
    2,
    6,
    8,
    20,
    6,
    design_n=4,
)


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo`.

    Attributes
    ----------
    quick : smaller source web, fewer samples, pieces and steps (the tests' sub-minute run).
    seed : seed of every random choice (same seed, same outputs).
    out : output folder (created; existing files of the same names are replaced).
    weights_dir : folder holding one checkpoint folder per model (``<dir>/<model>/``
        with ``model.json`` + ``model.safetensors``); ``None`` uses the packaged weights.
    models : models to run, a subset of :data:`DEMO_MODELS`.
    guidance : classifier-free guidance scale of all sampling.
    assembly_model : model generating the assembly pieces; ``None`` picks the model with
        the highest validity in stage 4, then the best pooled R^2 (ties: first in ``models``).
    threads : torch CPU threads during the run (restored afterwards); ``None`` keeps
        torch's default. On a machine shared with other jobs, 1 can be many times faster.
    """

    quick: bool = False
    seed: int = 0
    out: str = "araneus-demo"
    weights_dir: str | None = None
    models: tuple[str, ...] = DEMO_MODELS
    guidance: float = 1.5
    assembly_model: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not str(self.out).strip():
            raise ConfigError("out must name an output folder")
        self.models = tuple(self.models)
        bad = [m for m in self.models if m not in DEMO_MODELS]
        if not self.models or bad:
            raise ConfigError(f"models must be a non-empty subset of {DEMO_MODELS}, got {bad}")
        if not (math.isfinite(self.guidance) and 0 <= self.guidance <= 50):
            raise ConfigError(f"guidance must be in [0, 50], got {self.guidance!r}")
        if self.assembly_model is not None and self.assembly_model not in self.models:
            raise ConfigError(
                f"assembly_model must be one of the models run {self.models}, "
                f"got {self.assembly_model!r}"
            )

        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ConfigError(f"threads must be a positive integer or None, got {self.threads!r}")

    @property
    def sizes(self) -> DemoSizes:
        """:data:`QUICK` or :data:`FULL`."""
        return QUICK if self.quick else FULL


@dataclass
class ModelRun:
    """Stage-4 results of one model: generated webs, requested/achieved features, metrics."""

    name: str
    webs: list[WebGraph]
    requested: np.ndarray  # (S, 7), FEATURE_NAMES order
    achieved: np.ndarray  # (S, 7)
    condition_index: np.ndarray  # (S,) which requested condition
    metrics: dict[str, Any]
    seconds: float
    #: the same conditions sampled by the model alone (``exact=False``): its metrics and
    #: sampling time; None for a model without constrained sampling
    alone_metrics: dict[str, Any] | None = None
    alone_seconds: float = 0.0


@dataclass
class StructureRun:
    """Stages 5-6 results of one assembled structure."""

    name: str
    web: WebGraph
    assembly: dict[str, Any]
    mesh: Any = None
    mesh_summary: dict[str, Any] = field(default_factory=dict)
    tests: dict[str, Any] = field(default_factory=dict)  # material -> TestResult


@dataclass
class DemoResult:
    """Everything :func:`run_demo` made (the files are listed in ``files``)."""

    config: DemoConfig
    source: WebGraph
    dataset: Any
    models: dict[str, Any]
    conditions: list[dict[str, float]]
    runs: dict[str, ModelRun]
    structures: dict[str, StructureRun]
    timings: dict[str, float]
    files: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    design: Any = None  # stage 7: a DesignResult


# ---------------------------------------------------------------------------- stage 1-3
def build_source(cfg: DemoConfig) -> WebGraph:
    """Stage 1: the default tent web (a smaller tent when ``cfg.quick``), in mm.

    In the scan-like form of the default dataset
    (:data:`araneus.dataset.DEFAULT_RESOLUTION`): threads as polylines of short segments,
    the representation of users' scans.
    """
    from .builders import TentConfig, build
    from .dataset import DEFAULT_RESOLUTION

    over = {**dict(cfg.sizes.source), "resolution": DEFAULT_RESOLUTION}
    return build("tent", TentConfig(**over), cfg.seed)


def sample_dataset(web: WebGraph, cfg: DemoConfig):
    """Stage 2: random-walk samples of 16-64 nodes cut out of ``web``, random split."""
    from .dataset import build_dataset

    return build_dataset(web, cfg.sizes.n_dataset, seed=cfg.seed)


def load_models(cfg: DemoConfig) -> dict[str, Any]:
    """Stage 3: the pretrained models (packaged, or from ``cfg.weights_dir/<name>/``)."""
    from .models import load_model, load_pretrained

    out = {}
    for name in cfg.models:
        if cfg.weights_dir is None:
            model = load_pretrained(name)
        else:
            folder = Path(cfg.weights_dir) / name
            if not folder.is_dir():
                raise InputError(f"weights_dir: no checkpoint folder {folder} for model {name!r}")
            model = load_model(folder)
        if model.name != name:
            raise ModelError(f"checkpoint for {name!r} holds a {model.name!r} model")
        out[name] = model
    return out


# ---------------------------------------------------------------------------- stage 4
def pick_conditions(dataset, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` requested conditions: the features of distinct test-split samples (seeded)."""
    test = dataset.subset("test")
    if len(test) == 0:
        test = dataset
    rng = np.random.default_rng([seed, 4])
    idx = np.sort(rng.choice(len(test), size=min(n, len(test)), replace=False))
    cols = [test.feature_names.index(f) for f in FEATURE_NAMES]
    return [dict(zip(FEATURE_NAMES, test.features[i, cols].tolist())) for i in idx]


def generate_samples(
    model: Any,
    conditions: Sequence[dict[str, float]],
    per_condition: int,
    dataset,
    guidance: float,
    seed: int,
) -> ModelRun:
    """Stage 4 for one model: sample, re-measure, and score against the test split.

    Returns a :class:`ModelRun`; ``metrics`` is :func:`araneus.metrics.evaluate`'s dict
    (MMD^2 against the test split with ratios to a training draw of the same size,
    V.U.N. against the training split, fidelity, repairs) for the model's default
    (constrained) sampling, ``alone_metrics`` the same for the model alone.
    """
    conds = [dict(c) for c in conditions for _ in range(per_condition)]
    requested = np.array([[c[f] for f in FEATURE_NAMES] for c in conds])
    reference = _split_webs(dataset, "test")
    train = _split_webs(dataset, "train")
    pick = np.random.default_rng([seed, 5]).permutation(len(train))[: len(conds)]
    ctx = {"reference": reference, "train": train, "requested": requested,
           "baseline": [train[i] for i in np.sort(pick)]}  # fmt: skip
    alone, alone_seconds = None, 0.0
    if getattr(model.config, "exact", False):
        with _model_alone(model):
            _, alone, alone_seconds = _sample_and_score(
                model, conds, guidance, seed, ctx, MODEL_ALONE
            )
    label = CONSTRAINED if getattr(model.config, "exact", False) else MODEL_ALONE
    webs, metrics, seconds = _sample_and_score(model, conds, guidance, seed, ctx, label)
    cond_idx = np.repeat(np.arange(len(conditions)), per_condition)
    achieved = features_table(webs)
    return ModelRun(model.name, webs, requested, achieved, cond_idx, metrics, seconds,
                    alone, alone_seconds)  # fmt: skip


#: Labels of the two ways of sampling in the demo's metrics.
MODEL_ALONE = "model alone"
CONSTRAINED = "constrained"


@contextmanager
def _model_alone(model: Any) -> Iterator[None]:
    """Sample ``model`` without its constraints (``exact=False``) inside the block."""
    import dataclasses

    before = model.config
    model.config = dataclasses.replace(before, exact=False)
    try:
        yield
    finally:
        model.config = before


def _sample_and_score(model, conds, guidance, seed, ctx, label):
    from .metrics import evaluate

    t0 = time.perf_counter()
    webs = model.sample(conds, len(conds), guidance=guidance, seed=seed)
    seconds = time.perf_counter() - t0
    stats = getattr(model, "last_decode_stats", None)
    metrics = evaluate(webs, ctx["reference"], train=ctx["train"], requested=ctx["requested"],
                       baseline=ctx["baseline"], decode_stats=stats, label=label)  # fmt: skip
    metrics["repair_rate"] = None if stats is None else float(stats.repair_rate)
    return webs, metrics, seconds


def _split_webs(dataset, split: str) -> list[WebGraph]:
    part = dataset.subset(split)
    return part.to_webs() if len(part) else dataset.to_webs()


def best_model(runs: dict[str, ModelRun]) -> str:
    """Name of the run with the highest validity, then the lowest decoder repair rate
    (how often the model's own output was not a valid web), then the best conditioning
    fidelity (pooled R^2 of requested vs achieved features); first on ties."""

    def score(k: str) -> tuple[float, float, float]:
        m = runs[k].metrics
        r2 = (m.get("fidelity") or {}).get("pooled_r2")
        r2 = float(r2) if r2 is not None and np.isfinite(r2) else -np.inf
        repair = m.get("repair_rate")
        return (m["vun"]["valid"] or 0.0, -(repair if repair is not None else 1.0), r2)

    return max(runs, key=score)


# ---------------------------------------------------------------------------- stage 5
class PieceGenerator:
    """Adapter giving assembly one connected piece per call of a model.

    Each call samples ``n`` webs and keeps the largest connected component of each; a
    piece with fewer than ``min_nodes`` nodes is resampled (new seed, at most
    ``retries`` times) so that every placement gets a usable piece.
    """

    def __init__(self, model: Any, guidance: float, min_nodes: int = 8, retries: int = 4):
        self.model = model
        self.guidance = guidance
        self.min_nodes = min_nodes
        self.retries = retries
        self.calls = 0
        self.resampled = 0

    def sample(self, conditions: dict, n: int, *, seed: int | None = None) -> list[WebGraph]:
        """``n`` connected pieces for ``conditions``."""
        self.calls += 1
        out = []
        for k in range(n):
            piece = None
            for attempt in range(self.retries + 1):
                sub = None if seed is None else int(seed) * 7919 + 131 * k + attempt
                web = self.model.sample(conditions, 1, guidance=self.guidance, seed=sub)[0]
                piece = web.drop_isolated().largest_component() if web.n_edges else web
                if piece.n_nodes >= self.min_nodes:
                    break
                self.resampled += 1
            out.append(piece)
        return out


def piece_size(dataset) -> float:
    """Median largest bounding-box extent of the training samples (length units)."""
    train = dataset.subset("train")
    part = train if len(train) else dataset
    big = np.where(part.mask[..., None], part.pos, np.nan)
    ext = np.nanmax(big, axis=1) - np.nanmin(big, axis=1)
    return float(np.median(ext.max(axis=1)))


def graded_conditions(dataset) -> dict[str, tuple[float, float] | float]:
    """Assembly schedule: mean edge length ramps from the 20th to the 80th percentile of
    the training split (base to top); node count held at its median (fewer crossing
    struts to union when meshing)."""
    train = dataset.subset("train")
    part = train if len(train) else dataset
    names = list(part.feature_names)
    mel = part.features[:, names.index("mean_edge_length")]
    nn = part.features[:, names.index("num_nodes")]
    lo, hi = np.percentile(mel, [20, 80])
    return {"mean_edge_length": (float(lo), float(hi)), "num_nodes": float(np.median(nn))}


def assemble_structures(
    model: Any, dataset, cfg: DemoConfig
) -> tuple[dict[str, StructureRun], dict[str, Any]]:
    """Stage 5: a helical tower and a Lorenz-attractor structure of generated pieces.

    Curves are sized from the typical piece extent ``s`` (:func:`piece_size`): the helix has
    radius 0.6 s and pitch 0.8 s, so consecutive turns touch and are stitched into one
    tubular tower (every earlier piece is a join candidate); the Lorenz trajectory is
    scaled so that its arc length holds its pieces at :data:`OVERLAP`. Returns the
    structures and the schedule used.
    """
    from .assembly import CurveSpec, assemble

    s = piece_size(dataset)
    sched = graded_conditions(dataset)
    sz = cfg.sizes
    out: dict[str, StructureRun] = {}
    helix = CurveSpec("helix", {"radius": 0.6 * s, "pitch": 0.8 * s})
    lorenz_len = CurveSpec("lorenz", {"duration": LORENZ_DURATION}).build().length
    spacing = (1.0 - OVERLAP) * s
    lorenz = CurveSpec(
        "lorenz", {"duration": LORENZ_DURATION, "scale": sz.lorenz_pieces * spacing / lorenz_len}
    )
    for name, curve, k, window in (
        ("helix_tower", helix, sz.helix_pieces, max(1, sz.helix_pieces - 1)),
        ("lorenz", lorenz, sz.lorenz_pieces, None),
    ):
        gen = PieceGenerator(model, cfg.guidance)
        web, rep = assemble(
            curve, gen, steps=k, overlap=OVERLAP, conditions=sched, seed=cfg.seed, window=window
        )
        web = web.largest_component()
        info = {**rep.as_dict(), "model": model.name, "resampled_pieces": gen.resampled}
        out[name] = StructureRun(name, web, info)
    return out, {"piece_size": s, **{k: v for k, v in sched.items()}}


# ---------------------------------------------------------------------------- stage 6
def mesh_structure(web: WebGraph, cfg: DemoConfig) -> tuple[Any, dict[str, Any]]:
    """Stage 6a: watertight FDM mesh of ``web`` (0.8 mm struts, mm units)."""
    from .fabrication import build_mesh

    res = build_mesh(web, strut=0.8, process="fdm", segments=cfg.sizes.mesh_segments)
    m = res.mesh
    summary = {
        "watertight": bool(m.is_watertight),
        "triangles": int(len(m.faces)),
        "volume_mm3": float(m.volume),
        "bbox_mm": np.round(m.bounds[1] - m.bounds[0], 3).tolist(),
        "warnings": list(res.report.warnings),
    }
    return m, summary


def tension_axis(web: WebGraph, name: str) -> str:
    """``tension-z`` for the tower, else tension along the web's longest extent."""
    if name.startswith("helix"):
        return "tension-z"
    lo, hi = web.bbox()
    return f"tension-{'xyz'[int(np.argmax(hi - lo))]}"


def tension_tests(web: WebGraph, name: str, cfg: DemoConfig) -> dict[str, Any]:
    """Stage 6b: virtual tension tests in silk and in PLA; ``{material: TestResult}``.

    Each test runs to final failure (:func:`~araneus.mechanics.virtual.virtual_test` with
    ``strain=None``), silk pretensioned (``pretension="auto"``). A test that stops before
    final failure says why in its result (``curve.stopped``), which the report shows as a
    warning beside the curve.
    """
    from .mechanics.virtual import virtual_test

    test = tension_axis(web, name)
    return {
        mat: virtual_test(web, test, material=mat, steps=cfg.sizes.test_steps)
        for mat in TEST_MATERIALS
    }


# ---------------------------------------------------------------------------- driver
ProgressHook = Callable[[int, str], None]


def design_for_mechanics(model: Any, dataset, cfg: DemoConfig):
    """Stage 7: webs designed for the silk ``stiffness_z_per_mass`` of a held-out sample.

    The demo's dataset gets the silk descriptors (:func:`araneus.dataset.add_mechanics`);
    the target is the value of a test-split sample; :func:`araneus.design.design` runs
    ``design_rounds`` rounds of ``design_n`` candidates with ``model`` (the assembly model),
    every candidate verified by the finite-element descriptors.
    """
    from .dataset import add_mechanics
    from .design import design

    data = add_mechanics(dataset, "silk")
    test = np.flatnonzero(data.split == 2)
    if not len(test):
        test = np.arange(len(data))
    row = int(test[np.random.default_rng(cfg.seed).integers(len(test))])
    name = "stiffness_z_per_mass"
    target = {name: float(data.features[row, data.feature_names.index(name)])}
    s = cfg.sizes
    return design(target, "silk", model, n=s.design_n, rounds=s.design_rounds, data=data,
                  seed=cfg.seed, guidance=cfg.guidance)  # fmt: skip


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: unchanged), then restore."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_demo(cfg: DemoConfig | None = None, progress: ProgressHook | None = None) -> DemoResult:
    """Run all stages and write the output folder (see module docstring).

    Parameters
    ----------
    cfg
        Settings (default :class:`DemoConfig`).
    progress
        Called as ``progress(i, stage_name)`` when stage ``i`` of :data:`STAGES` starts,
        and ``progress(len(STAGES), "done")`` at the end.

    Returns
    -------
    DemoResult, with ``files`` naming what was written.
    """
    cfg = cfg or DemoConfig()
    if not isinstance(cfg, DemoConfig):
        raise InputError(f"run_demo expects a DemoConfig, got {type(cfg).__name__}")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"out: {out} exists and is not a folder")
    hook = progress or (lambda i, s: None)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def stage(i: int) -> None:
        if i > 0:
            timings[STAGES[i - 1]] = round(time.perf_counter() - clock[0], 3)
        clock[0] = time.perf_counter()
        hook(i, STAGES[i] if i < len(STAGES) else "done")

    with torch_threads(cfg.threads):
        result = _run_stages(cfg, out, stage, timings)
    stage(len(STAGES))
    return result


def _run_stages(
    cfg: DemoConfig, out: Path, stage: Callable[[int], None], timings: dict[str, float]
) -> DemoResult:
    """Stages 1-7 of :func:`run_demo` (``stage(i)`` marks the start of stage i)."""
    from .report.demo import write_outputs

    stage(0)
    source = build_source(cfg)
    stage(1)
    dataset = sample_dataset(source, cfg)
    stage(2)
    models = load_models(cfg)
    stage(3)
    conditions = pick_conditions(dataset, cfg.sizes.n_conditions, cfg.seed)
    runs = {
        name: generate_samples(
            m, conditions, cfg.sizes.samples_per_condition, dataset, cfg.guidance, cfg.seed
        )
        for name, m in models.items()
    }
    stage(4)
    asm_name = cfg.assembly_model or best_model(runs)
    structures, schedule = assemble_structures(models[asm_name], dataset, cfg)
    stage(5)
    for st in structures.values():
        st.mesh, st.mesh_summary = mesh_structure(st.web, cfg)
    stage(6)
    for st in structures.values():
        st.tests = tension_tests(st.web, st.name, cfg)
    stage(7)
    designed = design_for_mechanics(models[asm_name], dataset, cfg)
    stage(8)
    result = DemoResult(cfg, source, dataset, models, conditions, runs, structures, timings,
                        design=designed)  # fmt: skip
    result.summary = {"assembly_schedule": schedule, "config": asdict(cfg)}
    write_outputs(result, out)
    return result


__all__ = [
    "DEMO_MODELS",
    "FULL",
    "QUICK",
    "LORENZ_DURATION",
    "OVERLAP",
    "STAGES",
    "TEST_MATERIALS",
    "DemoConfig",
    "DemoResult",
    "DemoSizes",
    "ModelRun",
    "PieceGenerator",
    "StructureRun",
    "assemble_structures",
    "best_model",
    "build_source",
    "design_for_mechanics",
    "generate_samples",
    "graded_conditions",
    "load_models",
    "mesh_structure",
    "pick_conditions",
    "piece_size",
    "run_demo",
    "sample_dataset",
    "tension_axis",
    "tension_tests",
]
