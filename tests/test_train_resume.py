"""Training that survives kill -9: atomic checkpoint folders, resumption bit-identical to an
uninterrupted run, stale temporary files, checkpoints by time, and the run-folder checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from _models_synth import synth_dataset
from araneus.errors import FormatError, InputError
from araneus.models import get_model, load_model
from araneus.models.train import TrainConfig
from araneus.models.train_state import STATE_JSON, STATE_WEIGHTS, verify_checkpoint

HERE = Path(__file__).resolve().parent
TINY = {
    "sparse": ["width=16", "depth=1", "heads=2"],
    "discrete": ["width=16", "depth=1", "heads=2", "edge_width=4"],
    "autoregressive": ["width=16", "depth=1", "heads=2", "mixtures=2"],
}
STEPS, BATCH = 24, 8


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "d.npz"
    synth_dataset(48, seed=0, K=4, L=24).save(path)
    return path


def _cli_args(name: str, data: Path, run: Path, resume: bool) -> list[str]:
    args = ["train", "--model", name, "--data", str(data), "--out", str(run)]
    args += ["--steps", str(STEPS), "--batch-size", str(BATCH), "--no-progress"]
    args += ["--checkpoint-every", "1"]  # a checkpoint every step: most kills land in one
    for s in TINY[name]:
        args += ["--set", s]
    return args + (["--resume"] if resume else [])


def _reference(name: str, data: Path, tmp: Path):
    """The uninterrupted run, in this process through the API (same settings as the CLI)."""
    from araneus.dataset import WebDataset

    model = get_model(name)(**dict(s.split("=") for s in TINY[name]))
    cfg = TrainConfig(steps=STEPS, batch_size=BATCH, progress=False, out=str(tmp / "ref"))
    res = model.fit(WebDataset.load(data), cfg)
    return res.losses, tmp / "ref"


def _weights(run: Path) -> dict[str, torch.Tensor]:
    """EMA weights (the run's model) and raw weights + optimizer state (its last checkpoint)."""
    from araneus.models.checkpoint import step_dirs

    out = {f"ema.{k}": v for k, v in load_file(str(run / "model.safetensors")).items()}
    last = step_dirs(run)[-1][1]
    out.update({f"state.{k}": v for k, v in load_file(str(last / STATE_WEIGHTS)).items()})
    return out


def _has_checkpoint(run: Path) -> bool:
    from araneus.models.checkpoint import step_dirs

    return bool(step_dirs(run))


def _newest_step(run: Path) -> int:
    from araneus.models.checkpoint import step_dirs

    found = step_dirs(run)
    return found[-1][0] if found else 0


def _kill_and_resume(name: str, data: Path, run: Path, kills: int, seed: int) -> list[str]:
    """Start the child and kill -9 it at a random point, ``kills`` times; then let it finish.

    Each kill picks a random step k a little beyond the newest checkpoint and a random delay
    (0-40 ms): it waits until checkpoint k is in place, then kills, so kills land anywhere
    in the training loop, in a checkpoint being written, renamed, published or pruned.
    Returns what happened at each kill (for the failure message).
    """
    rng = np.random.default_rng(seed)
    log = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    for attempt in range(kills + 1):
        args = _cli_args(name, data, run, resume=_has_checkpoint(run))
        child = subprocess.Popen(
            [sys.executable, str(HERE / "_train_child.py"), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        assert child.stdout.readline().strip() == "ready"
        first = _newest_step(run) + 1
        if attempt < kills and first < STEPS:
            target = int(rng.integers(first, min(first + 6, STEPS)))
            delay = float(rng.uniform(0.0, 0.04))
            while child.poll() is None and _newest_step(run) < target:
                time.sleep(0.001)
            time.sleep(delay)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                child.wait()
                log.append(f"killed {delay * 1000:.0f} ms after checkpoint {target}")
                continue
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, (log, err)
        log.append("finished")
        if attempt < kills:  # finished before its kill: nothing more to interrupt
            break
    return log


def _check_same(name: str, data: Path, run: Path, tmp: Path, log) -> None:
    losses, ref = _reference(name, data, tmp)
    got, want = _weights(run), _weights(ref)
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), (k, log)
    from araneus.models.checkpoint import step_dirs

    meta = json.loads((step_dirs(run)[-1][1] / STATE_JSON).read_text())
    assert meta["losses"] == losses, log  # bit-identical loss curve
    assert not list(run.rglob("*.tmp")), "temporary files left behind"


def test_kill_9_at_random_points_resumes_to_the_same_weights(data_file, tmp_path):
    run = tmp_path / "run"
    log = _kill_and_resume("sparse", data_file, run, kills=3, seed=0)
    _check_same("sparse", data_file, run, tmp_path, log)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sparse", "discrete", "autoregressive"])
def test_kill_9_ten_times_every_model(name, data_file, tmp_path):
    run = tmp_path / "run"
    log = _kill_and_resume(name, data_file, run, kills=10, seed=1)
    _check_same(name, data_file, run, tmp_path, log)


# ----------------------------------------------------------------------------- unit tests
def _fit(tmp_path, name="sparse", **kw):
    model = get_model(name)(**dict(s.split("=") for s in TINY[name]))
    base = dict(steps=6, batch_size=8, progress=False, out=str(tmp_path / "run"), ckpt_every=2)
    base.update(kw)
    res = model.fit(synth_dataset(24, seed=0, K=4, L=24), TrainConfig(**base))
    return model, res


def test_checkpoint_folders_are_complete_units_and_old_ones_go(tmp_path):
    from araneus.models.checkpoint import step_dirs

    _fit(tmp_path, keep_checkpoints=2)
    run = tmp_path / "run"
    assert [s for s, _ in step_dirs(run)] == [4, 6]
    for _, d in step_dirs(run):
        assert verify_checkpoint(d) is None
        names = {p.name for p in d.iterdir()}
        assert names == {"model.json", "model.safetensors", STATE_JSON, STATE_WEIGHTS}
    assert load_model(run).train_info["step"] == 6


def test_stale_temporaries_are_cleaned_and_bad_checkpoints_skipped(tmp_path, capsys):
    from araneus.models.checkpoint import step_dirs

    _fit(tmp_path, steps=4)
    run = tmp_path / "run"
    (run / ".model.json.abc.tmp").write_text("half")
    (run / "checkpoints" / ".step-000000006.xyz.tmp").mkdir()
    last = step_dirs(run)[-1][1]
    with open(last / STATE_WEIGHTS, "r+b") as fh:  # a flipped byte in the newest checkpoint
        fh.seek(200)
        b = fh.read(1)
        fh.seek(200)
        fh.write(bytes([b[0] ^ 0xFF]))
    assert "does not match" in verify_checkpoint(last)
    model, res = _fit(tmp_path, steps=6, resume=True)
    assert "skipping checkpoint" in capsys.readouterr().err
    assert res.steps == 6 and not list(run.rglob("*.tmp"))
    ref_model, _ = _fit(tmp_path / "ref", steps=6)
    for k, v in ref_model.net.state_dict().items():  # resumed from step 2: still identical
        assert torch.equal(v, model.net.state_dict()[k])


def test_incomplete_run_pair_falls_back_to_the_newest_checkpoint(tmp_path):
    _fit(tmp_path)
    run = tmp_path / "run"
    (run / "model.json").unlink()  # killed between the pair's two renames
    assert load_model(run).train_info["step"] == 6


def test_run_folder_checked_before_any_work(tmp_path):
    _fit(tmp_path, steps=2)
    with pytest.raises(InputError, match="already holds a training run"):
        _fit(tmp_path, steps=2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        _fit(tmp_path, out=str(blocker))
    with pytest.raises(FormatError, match="no complete checkpoint"):
        _fit(tmp_path, out=str(tmp_path / "empty"), resume=True)
    assert not (tmp_path / "empty").exists()


def test_checkpoints_by_time(tmp_path):
    from araneus.models.checkpoint import step_dirs

    _fit(tmp_path, steps=5, ckpt_every=1000, ckpt_minutes=1e-9, keep_checkpoints=10)
    assert [s for s, _ in step_dirs(tmp_path / "run")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"lr": 1e308}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"steps": 10**9}, "steps"),
        ({"ckpt_minutes": -1.0}, "ckpt_minutes"),
        ({"ckpt_every": 0}, "ckpt_every"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 10**7}, "batch_size"),
    ],
)
def test_train_config_bounds(kw, match):
    from araneus.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kw)
