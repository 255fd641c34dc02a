"""CLI: ``araneus design`` (webs with target stiffness per gram) and ``araneus descriptors``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``design`` and ``descriptors`` commands to ``app``."""

    @app.command("design")
    def design_cmd(
        target: list[str] = typer.Option(
            ..., "--target", "-t",
            help="NAME=VALUE [N/mm/g], repeatable: stiffness_x_per_mass, stiffness_y_per_mass, "
            "stiffness_z_per_mass, point_stiffness_per_mass.",
        ),  # fmt: skip
        out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
        material: str = typer.Option("silk", "--material", help="silk, dragline, viscid, pla, "
                                     "tpu or resin."),  # fmt: skip
        model: str = typer.Option("sparse", "--model", "-m",
                                  help="Shipped model name or checkpoint path."),  # fmt: skip
        n: int = typer.Option(16, "--n", help="Candidates per round."),
        rounds: int = typer.Option(3, "--rounds", help="Generate-evaluate-select rounds."),
        strut: float | None = typer.Option(None, "--strut", help="Thread/strut diameter [mm]."),
        data: Path | None = typer.Option(
            None, "--data", help="Dataset with the descriptors of --material (default: the "
            "default dataset, built once and cached)."
        ),  # fmt: skip
        guidance: float = typer.Option(1.0, "--guidance", help="Classifier-free guidance scale."),
        guide: bool = typer.Option(False, "--guide/--no-guide",
                                   help="Surrogate-gradient guidance of the conditions."),  # fmt: skip
        seed: int = typer.Option(0, "--seed"),
        size: bool = typer.Option(
            False, "--size", help="Also offer the best designs stretched along x, y, z by "
            "FE-fitted factors (post-hoc sizing, marked 'sized')."
        ),  # fmt: skip
        curves: bool = typer.Option(True, "--curves/--no-curves",
                                    help="Nonlinear force-displacement curves in the page."),  # fmt: skip
        setting: list[str] = typer.Option(
            [], "--set", help="Sampling setting KEY=VALUE of the model (repeatable)."
        ),
        along: str | None = typer.Option(
            None, "--along", help="Design an assembled structure along this curve (helix, "
            "lorenz, circle, line, reference): one designed piece per placement, the target "
            "graded NAME=START:END."
        ),  # fmt: skip
        pieces: int = typer.Option(8, "--pieces", help="Placements along the curve (--along)."),
        curve_set: list[str] = typer.Option(
            [], "--curve-set", help="Curve parameter KEY=VALUE (--along; repeatable)."
        ),
    ) -> None:
        """Generate webs with the target stiffness per gram, verify each by FE, rank them.

        Writes design_001.json ..., designs.csv (rank, file, target, requested, achieved,
        relative_error), design.json and designs.html.

        Example: araneus design --target stiffness_z_per_mass=500 --material silk --out designs/
        """
        from .._progress import Progress
        from ..dataset import WebDataset
        from ..design import design, parse_targets
        from ..design.output import write_design
        from . import _args as A

        A.count(n, "--n", 1, 4096, "every candidate is generated and analysed")
        A.count(rounds, "--rounds", 1, 100)
        A.count(pieces, "--pieces", 1, 1000)
        A.optional_number(strut, "--strut", 0.0, 1000.0, lo_open=True)
        A.number(guidance, "--guidance", 0.0, 50.0)
        A.seed(seed)
        A.out_dir(out)
        if data is not None:
            A.in_path(data, "--data")
        ds = WebDataset.load(data) if data is not None else None
        if along is not None:
            _tower(target, out, material, model, n, rounds, strut, ds, seed, along, pieces,
                   curve_set)  # fmt: skip
            return
        targets = parse_targets(target)
        with Progress("design", rounds) as bar:
            res = design(targets, material, model, n=n, rounds=rounds, strut=strut, data=ds,
                         guide=guide, guidance=guidance, seed=seed, sampling=setting, size=size,
                         progress=lambda done, total: bar.update(done, label="design: rounds"))  # fmt: skip
            bar.update(label="design: writing and testing the best designs")
            paths = write_design(res, out, curves=curves)
        best = int(res.order[0])
        ach = res.achieved(best)
        how = res.candidates[best].how
        typer.echo(f"{len(res.candidates)} candidates in {res.seconds:.1f} s; best design "
                   f"({'post-hoc sized' if how == 'sized' else 'round ' + str(res.candidates[best].round + 1)}) "
                   + ", ".join(f"{k} {ach[k]:.4g} (requested {v:.4g}, "
                               f"{ach[k] / v - 1:+.1%})" for k, v in targets.items()))  # fmt: skip
        typer.echo(f"wrote {paths['csv']}, {paths['html']} and "
                   f"{len(paths) - 3} web files to {out}")  # fmt: skip

    def _tower(target, out, material, model, n, rounds, strut, ds, seed, along, pieces, curve_set):
        from ..design.tower import design_tower, write_tower
        from ..errors import InputError

        if len(target) != 1:
            raise InputError("--along takes one --target NAME=START:END (or NAME=VALUE)")
        name, _, span = target[0].partition("=")
        lo, _, hi = span.partition(":")
        try:
            start, end = float(lo), float(hi or lo)
        except ValueError:
            raise InputError(f"--target {target[0]!r}: expected NAME=START:END") from None
        from .._progress import Progress

        with Progress("design: pieces", pieces) as bar:
            res = design_tower(name.strip(), start, end, pieces, along, curve_set, material,
                               model, n=n, rounds=rounds, strut=strut, data=ds, seed=seed,
                               progress=lambda done, total: bar.update(done))  # fmt: skip
        paths = write_tower(res, out, name.strip())
        err = [abs(r["relative_error"]) for r in res.rows]
        typer.echo(f"{len(res.rows)} pieces designed and assembled along {along} in "
                   f"{res.seconds:.1f} s ({res.web.n_nodes} nodes); relative error median "
                   f"{sorted(err)[len(err) // 2]:.1%}, largest {max(err):.1%}")  # fmt: skip
        typer.echo(f"wrote {paths['web']}, {paths['csv']} and {paths['html']}")

    @app.command("descriptors")
    def descriptors_cmd(
        files: list[Path] = typer.Argument(..., help="Web files."),
        material: str = typer.Option("silk", "--material", help="silk, dragline, viscid, pla, "
                                     "tpu or resin."),  # fmt: skip
        strut: float | None = typer.Option(None, "--strut", help="Thread/strut diameter [mm]."),
        pretension: str = typer.Option("auto", "--pretension", help="Silk: auto or N."),
    ) -> None:
        """Print the mechanical descriptors (stiffness per gram, N/mm/g) of web files."""
        from ..io import read_web
        from ..mechanics.descriptors import MECHANICAL_FEATURES, mechanical_descriptors
        from . import _args as A

        A.optional_number(strut, "--strut", 0.0, 1000.0, lo_open=True)
        for f in files:
            A.in_path(f, "FILES")
        webs = [read_web(f) for f in files]
        vals = mechanical_descriptors(webs, material, strut, pretension)
        typer.echo("file," + ",".join(MECHANICAL_FEATURES))
        for f, row in zip(files, vals):
            typer.echo(f"{f}," + ",".join(f"{v:.6g}" for v in row))
