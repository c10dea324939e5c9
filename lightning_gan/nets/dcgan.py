"""DCGAN (Radford et al. 2016): transposed convolutions with batch norm in G, strided convolutions in D."""

from __future__ import annotations

from torch import Tensor, nn

from lightning_gan.nets._layers import (
    ConditionalBatchNorm2d,
    Projection,
    check_image_shape,
    maybe_spectral_norm,
    needs_labels,
)
from lightning_gan.nets._recordable import Recordable

__all__ = ["DCGANDiscriminator", "DCGANGenerator"]

NORMS = ("batch", "spectral", "none")


class DCGANGenerator(Recordable):
    """Maps latents ``(B, latent_dim)`` to images ``(B, C, H, W)`` in [-1, 1].

    A linear layer makes a ``base x base`` map (4, or 7 for 28 px), then each transposed
    convolution doubles the size and halves the channels, with batch norm and ReLU; a 3x3
    convolution and tanh make the image.

    Args:
        latent_dim: size of z.
        image_shape: ``(C, H, W)``, square, H = 4 * 2**n or 7 * 2**n (28, 32, 64, ...).
        width: channels of the last hidden layer (the first has ``width * 2**(n-1)``).
        num_classes: more than 0: class-conditional batch norm, ``forward(z, labels)``.
    """

    def __init__(
        self, latent_dim: int, image_shape: tuple[int, int, int], *, width: int = 64, num_classes: int = 0
    ) -> None:
        super().__init__()
        base, doublings = check_image_shape(image_shape, "DCGANGenerator")
        self.latent_dim, self.image_shape, self.num_classes = latent_dim, tuple(image_shape), num_classes
        channels = [width * 2 ** (doublings - 1 - i) for i in range(doublings)] + [width]
        self.base, self.first_channels = base, channels[0]
        self.project = nn.Linear(latent_dim, channels[0] * base * base)
        self.norms = nn.ModuleList([self._norm(channels[0])])
        self.ups = nn.ModuleList()
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            self.ups.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False))
            self.norms.append(self._norm(c_out))
        self.to_image = nn.Conv2d(channels[-1], image_shape[0], kernel_size=3, padding=1)

    def _norm(self, channels: int) -> nn.Module:
        return ConditionalBatchNorm2d(channels, self.num_classes) if self.num_classes else nn.BatchNorm2d(channels)

    def _normalize(self, index: int, x: Tensor, labels: Tensor | None) -> Tensor:
        norm = self.norms[index]
        return norm(x, labels) if self.num_classes else norm(x)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:  # z: (B, latent_dim)
        needs_labels(self.num_classes, labels, "generator")
        x = self.project(z).view(z.shape[0], self.first_channels, self.base, self.base)
        x = self._normalize(0, x, labels).relu()
        for i, up in enumerate(self.ups, start=1):
            x = self._normalize(i, up(x), labels).relu()
        return self.to_image(x).tanh()


class DCGANDiscriminator(Recordable):
    """Maps images ``(B, C, H, W)`` to one logit per image ``(B,)``.

    Strided 4x4 convolutions halve the size and double the channels (LeakyReLU 0.2) down to
    ``base x base``, then a linear layer makes the logit.

    Args:
        image_shape: ``(C, H, W)`` as for :class:`DCGANGenerator`.
        width: channels of the first convolution.
        num_classes: more than 0: projection discriminator, ``forward(x, labels)``.
        norm: ``"batch"`` (DCGAN), ``"spectral"`` (SNGAN) or ``"none"`` (use with a gradient
            penalty, which batch norm would break: the penalty is per sample).
    """

    def __init__(
        self, image_shape: tuple[int, int, int], *, width: int = 64, num_classes: int = 0, norm: str = "batch"
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"DCGANDiscriminator: norm={norm!r}; expected one of {list(NORMS)}")
        base, doublings = check_image_shape(image_shape, "DCGANDiscriminator")
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        sn = norm == "spectral"
        layers: list[nn.Module] = []
        c_in = image_shape[0]
        for i in range(doublings):
            c_out = width * 2**i
            layers.append(maybe_spectral_norm(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1), sn))
            if norm == "batch" and i > 0:  # DCGAN: no batch norm on the input layer
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        feature_dim = c_in * base * base
        self.out = maybe_spectral_norm(nn.Linear(feature_dim, 1), sn)
        self.projection = Projection(feature_dim, num_classes, sn) if num_classes else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:  # x: (B, C, H, W)
        needs_labels(self.num_classes, labels, "discriminator")
        h = self.features(x).flatten(1)
        logits = self.out(h).squeeze(1)
        return logits if self.projection is None else logits + self.projection(h, labels)
