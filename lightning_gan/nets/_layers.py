"""Building blocks shared by the image networks."""

from __future__ import annotations

import math

from torch import Tensor, nn

__all__ = ["ConditionalBatchNorm2d", "Projection", "check_image_shape", "maybe_spectral_norm", "needs_labels"]


def check_image_shape(image_shape: tuple[int, int, int], role: str) -> tuple[int, int]:
    """Validate ``(C, H, W)`` and return ``(base, num_doublings)``: H = W = base * 2**num_doublings.

    The base is 4 for powers of two (32, 64, ...) and 7 for 28 px (MNIST).
    """
    if len(tuple(image_shape)) != 3 or not all(isinstance(v, int) and v > 0 for v in image_shape):
        raise ValueError(f"{role}: image_shape={tuple(image_shape)!r}; expected (C, H, W) of positive ints")
    _, height, width = image_shape
    base = 7 if height % 7 == 0 else 4
    doublings = math.log2(height / base) if height >= base else -1
    if height != width or doublings < 1 or doublings != int(doublings):
        raise ValueError(
            f"{role}: image_shape={tuple(image_shape)!r}; expected square images of 4 * 2**n or 7 * 2**n pixels "
            "(8, 14, 16, 28, 32, 64, 128, ...)"
        )
    return base, int(doublings)


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are picked per class (identity-initialized)."""

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:  # x: (B, C, H, W), labels: (B,)
        return self.gain(labels)[:, :, None, None] * self.norm(x) + self.bias(labels)[:, :, None, None]


class Projection(nn.Module):
    """The projection discriminator's class term (Miyato & Koyama 2018): ``<embed(y), h>``."""

    def __init__(self, num_features: int, num_classes: int, spectral_norm: bool) -> None:
        super().__init__()
        self.embed = maybe_spectral_norm(nn.Embedding(num_classes, num_features), spectral_norm)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:  # features: (B, F) -> (B,)
        return (self.embed(labels) * features).sum(dim=1)


def needs_labels(num_classes: int, labels: Tensor | None, role: str) -> None:
    if num_classes > 0 and labels is None:
        raise ValueError(f"this {role} is conditional (num_classes={num_classes}): pass labels")
