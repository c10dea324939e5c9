"""Mode coverage on mixtures of Gaussians (the protocol of the VEEGAN and PacGAN papers)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["mode_coverage"]


def mode_coverage(samples: Tensor, centers: Tensor, std: float, threshold: float = 3.0) -> dict[str, float | int]:
    """How many modes the samples cover, how many samples are good, and how evenly they spread.

    A sample is *high quality* if it lies within ``threshold * std`` of its nearest center; a mode
    is *covered* if at least one high-quality sample is nearest to it. ``reverse_kl`` is
    ``KL(q || p)`` between ``q``, the distribution of high-quality samples over modes, and ``p``,
    uniform over modes (``inf`` when no sample is high quality).

    Args:
        samples: ``(N, dim)`` generated samples.
        centers: ``(num_modes, dim)`` mode centers.
        std: standard deviation of every mode.
        threshold: distance, in standard deviations, that counts as high quality.

    Returns:
        ``{"modes": int, "high_quality": float in [0, 1], "reverse_kl": float}``

    Example:
        >>> centers = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
        >>> mode_coverage(torch.tensor([[0.0, 0.01], [0.02, 0.0], [5.0, 5.0]]), centers, std=0.01)
        {'modes': 1, 'high_quality': 0.6666666666666666, 'reverse_kl': 0.6931471805599453}
    """
    samples = torch.as_tensor(samples, dtype=torch.float32).detach().cpu()
    centers = torch.as_tensor(centers, dtype=torch.float32).detach().cpu()
    if samples.dim() != 2 or centers.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"samples of shape {tuple(samples.shape)} and centers of shape {tuple(centers.shape)}: "
            "expected (N, dim) and (num_modes, dim) with the same dim"
        )
    if len(samples) == 0:
        raise ValueError("samples is empty: expected at least one sample")
    if not std > 0:
        raise ValueError(f"std={std!r}: expected a positive number")
    distances = torch.cdist(samples, centers)  # (N, modes)
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= threshold * std
    counts = torch.bincount(nearest[good], minlength=len(centers)).double()
    num_good = counts.sum().item()
    if num_good == 0:
        reverse_kl = math.inf
    else:
        q = counts[counts > 0] / num_good
        reverse_kl = float((q * (q * len(centers)).log()).sum())
    return {
        "modes": int((counts > 0).sum()),
        "high_quality": float(good.double().mean()),
        "reverse_kl": reverse_kl,
    }
