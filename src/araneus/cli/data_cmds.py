"""CLI: ``araneus dataset build|info|import-reference`` and ``araneus evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer

#: Most samples of one dataset (held in memory: about 2 kB each at L=64, K=5).
MAX_SAMPLES = 2_000_000


def register(app: typer.Typer) -> None:
    """Add the ``dataset`` command group and the ``evaluate`` command to ``app``."""
    ds_app = typer.Typer(
        help="Training sets of small webs cut out of big ones (inductive sampling).",
        no_args_is_help=True,
    )
    app.add_typer(ds_app, name="dataset")

    @ds_app.command("build")
    def build_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Output dataset file (.npz)."),
        n: int = typer.Option(20000, "--n", help="Number of samples."),
        source: Path | None = typer.Option(None, "--source", help="Source web file."),
        builder: str | None = typer.Option(
            None,
            "--builder",
            help="Source from a builder: orb, tent, tangle, or 'default' "
            "(the default multi-web training set).",  # fmt: skip
        ),
        sampler: str = typer.Option("rw", "--sampler", help="rw, bfs or crop."),
        split: str = typer.Option("random", "--split", help="random, region or none."),
        n_min: int = typer.Option(16, "--n-min", help="Smallest sample (nodes)."),
        n_max: int = typer.Option(64, "--n-max", help="Largest sample (nodes, <= 128)."),
        k: int = typer.Option(5, "-K", "--max-neighbors", help="Degree cap K."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        rotate: bool = typer.Option(False, "--rotate", help="Random rotation about z."),
        reflect: bool = typer.Option(False, "--reflect", help="Random x-reflection."),
        jitter: float = typer.Option(0.0, "--jitter", help="Noise, fraction of edge length."),
        extra: str = typer.Option("", "--extra", help="Extra features, comma-separated."),
        crop_shape: str = typer.Option("sphere", "--crop-shape", help="sphere or cube."),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        mechanics: str = typer.Option(
            "none",
            "--mechanics",
            help="Add the mechanical descriptors (stiffness per gram along x, y, z and under "
            "a point load) for this material: silk, dragline, viscid, pla, tpu, resin, or none.",
        ),  # fmt: skip
        strut: float | None = typer.Option(
            None, "--strut", help="Thread/strut diameter of the descriptors [mm] (default: "
            "0.004 silk, 0.8 printed)."
        ),  # fmt: skip
        workers: int = typer.Option(1, "--workers", help="Processes for the descriptors."),
    ) -> None:
        """Cut --n samples out of a web and save them as a dataset.

        Example: araneus dataset build --builder tent --n 20000 --split region --out data.npz
        """
        from .._progress import Progress
        from ..dataset import build_dataset, default_dataset
        from ..errors import InputError
        from . import _args as A

        if (source is None) == (builder is None):
            raise InputError("give exactly one of --source FILE or --builder NAME")
        A.count(n, "--n", 1, MAX_SAMPLES, "the dataset is held in memory")
        A.count(k, "--max-neighbors", 1, 64)
        A.seed(seed)
        A.number(jitter, "--jitter", 0.0, 1.0)
        if source is not None:
            A.in_path(source, "--source")
        A.out_file(out, inputs=[source] if source is not None else ())
        kw = dict(
            sampler=sampler, n_min=n_min, n_max=n_max, K=k, split=split, seed=seed,
            rotate=rotate, reflect=reflect, jitter=jitter, crop_shape=crop_shape,
            extra_features=[e.strip() for e in extra.split(",") if e.strip()],
            mechanics=mechanics, strut=strut, workers=workers,
        )  # fmt: skip
        with Progress("dataset: source webs", n, enabled=progress) as bar:
            kw["progress"] = lambda done, total: bar.update(done, label="dataset: sampling")
            if builder == "default":
                ds = default_dataset(n, **kw)
            else:
                if builder is not None:
                    from .. import builders

                    if builder not in builders.BUILDERS:
                        valid = ", ".join([*builders.BUILDERS, "default"])
                        raise InputError(f"--builder {builder!r} unknown; valid: {valid}")
                    web = builders.build(builder, None, max(seed, 0))
                else:
                    from ..io import read_web

                    web = read_web(source)
                ds = build_dataset(web, n, **kw)
            bar.update(label=f"dataset: writing {out.name}")
            ds.save(out)
        c = ds.meta["counts"]
        typer.echo(f"wrote {out}: {len(ds)} samples (train/val/test {c['split']}), "
                   f"L={ds.L}, K={ds.K}, rejected {c['rejected_small']}, degree-cap dropped "
                   f"{c['degree_cap_dropped_edges']} edges, overlap {ds.meta['split_overlap']}")  # fmt: skip
        mech = ds.meta.get("mechanics")
        if mech:
            moved = mech.get("moved_max_rel", {})
            typer.echo(f"mechanics {mech['material']} (strut {mech['strut_mm']} mm): descriptors "
                       f"in {mech['seconds']:.1f} s, {mech['dropped']} samples undefined and dropped"
                       + (f"; prestress moved nodes by at most {moved['median']:.1%} of the extent "
                          f"(median web), {moved['p90']:.1%} (90th percentile)" if moved else ""))  # fmt: skip

    @ds_app.command("info")
    def info_cmd(
        path: Path = typer.Argument(..., help="Dataset file (.npz)."),
        plot: Path | None = typer.Option(None, "--plot", help="Save feature histograms (PNG)."),
    ) -> None:
        """Print a dataset summary and feature ranges; optionally plot feature histograms."""
        from ..dataset import WebDataset
        from ..dataset.files import feature_histograms, summary

        if plot is not None:
            from ..report.plot import figure_format

            figure_format(plot)  # fail on a bad name before printing
        ds = WebDataset.load(path)
        typer.echo(summary(ds))
        if plot is not None:
            feature_histograms(ds, plot)
            typer.echo(f"wrote {plot}")

    @ds_app.command("import-reference")
    def import_cmd(
        path: Path = typer.Argument(..., help="The reference's dataset_webs_medium.pt."),
        out: Path = typer.Option(..., "--out", "-o", help="Output dataset file (.npz)."),
        allow_pickle: bool = typer.Option(
            False, "--allow-pickle", help="Allow full unpickling (runs code: trusted files only)."
        ),
    ) -> None:
        """Convert the reference work's tuple file into an araneus dataset."""
        from ..dataset import load_reference
        from . import _args as A

        A.out_file(out, inputs=[path])
        ds = load_reference(path, allow_pickle=allow_pickle)
        ds.save(out)
        typer.echo(f"wrote {out}: {len(ds)} samples, {ds.meta['reference_import']}")

    @app.command("evaluate")
    def evaluate_cmd(
        generated: Path = typer.Argument(
            ...,
            help="Generated webs: a folder from 'araneus generate', any folder of web "
            "files, or a dataset file.",
        ),  # fmt: skip
        reference: Path = typer.Option(..., "--reference", help="Dataset file or folder."),
        train: Path | None = typer.Option(
            None, "--train", help="Training set: novelty, and the baseline of MMD ratios."
        ),
        ref_split: str | None = typer.Option(
            None, "--reference-split", help="Use only this split of a reference dataset."
        ),
        k: int = typer.Option(5, "-K", "--max-neighbors", help="Degree cap of validity."),
        kernel: str = typer.Option("emd", "--kernel", help="emd (GraphRNN) or tv (GRAN)."),
        tol: float = typer.Option(
            0.05, "--geometry-tol", help="Same geometry: nodes within this x mean edge length."
        ),
        limit: int | None = typer.Option(None, "--limit", help="At most this many webs per set."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON."),
    ) -> None:
        """Compare generated webs with reference webs: fidelity, V.U.N., MMDs, structure.

        Example: araneus evaluate gen/ --reference data.npz --reference-split test --train data.npz
        """
        import json

        import numpy as np

        from .._util import write_text_atomic
        from ..dataset.files import load_webs
        from ..errors import InputError
        from ..metrics import evaluate, format_report, load_generated

        if json_out is not None and json_out.is_dir():
            raise InputError(f"--json {json_out} is a directory; give a file name")
        gen = load_generated(generated, limit=limit)
        ref = load_webs(reference, split=ref_split, limit=limit)
        tr = None if train is None else load_webs(train, split="train")
        base = None
        if tr is not None:  # a seeded draw of training webs as large as the generated set
            pick = np.random.default_rng(0).permutation(len(tr))[: len(gen.webs)]
            base = [tr[i] for i in np.sort(pick)]
        label = None
        if gen.info.get("model"):
            exact = (gen.info.get("config") or {}).get("exact")
            how = {True: "constrained (exact=true)", False: "model alone (exact=false)"}
            label = f"{gen.info['model']}, {how.get(exact, 'sampling settings unknown')}"
        rep = evaluate(gen.webs, ref, train=tr, requested=gen.requested, K=k, kernel=kernel,
                       geometry_tol=tol, baseline=base, decode_stats=gen.decode_stats,
                       label=label)  # fmt: skip
        typer.echo(format_report(rep))
        if json_out is not None:
            write_text_atomic(json_out, json.dumps(rep, indent=2))
            typer.echo(f"wrote {json_out}")
