"""Random state across processes: saved in checkpoints so a resumed run draws the same noise."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

__all__ = ["cuda_devices", "gather_rng_states", "restore_rng_state"]


def cuda_devices(device: torch.device) -> list[torch.device]:
    return [device] if device.type == "cuda" else []


def _rng_state(device: torch.device) -> dict[str, Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def gather_rng_states(trainer: L.Trainer, device: torch.device) -> list[dict[str, Tensor]]:
    """Every rank's random state, in rank order (a collective: checkpoints are saved on all ranks)."""
    state = _rng_state(device)
    if trainer.world_size == 1:
        return [state]
    states: list[Any] = [None] * trainer.world_size
    torch.distributed.all_gather_object(states, {k: v.cpu() for k, v in state.items()})
    return states


def restore_rng_state(states: list[dict[str, Tensor]], rank: int, device: torch.device) -> None:
    if rank >= len(states):  # resumed on more processes than saved: the extra ranks keep their own streams
        return
    torch.set_rng_state(states[rank]["cpu"])
    if device.type == "cuda" and "cuda" in states[rank]:
        torch.cuda.set_rng_state(states[rank]["cuda"], device)
