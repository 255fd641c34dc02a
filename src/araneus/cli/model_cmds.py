"""CLI commands of the generative models: ``araneus train`` and ``araneus generate``."""

from __future__ import annotations

import re
from pathlib import Path

import typer

#: Most webs one ``generate`` writes (each is a file).
MAX_GENERATE = 100_000
#: Webs sampled per batch by ``generate`` (memory; results do not depend on it beyond
#: the seed of each batch, see :func:`batch_seed`).
GENERATE_BATCH = 32


def parse_condition_options(items: list[str]) -> dict[str, float]:
    """``["name=value", ...]`` -> ``{name: value}`` (an InputError names the bad item)."""
    from ..errors import InputError

    out: dict[str, float] = {}
    for it in items:
        if "=" not in it:
            raise InputError(f"--condition expects name=value, got {it!r}")
        k, v = (s.strip() for s in it.split("=", 1))
        try:
            out[k] = float(v)
        except ValueError:
            raise InputError(f"--condition {k}={v!r}: value is not a number") from None
    return out


def parse_checkpoint_every(text: str) -> tuple[int | None, float | None]:
    """``--checkpoint-every``: ``"200"`` (steps), ``"10m"`` / ``"30s"`` / ``"1h"`` (time),
    or both comma-separated; returns (steps or None, minutes or None)."""
    from ..errors import InputError

    steps, minutes = None, None
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([smh]?)", part)
        if not m:
            raise InputError(
                f"--checkpoint-every {part!r}: give steps (200), a time (30s, 10m, 1h) or both"
            )
        value, unit = float(m.group(1)), m.group(2)
        if unit:
            minutes = value * {"s": 1 / 60, "m": 1.0, "h": 60.0}[unit]
            if minutes <= 0:
                raise InputError("--checkpoint-every time must be positive")
        else:
            if value != int(value) or value < 1:
                raise InputError(f"--checkpoint-every {part!r}: steps must be an integer >= 1")
            steps = int(value)
    if steps is None and minutes is None:
        raise InputError("--checkpoint-every is empty")
    return steps, minutes


def batch_seed(seed: int, i: int) -> int:
    """Seed of generation batch ``i`` (batch 0 uses ``seed`` itself)."""
    import numpy as np

    return seed if i == 0 else int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


def earlier_generation(out: Path) -> list[Path]:
    """Files of an earlier ``generate`` run in folder ``out`` (webs, tables), sorted."""
    if not out.is_dir():
        return []
    names = re.compile(r"^web_\d{4,}\.[A-Za-z0-9.]+$|^features\.csv$|^generation\.json$")
    return sorted(p for p in out.iterdir() if names.match(p.name) and p.is_file())


def write_webs(webs, out: Path, fmt: str = "json", start: int = 0) -> list[Path]:
    """Write one web file per sample, ``web_NNNN.FMT`` numbered from ``start``."""
    from .._util import ensure_dir
    from ..io import write_web

    ensure_dir(out, "--out")
    paths = []
    for i, w in enumerate(webs):
        p = out / f"web_{start + i:04d}.{fmt}"
        write_web(w, p)
        paths.append(p)
    return paths


def write_generation(webs, requested: list[dict], out: Path, fmt: str = "json") -> list[Path]:
    """Write one web file per sample plus ``features.csv`` (requested vs achieved)."""
    paths = write_webs(webs, out, fmt)
    write_features_csv(out, paths, webs, requested)
    return paths


def write_features_csv(out: Path, paths: list[Path], webs, requested: list[dict]) -> Path:
    """``features.csv``: file, requested and achieved value of every feature."""
    import numpy as np

    from .._util import write_text_atomic
    from ..features import FEATURE_NAMES, features_table

    achieved = features_table(webs) if webs else np.zeros((0, len(FEATURE_NAMES)))
    head = (
        ["file"]
        + [f"requested_{f}" for f in FEATURE_NAMES]
        + [f"achieved_{f}" for f in FEATURE_NAMES]
    )
    lines = [",".join(head)]
    for i, p in enumerate(paths):
        req = [("" if f not in requested[i] else f"{requested[i][f]:.6g}") for f in FEATURE_NAMES]
        lines.append(",".join([p.name, *req, *(f"{v:.6g}" for v in achieved[i])]))
    write_text_atomic(out / "features.csv", "\n".join(lines) + "\n")
    return out / "features.csv"


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``generate`` to ``app``."""

    @app.command()
    def train(
        model: str = typer.Option(..., "--model", "-m", help="Model name: sparse, discrete, ..."),
        data: Path = typer.Option(..., "--data", help="Dataset .npz (araneus dataset build)."),
        out: Path = typer.Option(..., "--out", help="Run folder for checkpoints."),
        steps: int = typer.Option(3000, "--steps", help="Total optimisation steps of the run."),
        resume: bool = typer.Option(
            False, "--resume", help="Continue the run in --out up to --steps."
        ),
        batch_size: int = typer.Option(32, "--batch-size"),
        lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate, in (0, 1]."),
        seed: int = typer.Option(0, "--seed"),
        max_minutes: float = typer.Option(
            None, "--max-minutes", help="Stop (with a checkpoint) after this time."
        ),
        checkpoint_every: str = typer.Option(
            "500,10m",
            "--checkpoint-every",
            help="Checkpoint period: steps (200), time (30s, 10m, 1h) or both (200,10m), "
            "whichever comes first; and always at the end.",
        ),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ..."),
        setting: list[str] = typer.Option(
            [], "--set", help="Model setting key=value (repeatable)."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        threads: int = typer.Option(
            0,
            "--threads",
            help="Torch CPU threads (0: torch's default; 1 is fastest on a busy machine).",
        ),
    ) -> None:
        """Train a generative model on a dataset (torchrun-compatible for several processes).

        Everything is checked before training starts: the settings, the dataset, and the
        run folder (writable; with --resume, holding a checkpoint; without, not holding a
        run already). Checkpoints survive kill -9; --resume continues bit-identically.
        """
        import os

        from ..dataset import WebDataset
        from ..errors import ConfigError
        from ..models import get_model
        from ..models.train import MAX_STEPS, TrainConfig
        from ..models.train_state import prepare_run
        from . import _args as A

        cls = get_model(model)
        every, minutes = parse_checkpoint_every(checkpoint_every)
        cfg = TrainConfig(
            steps=A.count(steps, "--steps", 1, MAX_STEPS),
            batch_size=A.count(batch_size, "--batch-size", 1, 65536, "per step"),
            lr=A.number(lr, "--lr", 0.0, 1.0, lo_open=True, why="AdamW diverges"),
            seed=A.seed(seed), out=str(out), resume=resume,
            max_minutes=A.optional_number(max_minutes, "--max-minutes", 0.0, 1e6, lo_open=True),
            ckpt_every=every or MAX_STEPS, ckpt_minutes=minutes, device=device,
            progress=progress, threads=A.count(threads, "--threads", 0, 1024),
        )  # fmt: skip
        bad = [s for s in setting if "=" not in s]
        if bad:
            raise ConfigError(f"--set expects key=value, got {bad}")
        gen = cls(None, **dict(s.split("=", 1) for s in setting))
        prepare_run(out, resume, clean=os.environ.get("RANK", "0") == "0")
        ds = WebDataset.load(A.in_path(data, "--data"))
        res = gen.fit(ds, cfg)
        if os.environ.get("RANK", "0") != "0":
            return  # one report per run, from rank 0
        typer.echo(
            f"trained {model}: {res.steps} steps in {res.seconds:.1f} s, final loss "
            f"{res.final_loss:.4f}; checkpoint in {out}"
        )

    @app.command()
    def generate(
        run: str = typer.Argument(
            ...,
            metavar="MODEL",
            help="Checkpoint folder (model.json + model.safetensors), STEM.json, or the name "
            "of a shipped model: sparse, discrete, autoregressive.",
        ),
        condition: list[str] = typer.Option(
            [], "--condition", "-c", help="feature=value (repeatable)."
        ),
        n: int = typer.Option(16, "--n", help="Number of webs."),
        guidance: float = typer.Option(1.0, "--guidance", help="Classifier-free guidance scale."),
        steps: int = typer.Option(None, "--steps", help="Sampling steps (default: the model's)."),
        seed: int = typer.Option(0, "--seed"),
        out: Path = typer.Option(..., "--out", help="Output folder."),
        fmt: str = typer.Option(
            "json", "--format", help="Web file suffix (json, ply, graphml, ...)."
        ),
        settings: list[str] = typer.Option(
            [],
            "--set",
            help="Sampling setting key=value (repeatable): exact, fit_orientation, "
            "temperature, top_p, sampler, churn, sample_steps, leaf_fraction, connect, t_power, "
            "as the model has them.",
        ),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace an earlier generation in --out."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Generate webs for the given conditions; writes one file per web, features.csv
        and generation.json (settings and repair counts, read by ``araneus evaluate``).

        Conditions the model cannot make (outside ``condition_bounds``: its node limit,
        lengths far from its training data, ...) are refused with the model's range.
        """
        from .._progress import Progress
        from ..errors import InputError
        from ..io import format_for
        from ..metrics.folder import write_generation_info
        from ..models import load_model_or_pretrained
        from ..models.base import set_sampling
        from ..models.conditioning import parse_conditions
        from ..models.decode import DecodeStats
        from . import _args as A

        A.count(n, "--n", 1, MAX_GENERATE, "each web is a file; run generate again for more")
        A.seed(seed)
        A.number(guidance, "--guidance", 0.0, 50.0)
        if steps is not None:
            A.count(steps, "--steps", 1, 1000)
        format_for(Path(f"web.{fmt}"), None, "write")
        A.out_dir(out)
        cond = parse_condition_options(condition)
        model = load_model_or_pretrained(run)
        if settings:
            set_sampling(model, settings)
        if hasattr(model, "check_conditions"):
            model.check_conditions(*parse_conditions(cond, 1, model.feature_names))
        earlier = earlier_generation(out)
        if earlier and not overwrite:
            raise InputError(
                f"--out {out} already holds a generation ({len(earlier)} files such as "
                f"{earlier[0].name}); choose another folder or give --overwrite"
            )
        for p in earlier:  # replaced only once the whole request is checked
            p.unlink(missing_ok=True)
        webs, paths, stats = [], [], DecodeStats()
        with Progress("generate", n, enabled=progress) as bar:
            for i, first in enumerate(range(0, n, GENERATE_BATCH)):
                k = min(GENERATE_BATCH, n - first)
                part = model.sample(
                    cond, k, guidance=guidance, seed=batch_seed(seed, i), steps=steps
                )
                paths += write_webs(part, out, fmt, start=first)
                webs += part
                stats.add(getattr(model, "last_decode_stats", None) or DecodeStats())
                bar.advance(k)
        model.last_decode_stats = stats  # the whole run's repair counts
        write_features_csv(out, paths, webs, [cond] * n)
        write_generation_info(out, model, len(webs), guidance=guidance, seed=seed, steps=steps)
        rate = f", repair needed in {100 * stats.repair_rate:.0f}% of samples"
        typer.echo(f"wrote {len(webs)} webs and features.csv to {out}{rate}")
