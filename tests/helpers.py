"""Small pieces shared by the tests: a tiny GAN, a trainer, data made in the test."""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import GANModule
from lightning_gan.nets import MLPDiscriminator, MLPGenerator
from lightning_gan.regularizers import DiscriminatorPhase, Regularizer


def tiny_gan(data_dim: int = 2, latent_dim: int = 2, num_classes: int = 0, **kwargs: Any) -> GANModule:
    return GANModule(
        MLPGenerator(latent_dim, data_dim, hidden_dim=16, num_layers=2, num_classes=num_classes),
        MLPDiscriminator(data_dim, hidden_dim=16, num_layers=2, num_classes=num_classes),
        latent_dim=latent_dim,
        num_classes=num_classes,
        **kwargs,
    )


def trainer(tmp_path: Any = None, max_steps: int = 5, **kwargs: Any) -> L.Trainer:
    options: dict[str, Any] = dict(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    if tmp_path is not None:
        options["default_root_dir"] = str(tmp_path)
    options.update(kwargs)
    return L.Trainer(**options)


def loader(*tensors: torch.Tensor, batch_size: int = 8) -> DataLoader:
    dataset = TensorDataset(*tensors) if len(tensors) > 1 else _Plain(tensors[0])
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=True)


class _Plain(torch.utils.data.Dataset):
    """Yields plain tensors, so batches are tensors rather than 1-tuples."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.data[i]


adam = partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.999))


class RealLogitEMA(Regularizer):
    """A test regularizer with state: ``E[(D(x) - a)^2]``, a the running mean of D's real logits over all ranks."""

    def __init__(self, weight: float = 0.1, interval: int = 1, decay: float = 0.9) -> None:
        super().__init__(weight, interval)
        self.decay = decay
        self.register_buffer("ema", torch.zeros(()))

    def penalty(self, phase: DiscriminatorPhase) -> torch.Tensor:  # type: ignore[override]
        self.ema.lerp_(self.mean_over_ranks(phase.real_logits.detach().mean()), 1.0 - self.decay)
        return (phase.real_logits - self.ema).pow(2).mean()


class SmallExtractor(nn.Module):
    """Features and logits from a fixed random convolution; counts the images it sees and records
    whether it ever ran under autocast or in train mode."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, stride=2)
        self.head = nn.Linear(4 * 7 * 7, 10)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
        self.images_seen = 0
        self.saw_autocast = self.saw_train_mode = False
        self.dtypes: set[torch.dtype] = set()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.images_seen += len(images)
        self.saw_autocast |= torch.is_autocast_enabled("cpu")
        self.saw_train_mode |= self.training
        self.dtypes.add(images.dtype)
        gray = F.adaptive_avg_pool2d(images.mean(1, keepdim=True), 16)  # any image size and channel count
        features = torch.relu(self.conv(gray)).flatten(1)
        return features, self.head(features)


class NoisyGAN(GANModule):
    """A subclass that changes how latents are drawn and the generator's loss."""

    def sample_latent(self, num_samples):
        return torch.rand(num_samples, self.latent_dim, device=self.device).sub(0.5).sign()

    def generator_loss(self, fake_logits):
        return torch.nn.functional.softplus(-fake_logits).mean() + 0.0 * fake_logits.sum()


class LossRecorder(L.Callback):
    """(D loss, G loss) of every iteration (log with log_every_n_steps=1)."""

    def __init__(self) -> None:
        self.losses: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        metrics = trainer.callback_metrics
        self.losses.append((float(metrics["train/d_loss"]), float(metrics["train/g_loss"])))
