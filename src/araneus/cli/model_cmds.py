"""CLI commands of the generative models: ``araneus train`` and ``araneus generate``."""

from __future__ import annotations

from pathlib import Path

import typer


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


def write_generation(webs, requested: list[dict], out: Path, fmt: str = "json") -> list[Path]:
    """Write one web file per sample plus ``features.csv`` (requested vs achieved)."""
    import numpy as np

    from .._util import write_text_atomic
    from ..features import FEATURE_NAMES, features_table
    from ..io import write_web

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, w in enumerate(webs):
        p = out / f"web_{i:04d}.{fmt}"
        write_web(w, p)
        paths.append(p)
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
    return paths


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
        lr: float = typer.Option(1e-3, "--lr"),
        seed: int = typer.Option(0, "--seed"),
        max_minutes: float = typer.Option(
            None, "--max-minutes", help="Stop (with a checkpoint) after this time."
        ),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ..."),
        setting: list[str] = typer.Option(
            [], "--set", help="Model setting key=value (repeatable)."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Train a generative model on a dataset (torchrun-compatible for several processes)."""
        from ..dataset import WebDataset
        from ..models import get_model
        from ..train import TrainConfig

        cls = get_model(model)
        cfg = TrainConfig(
            steps=steps, batch_size=batch_size, lr=lr, seed=seed, out=str(out), resume=resume,
            max_minutes=max_minutes, device=device, progress=progress,
        )  # fmt: skip
        bad = [s for s in setting if "=" not in s]
        if bad:
            from ..errors import ConfigError

            raise ConfigError(f"--set expects key=value, got {bad}")
        gen = cls(None, **dict(s.split("=", 1) for s in setting))
        res = gen.fit(WebDataset.load(data), cfg)
        typer.echo(
            f"trained {model}: {res.steps} steps in {res.seconds:.1f} s, final loss "
            f"{res.final_loss:.4f}; checkpoint in {out}"
        )

    @app.command()
    def generate(
        run: Path = typer.Argument(
            ..., help="Run/checkpoint folder (model.json + model.safetensors)."
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
    ) -> None:
        """Generate webs for the given conditions; writes one file per web, features.csv
        and generation.json (settings and repair counts, read by ``araneus evaluate``)."""
        from ..metrics.folder import write_generation_info
        from ..models import load_model
        from ..models.base import set_sampling

        cond = parse_condition_options(condition)
        model = load_model(run)
        if settings:
            set_sampling(model, settings)
        webs = model.sample(cond, n, guidance=guidance, seed=seed, steps=steps)
        write_generation(webs, [cond] * n, out, fmt)
        write_generation_info(out, model, len(webs), guidance=guidance, seed=seed, steps=steps)
        st = getattr(model, "last_decode_stats", None)
        rate = (
            f", repair needed in {100 * st.repair_rate:.0f}% of samples" if st is not None else ""
        )
        typer.echo(f"wrote {len(webs)} webs and features.csv to {out}{rate}")
