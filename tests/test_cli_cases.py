"""The CLI keeps its promise: every mistake a user can make is one line on stderr starting
with ``error:``, exit status 2, nothing on stdout and nothing half-written; work is refused
before it starts. A table of the cases found by the issue-22 fuzzer, plus property tests
for the open-ended ones (any value of a numeric option)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _models_synth import synth_dataset
from araneus.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, match: str) -> None:
    assert code == 2, (code, out, err)
    assert out == "", out
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "╭" not in err, err
    assert match in err, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small web, a tiny trained run folder, a dataset, a plain file and a folder."""
    from araneus import builders
    from araneus.io import write_web
    from araneus.models import get_model
    from araneus.models.train import TrainConfig

    d = tmp_path_factory.mktemp("cli")
    web = builders.build("orb", None, 0)
    write_web(web, d / "w.json")
    data = synth_dataset(24, seed=0, K=4, L=24)
    data.save(d / "d.npz")
    m = get_model("sparse")(width=16, depth=1, heads=2)
    m.fit(data, TrainConfig(steps=2, batch_size=8, warmup=1, progress=False, out=str(d / "run")))
    (d / "plain.txt").write_text("x")
    (d / "folder").mkdir()
    return d


LONG = "a" * 300
UNWRITABLE = "/sys/araneus-test"  # not writable even for the super-user

# (id, arguments with {d} for the fixture folder, text expected in the error line)
CASES = [
    ("set-int-inf", "build orb --out {d}/o.json --set n_anchors=inf", "n_anchors=inf"),
    ("set-int-nan", "build orb --out {d}/o.json --set max_radii=nan", "max_radii=nan"),
    ("set-float-inf", "build orb --out {d}/o.json --set sag=inf", "sag=inf"),
    ("spiral-spacing", "build orb --out {d}/o.json --set spiral_spacing_inner=1e-9", "too fine"),
    ("build-seed", "build orb --out {d}/o.json --seed -1", "--seed"),
    ("build-out-folder", "build orb --out {d}/folder", "is a directory"),
    ("build-out-under-file", "build orb --out {d}/plain.txt/o.json", "not a directory"),
    ("build-long-name", "build orb --out {d}/" + LONG + ".json", "bytes long"),
    ("build-unwritable", f"build orb --out {UNWRITABLE}/o.json", "cannot write"),
    ("mesh-segments", "mesh {d}/w.json --out {d}/m.stl --segments 100000", "--segments"),
    ("mesh-scale", "mesh {d}/w.json --out {d}/m.stl --scale 1e308", "--scale"),
    ("mesh-scale-nan", "mesh {d}/w.json --out {d}/m.stl --scale nan", "--scale"),
    ("mesh-unwritable", f"mesh {{d}}/w.json --out {UNWRITABLE}/m.stl", "cannot write"),
    ("gen-n", "generate {d}/run --out {d}/g --n 100000000", "--n"),
    ("gen-n-zero", "generate {d}/run --out {d}/g --n 0", "--n"),
    ("gen-seed", "generate {d}/run --out {d}/g --seed -1", "--seed"),
    ("gen-guidance", "generate {d}/run --out {d}/g --guidance inf", "--guidance"),
    ("gen-nodes-huge", "generate {d}/run --out {d}/g -c num_nodes=1e9", "outside what"),
    ("gen-nodes-zero", "generate {d}/run --out {d}/g -c num_nodes=0", "outside what"),
    ("gen-nodes-neg", "generate {d}/run --out {d}/g -c num_nodes=-5", "outside what"),
    ("gen-len-neg", "generate {d}/run --out {d}/g -c mean_edge_length=-1", "outside what"),
    ("gen-len-huge", "generate {d}/run --out {d}/g -c mean_edge_length=1e308", "outside what"),
    ("gen-edges", "generate {d}/run --out {d}/g -c num_nodes=10 -c num_edges=40", "at most"),
    ("gen-axis", "generate {d}/run --out {d}/g -c mean_edge_length=1 -c mean_abs_dz=2",
     "never longer"),
    ("gen-out-file", "generate {d}/run --out {d}/plain.txt", "not a directory"),
    ("gen-out-long", "generate {d}/run --out {d}/" + LONG, "bytes long"),
    ("gen-format", "generate {d}/run --out {d}/g --format nope", "nope"),
    ("gen-no-model", "generate {d}/nothing --out {d}/g", "no model checkpoint"),
    ("gen-no-name", "generate nosuchmodel --out {d}/g", "no shipped model"),
    ("train-lr", "train -m sparse --data {d}/d.npz --out {d}/r --lr 1e308", "--lr"),
    ("train-lr-neg", "train -m sparse --data {d}/d.npz --out {d}/r --lr -1", "--lr"),
    ("train-steps", "train -m sparse --data {d}/d.npz --out {d}/r --steps 0", "--steps"),
    ("train-seed", "train -m sparse --data {d}/d.npz --out {d}/r --seed -3", "--seed"),
    ("train-ckpt", "train -m sparse --data {d}/d.npz --out {d}/r --checkpoint-every 0", "steps"),
    ("train-ckpt-unit", "train -m sparse --data {d}/d.npz --out {d}/r --checkpoint-every 5x",
     "checkpoint-every"),
    ("train-out-file", "train -m sparse --data {d}/d.npz --out {d}/plain.txt", "not a directory"),
    ("train-out-run", "train -m sparse --data {d}/d.npz --out {d}/run", "already holds"),
    ("train-no-resume", "train -m sparse --data {d}/d.npz --out {d}/new --resume",
     "no complete checkpoint"),
    # a run of 10^8 steps that must fail at once: the output is checked before the work
    ("train-unwritable", f"train -m sparse --data {{d}}/d.npz --out {UNWRITABLE} --steps 100000000",
     "cannot write"),
    ("train-set", "train -m sparse --data {d}/d.npz --out {d}/r --set width=inf", "width"),
    ("train-set-huge", "train -m sparse --data {d}/d.npz --out {d}/r --set depth=100000", "depth"),
    ("train-no-data", "train -m sparse --data {d}/nothing.npz --out {d}/r", "no such file"),
    ("ds-same-file", "dataset build --source {d}/w.json --out {d}/w.json", "is the input"),
    ("ds-n", "dataset build --builder orb --out {d}/x.npz --n 100000000000", "--n"),
    ("ds-seed", "dataset build --builder orb --out {d}/x.npz --seed -1", "--seed"),
    ("ds-out-folder", "dataset build --builder orb --out {d}/folder", "is a directory"),
    ("asm-steps", "assemble --model {d}/run --steps 0 --out {d}/a.json", "--steps"),
    ("asm-steps-big", "assemble --model {d}/run --steps 100000000 --out {d}/a.json", "--steps"),
    ("asm-scale", "assemble {d}/w.json --steps 2 --scale 1e308 --out {d}/a.json", "--scale"),
    ("asm-same", "assemble {d}/w.json --steps 2 --out {d}/w.json", "is the input"),
    ("resample-fine", "resample {d}/w.json {d}/rs.json --resolution 1e-6", "segments"),
    ("resample-seed", "resample {d}/w.json {d}/rs.json --seed -1", "--seed"),
    ("resample-jitter", "resample {d}/w.json {d}/rs.json --jitter inf", "jitter"),
    ("resample-same", "resample {d}/w.json {d}/w.json", "is the input"),
    ("analyze-out", "analyze {d}/w.json --out {d}/plain.txt", "not a directory"),
    ("analyze-voxels", "analyze {d}/w.json --out {d}/an --voxels 100000", "--voxels"),
    ("convert-folder", "convert {d}/w.json {d}/folder", "is a directory"),
    ("convert-same", "convert {d}/w.json {d}/w.json", "is the input"),
    ("repair-report", "repair {d}/w.json {d}/r.json --report {d}/folder", "is a directory"),
    ("demo-out", "demo --quick --out {d}/plain.txt", "not a directory"),
    ("demo-threads", "demo --quick --out {d}/dm --threads 0", "--threads"),
    ("test-out", "test {d}/w.json --out {d}/plain.txt", "not a directory"),
    # usage errors: one line too, not typer's box
    ("usage-missing-arg", "build", "missing argument"),
    ("usage-missing-opt", "build orb", "missing option"),
    ("usage-bad-option", "build orb --out {d}/o.json --nope", "no such option"),
    ("usage-bad-int", "generate {d}/run --out {d}/g --n abc", "--n"),
    ("usage-no-command", "nocommand", "no such command"),
    ("usage-group", "dataset nocommand", "no such command"),
]


@pytest.mark.parametrize("args,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_case_is_one_line_error(files, capsys, args, match):
    before = sorted(p.name for p in files.iterdir())
    argv = [a.replace("{d}", str(files)) for a in args.split()]
    assert_one_line_error(*run_cli(argv, capsys), match)
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written


def test_no_arguments_prints_help(capsys):
    code, out, err = run_cli([], capsys)
    assert code == 0 and "Usage" in out and "generate" in out


@pytest.mark.parametrize("name", ["sparse", "discrete", "autoregressive"])
def test_generate_uses_shipped_weights_by_name(name, tmp_path, capsys):
    from araneus.models import pretrained_models

    if name not in pretrained_models():
        pytest.skip(f"no shipped {name} weights")
    out = tmp_path / "g"
    code, stdout, err = run_cli(["generate", name, "--n", "1", "--out", out], capsys)
    assert code == 0, err
    assert stdout.startswith("wrote 1 webs") and stdout.count("\n") == 1
    assert (out / "web_0000.json").is_file() and (out / "features.csv").is_file()


def test_assemble_uses_shipped_weights_by_name(tmp_path, capsys):
    from araneus.models import pretrained_models

    if "sparse" not in pretrained_models():
        pytest.skip("no shipped weights")
    args = ["assemble", "--model", "sparse", "--steps", "2", "--out", tmp_path / "a.json"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert out.startswith("wrote") and (tmp_path / "a.json").is_file()


def test_progress_goes_to_stderr_only(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARANEUS_PROGRESS", "1")  # force the bar although not a terminal
    args = ["generate", files / "run", "--n", "3", "--out", tmp_path / "g"]
    code, out, err = run_cli(args, capsys)
    assert code == 0
    assert out.startswith("wrote 3 webs") and out.count("\n") == 1
    assert "generate" in err and "3/3" in err
    monkeypatch.setenv("ARANEUS_PROGRESS", "0")
    code, out, err = run_cli([*args[:-1], tmp_path / "g2"], capsys)
    assert code == 0 and err == ""


def test_generate_refuses_to_mix_with_an_earlier_generation(files, tmp_path, capsys):
    out = tmp_path / "g"
    assert run_cli(["generate", files / "run", "--n", "3", "--out", out], capsys)[0] == 0
    again = ["generate", files / "run", "--n", "2", "--out", out]
    assert_one_line_error(*run_cli(again, capsys), "already holds a generation")
    assert len(list(out.glob("web_*.json"))) == 3
    bad = [*again, "--overwrite", "-c", "num_nodes=1e9"]  # checked before anything goes
    assert_one_line_error(*run_cli(bad, capsys), "outside what")
    assert len(list(out.glob("web_*.json"))) == 3
    assert run_cli([*again, "--overwrite"], capsys)[0] == 0
    assert sorted(p.name for p in out.glob("web_*.json")) == ["web_0000.json", "web_0001.json"]
    assert len((out / "features.csv").read_text().splitlines()) == 3


def test_generate_many_in_batches_is_seeded(files, tmp_path, capsys):
    from araneus.io import read_web

    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run_cli(["generate", files / "run", "--n", "35", "--out", out], capsys)[0] == 0
    names = sorted(p.name for p in a.glob("web_*.json"))
    assert len(names) == 35 and names[-1] == "web_0034.json"
    for n in names:
        assert read_web(a / n).equals(read_web(b / n))
    rows = (a / "features.csv").read_text().splitlines()
    assert len(rows) == 36


def test_demo_counter_counts_from_one():
    """The stage counter reads [1/N] for the first stage (it read [0/8] 1. build)."""
    from araneus.cli.demo_cmds import stage_line
    from araneus.demo import STAGES

    n = len(STAGES)
    assert stage_line(0, STAGES[0]) == f"demo [1/{n}] {STAGES[0]}"
    assert stage_line(n - 1, STAGES[-1]) == f"demo [{n}/{n}] {STAGES[-1]}"


# ------------------------------------------------------------------ open-ended: any value
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "1e308", "-0", "0", "1e-320", "", "abc", "0x10"]),
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# commands whose input is missing: any numbers pass or fail validation, then the missing
# input stops the command, so no real work is ever started
NUMERIC_OPTIONS = [
    ("generate {d}/nothing --out {d}/g", ["--n", "--seed", "--guidance", "--steps"]),
    ("mesh {d}/nothing.json --out {d}/m.stl", ["--segments", "--scale", "--node",
                                               "--plate-thickness"]),
    ("train -m sparse --data {d}/nothing.npz --out {d}/r", ["--steps", "--batch-size", "--lr",
                                                            "--seed", "--max-minutes"]),
    ("dataset build --source {d}/nothing.json --out {d}/x.npz", ["--n", "-K", "--seed",
                                                                 "--jitter", "--n-min"]),
    ("assemble --piece {d}/nothing.json --out {d}/a.json", ["--steps", "--overlap", "--tol",
                                                            "--scale", "--max-degree", "--seed"]),
    ("analyze {d}/nothing.json --out {d}/an", ["--bins", "--voxels"]),
    ("resample {d}/nothing.json {d}/rs.json", ["--seed", "--resolution"]),
    ("build orb --out {d}/nothing/o.json --set n_anchors=bad", ["--seed", "--linewidth"]),
]


@FUZZ
@given(data=st.data())
def test_any_number_in_any_option_is_one_line(files, capsys, data):
    cmd, options = data.draw(st.sampled_from(NUMERIC_OPTIONS), label="command")
    argv = [a.replace("{d}", str(files)) for a in cmd.split()]
    for opt in data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True)):
        argv += [opt, data.draw(NUMBERS, label=opt)]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, (argv, err)
    assert err.startswith("error: ") and "Traceback" not in err


@FUZZ
@given(key=st.sampled_from(["n_anchors", "max_radii", "sag", "hub_turns", "frame_radius",
                            "spiral_spacing_inner", "jitter", "nope"]), value=NUMBERS)
def test_any_builder_setting_value_is_a_config_or_one_error(key, value):
    from araneus import builders
    from araneus._util import apply_overrides
    from araneus.errors import ConfigError

    try:
        apply_overrides(builders.BUILDERS["orb"].config(), [f"{key}={value}"], "orb config")
    except ConfigError as exc:
        assert "\n" not in str(exc)


def test_stale_outputs_never_half_written(files, tmp_path, capsys):
    """A failing write leaves no temporary file and keeps the old output."""
    target = tmp_path / "o.json"
    target.write_text("old")
    os.chmod(tmp_path, 0o500)
    try:
        if os.access(tmp_path, os.W_OK):  # the super-user may write anyway
            pytest.skip("permissions are not enforced for this user")
        code, out, err = run_cli(["build", "orb", "--out", target], capsys)
        assert_one_line_error(code, out, err, "cannot write")
    finally:
        os.chmod(tmp_path, 0o700)
    assert target.read_text() == "old"
    assert not [p for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")]
