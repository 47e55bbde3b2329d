"""Data-parallel training on an existing engine: torch.distributed (NCCL on GPUs, gloo on CPU).

`lorastudio train --nproc N ...` re-launches itself under `torch.distributed.run` (torchrun), which
sets RANK / WORLD_SIZE / LOCAL_RANK for each process; the loop reads them through `init()`.
Multi-node: run the same command on every node with torchrun's own flags, e.g.

    torchrun --nnodes 2 --node-rank 0 --master-addr HOST --master-port 29500 --nproc-per-node 8 \\
        -m lorastudio train --data d.json --output runs/a ...

Only rank 0 writes files; every rank reads the same data and checkpoints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init() -> Dist:
    """Join the process group torchrun set up; a plain single process when there is none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend)
    return Dist(rank, world, local)


def device_for(d: Dist, device: str) -> str:
    return f"cuda:{d.local_rank}" if device == "cuda" and d.enabled else device


def sum_across(d: Dist, value: float) -> float:
    """Sum a number over all ranks (identity on one process)."""
    if not d.enabled:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item())


def any_across(d: Dist, flag: bool) -> bool:
    """True on every rank when it is true on any (a stop request must stop all ranks together)."""
    return sum_across(d, 1.0 if flag else 0.0) > 0


def shutdown(d: Dist) -> None:
    """Leave together: rank 0 may still be writing the adapter; a rank that tears the group down
    and exits first can abort the process (gloo's threads) and fail the whole launch."""
    if d.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(model, d: Dist, device: str, fsdp: bool = False):
    """The model as the processes train it: itself on one process, DistributedDataParallel on
    several, or, with `fsdp`, the base weights sharded by FSDP2 (each process keeps 1/N of them
    and gathers one decoder layer at a time).

    Under FSDP the LoRA weights are left out of the sharding: they are a few MB, and whole on
    every process they save, resume and clip exactly as without FSDP. Their gradients are then
    averaged by `average_gradients`, as DDP would."""
    if not d.enabled:
        return model
    if not fsdp:
        return torch.nn.parallel.DistributedDataParallel(model)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from ..models import decoder_layers
    from ..models.fused_lora import unfuse_lora_layers

    unfuse_lora_layers(model)  # the fused LoRA forward reads the base weight itself, outside FSDP's hooks
    adapter = {p for p in model.parameters() if p.requires_grad}
    mesh = init_device_mesh("cuda" if device == "cuda" else "cpu", (d.world_size,))
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh, ignored_params=adapter)
    fully_shard(model, mesh=mesh, ignored_params=adapter)
    return model.to(device_for(d, device))  # what FSDP does not own: the adapter, buffers


def average_gradients(d: Dist, params: list[torch.Tensor]) -> None:
    """Average the adapter's gradients over all ranks in one all-reduce (FSDP leaves them to us)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not d.enabled or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= d.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def launch(nproc: int, argv: list[str]) -> int:
    """Run `lorastudio ARGV` on `nproc` local processes under torchrun; returns its exit code."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "lorastudio", *argv]
    return subprocess.call(cmd)
