"""Distributed data-parallel training: two CPU processes on the gloo backend."""

from __future__ import annotations

import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from _models_synth import synth_dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    from safetensors.torch import save_file

    from araneus.models import get_model
    from araneus.train import TrainConfig

    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world)
    )
    data = synth_dataset(32, seed=0, K=4, L=24)
    model = get_model("sparse")(width=16, depth=1, heads=2)
    cfg = TrainConfig(steps=3, batch_size=8, warmup=1, progress=False, out=os.path.join(out, "run"))
    res = model.fit(data, cfg)
    state = {k: v.contiguous() for k, v in model.net.state_dict().items()}
    state["losses"] = torch.tensor(res.losses)
    state["world"] = torch.tensor([res.world_size])
    save_file(state, os.path.join(out, f"rank{rank}.safetensors"))


def test_ddp_gloo_two_processes(tmp_path):
    from safetensors.torch import load_file

    from araneus.models import load_model

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = load_file(str(tmp_path / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert int(r0["world"][0]) == 2
    assert torch.equal(r0["losses"], r1["losses"])  # rank-averaged losses
    assert np.isfinite(r0["losses"].numpy()).all()
    for k in r0:  # gradients were all-reduced: identical weights on both ranks
        assert torch.equal(r0[k], r1[k]), k
    model = load_model(tmp_path / "run")  # rank 0 wrote the checkpoint
    assert model.train_info["world_size"] == 2 and model.train_info["step"] == 3
