"""Data-parallel training with torchrun: rank bookkeeping, process group, gathering.

``torchrun --nproc-per-node N -m mucalo ...`` (or any launcher that sets ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) starts one process per rank. :func:`init_distributed`
reads those variables into a :class:`DistInfo` and opens the process group: gloo on CPU, nccl on CUDA.
Only the main rank (``is_main``) writes files and shows progress bars; every rank evaluates the whole
monitoring fold, so all ranks take the same schedule decisions without extra communication.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn

from mucalo.errors import ConfigError

__all__ = [
    "DistInfo",
    "all_gather_cat",
    "all_reduce_sum",
    "barrier",
    "close_distributed",
    "init_distributed",
    "unwrap",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class DistInfo:
    """Where this process sits in a data-parallel job (a single process is rank 0 of 1)."""

    rank: int = 0  # global rank
    local_rank: int = 0  # rank on this node (picks the CUDA device)
    world_size: int = 1  # processes in the job

    @property
    def is_main(self) -> bool:
        """The rank that writes files, logs at INFO and shows progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DistInfo:
        """Read torchrun's ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (absent: a single process).

        Raises:
            ConfigError: a variable is not an integer or the ranks are inconsistent.
        """
        env = os.environ if env is None else env
        values = {}
        for key, default in (("RANK", 0), ("LOCAL_RANK", 0), ("WORLD_SIZE", 1)):
            text = env.get(key)
            try:
                values[key] = default if text is None else int(text)
            except ValueError:
                msg = f"environment variable {key}: expected an integer, got {text!r}"
                raise ConfigError(msg) from None
        info = cls(rank=values["RANK"], local_rank=values["LOCAL_RANK"], world_size=values["WORLD_SIZE"])
        if not (info.world_size >= 1 and 0 <= info.rank < info.world_size and info.local_rank >= 0):
            msg = f"torchrun variables inconsistent: RANK={info.rank}, WORLD_SIZE={info.world_size}"
            raise ConfigError(msg)
        return info


def init_distributed(device: str | torch.device = "cpu", env: Mapping[str, str] | None = None) -> DistInfo:
    """Read the rank variables and, for more than one process, open the default process group.

    Args:
        device: ``"cpu"`` (gloo) or ``"cuda"``/``"cuda:N"`` (nccl; the rank uses ``cuda:LOCAL_RANK``).
        env: environment to read (default ``os.environ``).

    Returns:
        The rank information (the process group is open when ``world_size > 1``).
    """
    info = DistInfo.from_env(env)
    if info.distributed and not torch_dist.is_initialized():
        backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        torch_dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
        logger.info("process group %s: rank %d of %d", backend, info.rank, info.world_size)
    return info


def close_distributed() -> None:
    """Destroy the default process group if one is open."""
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for a single process)."""
    if info.distributed:
        torch_dist.barrier()


def all_gather_cat(tensor: Tensor, info: DistInfo) -> Tensor:
    """Concatenate a 1-D tensor over ranks, in rank order (lengths may differ between ranks)."""
    if not info.distributed:
        return tensor
    size = torch.tensor([tensor.numel()], device=tensor.device)
    sizes = [torch.zeros_like(size) for _ in range(info.world_size)]
    torch_dist.all_gather(sizes, size)
    longest = int(max(int(s.item()) for s in sizes))
    padded = torch.zeros(longest, dtype=tensor.dtype, device=tensor.device)
    padded[: tensor.numel()] = tensor.detach().reshape(-1)
    pieces = [torch.zeros_like(padded) for _ in range(info.world_size)]
    torch_dist.all_gather(pieces, padded)
    return torch.cat([piece[: int(s.item())] for piece, s in zip(pieces, sizes, strict=True)])


def all_reduce_sum(values: Tensor, info: DistInfo) -> Tensor:
    """Sum a tensor over ranks (a copy; the input is untouched)."""
    out = values.clone()
    if info.distributed:
        torch_dist.all_reduce(out, op=torch_dist.ReduceOp.SUM)
    return out


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or ``torch.compile`` wrappers (what is saved and reloaded)."""
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if isinstance(model, nn.parallel.DistributedDataParallel):
            inner = model.module
        if not isinstance(inner, nn.Module):
            return model
        model = inner
