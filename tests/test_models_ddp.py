"""Distributed data-parallel training of every model: two CPU processes on the gloo backend.

One ``mp.spawn`` runs, in both processes and for each of the three models: an uninterrupted
5-step run, a run stopped after 3 steps, and its resume to 5 steps. The parent checks that
the ranks agree (gradients all-reduced), that losses are rank-averaged, and that the resumed
run is bit-identical to the uninterrupted one (every rank's RNG state is checkpointed).
"""

from __future__ import annotations

import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from _models_synth import synth_dataset

TINY = {
    "sparse": {"width": 16, "depth": 1, "heads": 2},
    "discrete": {"width": 16, "depth": 1, "heads": 2, "edge_width": 4},
    "autoregressive": {"width": 16, "depth": 1, "heads": 2, "mixtures": 2},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist
    from safetensors.torch import save_file

    from araneus.models import get_model
    from araneus.models.train import TrainConfig

    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world)
    )
    dist.init_process_group("gloo", rank=rank, world_size=world)
    data = synth_dataset(32, seed=0, K=4, L=24)
    for name, settings in TINY.items():
        state = {}
        for tag, kw in (("full", {}), ("part", {"stop_after": 3}), ("resumed", {"resume": True})):
            run = os.path.join(out, name, "full" if tag == "full" else "part")
            cfg = TrainConfig(
                steps=5, batch_size=8, warmup=1, progress=False, out=run, ckpt_every=2, **kw
            )
            model = get_model(name)(**settings)
            res = model.fit(data, cfg)
            for k, v in model.net.state_dict().items():
                state[f"{tag}.{k}"] = v.contiguous()
            state[f"{tag}.losses"] = torch.tensor(res.losses)
            state[f"{tag}.world"] = torch.tensor([res.world_size])
        save_file(state, os.path.join(out, f"{name}.rank{rank}.safetensors"))
    dist.destroy_process_group()


def test_ddp_gloo_two_processes_every_model_with_resume(tmp_path):
    from safetensors.torch import load_file

    from araneus.models import load_model

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for name in TINY:
        r0 = load_file(str(tmp_path / f"{name}.rank0.safetensors"))
        r1 = load_file(str(tmp_path / f"{name}.rank1.safetensors"))
        assert int(r0["full.world"][0]) == 2
        assert torch.equal(r0["full.losses"], r1["full.losses"])  # rank-averaged losses
        assert np.isfinite(r0["full.losses"].numpy()).all()
        for k in r0:  # gradients were all-reduced: identical weights on both ranks
            assert torch.equal(r0[k], r1[k]), (name, k)
        for k in [k for k in r0 if k.startswith("full.")]:  # resume == uninterrupted
            assert torch.equal(r0[k], r0["resumed." + k[5:]]), (name, k)
        assert len(r0["part.losses"]) == 3
        model = load_model(tmp_path / name / "part")  # rank 0 wrote the checkpoints
        assert model.train_info["world_size"] == 2 and model.train_info["step"] == 5
