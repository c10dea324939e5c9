"""The exponential moving average of the generator's weights."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["update_ema"]


@torch.no_grad()
def update_ema(average: nn.Module, network: nn.Module, decay: float) -> None:
    """``average <- decay * average + (1 - decay) * network`` for parameters; buffers copied.

    Batch-norm statistics follow the live network rather than being averaged.
    """
    params = [p.detach() for p in network.parameters()]
    torch._foreach_lerp_(list(average.parameters()), params, 1.0 - decay)
    for average_buffer, buffer in zip(average.buffers(), network.buffers()):
        average_buffer.copy_(buffer)
