"""SNGAN's ResNets (Miyato et al. 2018): pre-activation residual blocks, spectral norm in D."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gan.nets._layers import (
    ConditionalBatchNorm2d,
    Projection,
    check_image_shape,
    maybe_spectral_norm,
    needs_labels,
)
from lightning_gan.nets._recordable import Recordable

__all__ = ["ResNetDiscriminator", "ResNetGenerator"]


class _UpBlock(nn.Module):
    """BN-ReLU-upsample-conv3-BN-ReLU-conv3, plus an upsample-conv1 shortcut."""

    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        norm = (lambda c: ConditionalBatchNorm2d(c, num_classes)) if num_classes else nn.BatchNorm2d
        self.norm1, self.norm2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def _norm(self, norm: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
        return norm(x, labels) if self.num_classes else norm(x)

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = F.interpolate(self._norm(self.norm1, x, labels).relu(), scale_factor=2)
        h = self.conv2(self._norm(self.norm2, self.conv1(h), labels).relu())
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class _DownBlock(nn.Module):
    """(ReLU)-conv3-ReLU-conv3-avgpool, plus a conv1-avgpool shortcut; spectrally normalized if ``sn``."""

    def __init__(self, c_in: int, c_out: int, *, first: bool, downsample: bool, sn: bool) -> None:
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = maybe_spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1), sn)
        self.conv2 = maybe_spectral_norm(nn.Conv2d(c_out, c_out, 3, padding=1), sn)
        self.shortcut = maybe_spectral_norm(nn.Conv2d(c_in, c_out, 1), sn) if (c_in != c_out or downsample) else None

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else x.relu()  # the first block sees the image, not an activation
        h = self._pool(self.conv2(self.conv1(h).relu()))
        if self.shortcut is None:
            return h + x
        # the first block pools before its shortcut conv (SNGAN's "optimized block")
        return h + (self.shortcut(self._pool(x)) if self.first else self._pool(self.shortcut(x)))


class ResNetGenerator(Recordable):
    """SNGAN's ResNet generator: ``(B, latent_dim)`` to ``(B, C, H, W)`` in [-1, 1].

    Args:
        latent_dim: size of z.
        image_shape: ``(C, H, W)``, square, H = 4 * 2**n (32 for CIFAR-10: three up-blocks).
        width: channels of every block (256 in SNGAN's CIFAR-10 model).
        num_classes: more than 0: class-conditional batch norm, ``forward(z, labels)``.
    """

    def __init__(
        self, latent_dim: int, image_shape: tuple[int, int, int], *, width: int = 256, num_classes: int = 0
    ) -> None:
        super().__init__()
        base, doublings = check_image_shape(image_shape, "ResNetGenerator")
        self.latent_dim, self.image_shape, self.num_classes = latent_dim, tuple(image_shape), num_classes
        self.base, self.width = base, width
        self.project = nn.Linear(latent_dim, width * base * base)
        self.blocks = nn.ModuleList([_UpBlock(width, width, num_classes) for _ in range(doublings)])
        self.norm = nn.BatchNorm2d(width)
        self.to_image = nn.Conv2d(width, image_shape[0], 3, padding=1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:  # z: (B, latent_dim)
        needs_labels(self.num_classes, labels, "generator")
        x = self.project(z).view(z.shape[0], self.width, self.base, self.base)
        for block in self.blocks:
            x = block(x, labels)
        return self.to_image(self.norm(x).relu()).tanh()


class ResNetDiscriminator(Recordable):
    """SNGAN's ResNet discriminator: ``(B, C, H, W)`` to logits ``(B,)``, spectral norm by default.

    Down-blocks halve the size until 8x8, two more blocks keep it, then ReLU, a global sum pool
    and a linear layer (plus the projection term when conditional).

    Args:
        image_shape: ``(C, H, W)``, square, H = 4 * 2**n.
        width: channels of every block (128 in SNGAN's CIFAR-10 model).
        num_classes: more than 0: projection discriminator, ``forward(x, labels)``.
        norm: ``"spectral"`` (SNGAN) or ``"none"`` (WGAN-GP: the gradient penalty replaces it).
    """

    def __init__(
        self, image_shape: tuple[int, int, int], *, width: int = 128, num_classes: int = 0, norm: str = "spectral"
    ) -> None:
        super().__init__()
        if norm not in ("spectral", "none"):
            raise ValueError(f"ResNetDiscriminator: norm={norm!r}; expected 'spectral' or 'none'")
        sn = norm == "spectral"
        _, doublings = check_image_shape(image_shape, "ResNetDiscriminator")
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        downs = max(doublings - 1, 1)  # 32 px: two down-blocks to 8x8, as in SNGAN
        blocks = [_DownBlock(image_shape[0], width, first=True, downsample=True, sn=sn)]
        blocks += [_DownBlock(width, width, first=False, downsample=True, sn=sn) for _ in range(downs - 1)]
        blocks += [_DownBlock(width, width, first=False, downsample=False, sn=sn) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.out = maybe_spectral_norm(nn.Linear(width, 1), sn)
        self.projection = Projection(width, num_classes, spectral_norm=sn) if num_classes else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:  # x: (B, C, H, W)
        needs_labels(self.num_classes, labels, "discriminator")
        h = self.blocks(x).relu().sum(dim=(2, 3))  # global sum pool: (B, width)
        logits = self.out(h).squeeze(1)
        return logits if self.projection is None else logits + self.projection(h, labels)
