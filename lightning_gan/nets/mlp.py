"""Multi-layer perceptrons for low-dimensional (toy) data."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from lightning_gan.nets._layers import needs_labels
from lightning_gan.nets._recordable import Recordable

__all__ = ["DataStandardizer", "MLPDiscriminator", "MLPGenerator"]


class DataStandardizer(nn.Module):
    """``(x - mean) / std`` per feature, with statistics taken from the first batch it sees.

    Real data is rarely standardized. A ReLU network is piecewise linear with its kinks near the
    origin at initialization, so on data far from the origin (say N(4, 0.5)) a discriminator is
    nearly linear: it sees where the data is but not its spread, and the generator never learns
    the spread. Standardizing the discriminator's input with the statistics of real data fixes
    that. The statistics are set once, on the first training-mode forward (``GANModule`` always
    shows the discriminator a real batch first), averaged over all processes under DDP, then kept
    fixed and saved in checkpoints.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))
        self.register_buffer("initialized", torch.tensor(False))
        self._known_initialized = False  # a Python copy of the flag, so forward() need not sync with the GPU

    @torch.no_grad()
    def _initialize(self, x: Tensor) -> None:
        # sums over the batch (and over processes), so every rank gets the same statistics
        stats = torch.stack([x.new_full((x.shape[1],), float(x.shape[0])), x.sum(0), (x * x).sum(0)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
        count, total, squares = stats.double()
        mean = total / count
        var = (squares / count - mean**2).clamp_min(0.0)
        self.mean.copy_(mean)
        self.std.copy_(var.sqrt().clamp_min(self.eps))
        self.initialized.fill_(True)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._known_initialized = False  # re-read the loaded flag on the next training forward

    def forward(self, x: Tensor) -> Tensor:  # x: (B, F)
        if self.training and not self._known_initialized:
            if not bool(self.initialized):  # one device sync, on the first training forward only
                self._initialize(x.detach().float())
            self._known_initialized = True
        return (x - self.mean) / self.std


def _mlp(in_dim: int, hidden_dim: int, num_layers: int, activation: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(num_layers):
        layers += [nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim), activation]
    return nn.Sequential(*layers)


class MLPGenerator(Recordable):
    """Maps latents ``(B, latent_dim)`` to samples ``(B, data_dim)``.

    Args:
        latent_dim: size of the latent vector z.
        data_dim: size of a data sample.
        hidden_dim: width of each hidden layer.
        num_layers: number of hidden layers.
        num_classes: more than 0 makes it class-conditional: a learned label embedding is
            concatenated to z, and ``forward(z, labels)`` takes one class index per sample.
    """

    def __init__(
        self, latent_dim: int, data_dim: int, *, hidden_dim: int = 128, num_layers: int = 3, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.latent_dim, self.data_dim, self.num_classes = latent_dim, data_dim, num_classes
        embed_dim = min(hidden_dim, 16) if num_classes > 0 else 0
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        # ReLU, not LeakyReLU: units that switch fully off give G flat regions, so a whole cell of
        # latent space can map onto one tight mode (on the 25-mode grid this doubled the share of
        # high-quality samples at a fixed budget).
        self.body = _mlp(latent_dim + embed_dim, hidden_dim, num_layers, nn.ReLU())
        self.out = nn.Linear(hidden_dim, data_dim)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:  # z: (B, latent_dim)
        needs_labels(self.num_classes, labels, "generator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.out(self.body(z))


class MLPDiscriminator(Recordable):
    """Maps samples ``(B, data_dim)`` to one logit per sample ``(B,)``.

    Args:
        data_dim: size of a data sample.
        hidden_dim: width of each hidden layer.
        num_layers: number of hidden layers.
        num_classes: more than 0 makes it a projection discriminator (Miyato & Koyama 2018):
            ``forward(x, labels)`` adds ``<embed(y), h(x)>`` to the logit.
        standardize: standardize inputs with the statistics of the first real batch
            (see :class:`DataStandardizer`); leave it on unless your data is already standardized.
    """

    def __init__(
        self,
        data_dim: int,
        *,
        hidden_dim: int = 128,
        num_layers: int = 3,
        num_classes: int = 0,
        standardize: bool = True,
    ) -> None:
        super().__init__()
        self.data_dim, self.num_classes = data_dim, num_classes
        self.standardize = DataStandardizer(data_dim) if standardize else nn.Identity()
        self.body = _mlp(data_dim, hidden_dim, num_layers, nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden_dim, 1)
        self.embed = nn.Embedding(num_classes, hidden_dim) if num_classes > 0 else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:  # x: (B, data_dim)
        h = self.body(self.standardize(x.flatten(1)))
        logits = self.out(h).squeeze(1)
        if self.embed is not None:
            needs_labels(self.num_classes, labels, "discriminator")
            logits = logits + (self.embed(labels) * h).sum(1)
        return logits
