"""Generated samples beside their nearest training images, written and logged as training goes: is it copying?"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from lightning_gan._validate import check_int
from lightning_gan.callbacks._images import log_image, run_dir
from lightning_gan.callbacks.fidelity import real_features, training_set
from lightning_gan.metrics.features import Features, RealFeatureCache
from lightning_gan.metrics.inception import FeatureExtractor, InceptionV3
from lightning_gan.metrics.neighbours import Neighbours, PixelFeatures, find_neighbours

__all__ = ["NearestNeighbours"]

SPACES = ("features", "pixels")


class NearestNeighbours(L.Callback):
    """Every ``every_n_steps`` generator iterations (and at the end of training), ``num_samples``
    generated images, each beside its ``k`` nearest training images with their distances.

    Distances near zero mean the generator reproduces training images (memorization, typical of
    a long run on a small data set); distances like those between different real images mean it
    makes new ones. The picture goes to ``<run folder>/neighbours/step_000500.png`` and is logged
    under ``key`` to W&B and TensorBoard; ``last`` keeps the latest :class:`Neighbours`.

    The samples are ``pl_module.generate(num_samples, seed=seed)`` (the EMA generator when on, the
    same noise every time, the run's random state untouched). ``space="features"`` compares the
    metric network's features (InceptionV3, or ``feature_extractor``, as :class:`FidelityMetrics`;
    the real features share its disk cache); ``space="pixels"`` compares pixels (root-mean-square
    difference on the [-1, 1] scale). Under DDP every rank computes its share of the real features;
    global rank zero generates, searches, writes and logs.

    Args:
        num_samples: generated images, one row each.
        k: nearest training images per sample.
        every_n_steps: generator iterations between pictures.
        space: ``"features"`` or ``"pixels"``.
        weights: a local InceptionV3 weights file (``space="features"``).
        feature_extractor: any ``nn.Module`` instead of InceptionV3 (images in [-1, 1] in, ``(N, D)`` out).
        cache_dir: where real features are cached (``space="features"``).
        batch_size: images per forward pass of the metric network.
        num_workers: data loader workers for the real images (default: the data module's).
        seed: seed of the generated samples.
        key: the picture's name in the loggers.
        progress: show a progress bar while extracting the real features.
    """

    def __init__(
        self,
        num_samples: int = 8,
        k: int = 5,
        every_n_steps: int = 1000,
        *,
        space: str = "features",
        weights: str | os.PathLike[str] | None = None,
        feature_extractor: nn.Module | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 100,
        num_workers: int | None = None,
        seed: int = 0,
        key: str = "neighbours",
        progress: bool = False,
    ) -> None:
        for name, value, minimum in [("num_samples", num_samples, 1), ("k", k, 1), ("every_n_steps", every_n_steps, 1),
                                     ("batch_size", batch_size, 1)]:  # fmt: skip
            check_int(name, value, minimum, owner="NearestNeighbours")
        check_int("num_workers", num_workers, 0, owner="NearestNeighbours", optional=True)
        if space not in SPACES:
            raise ValueError(f"NearestNeighbours(space={space!r}): expected one of {', '.join(SPACES)}")
        if space == "pixels" and (weights is not None or feature_extractor is not None):
            raise ValueError(
                "NearestNeighbours(space='pixels'): weights and feature_extractor are for space='features'"
            )
        if feature_extractor is not None and weights is not None:
            raise ValueError("NearestNeighbours: pass weights (for InceptionV3) or feature_extractor, not both")
        if feature_extractor is not None and not isinstance(feature_extractor, nn.Module):
            raise TypeError(f"NearestNeighbours(feature_extractor={feature_extractor!r}): expected a torch.nn.Module")
        if not (isinstance(key, str) and key):
            raise ValueError(f"NearestNeighbours(key={key!r}): expected a non-empty string")
        self.num_samples, self.k, self.every_n_steps, self.space = num_samples, k, every_n_steps, space
        self.weights, self.feature_extractor, self.batch_size = weights, feature_extractor, batch_size
        self.num_workers, self.seed, self.key, self.progress = num_workers, seed, key, progress
        self.cache = RealFeatureCache(cache_dir) if space == "features" else None  # pixels: the images themselves
        self._extractor: nn.Module | None = None  # built at fit start; never part of the LightningModule
        self._real: Features | None = None
        self._last_step: int | None = None
        self.last: Neighbours | None = None
        self.paths: list[Path] = []  # the PNGs written by this process, in order

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not hasattr(pl_module, "generate"):
            raise TypeError(f"NearestNeighbours needs a GANModule (a generate method); got {type(pl_module).__name__}")
        probe = pl_module.generate(1, seed=self.seed)
        if probe.dim() != 4:
            raise ValueError(
                f"NearestNeighbours shows images, (N, C, H, W), but this generator makes samples of shape "
                f"{tuple(probe.shape)}; for 1-D or 2-D data use lightning_gan.callbacks.ToyDistributionFigure"
            )
        dataset = training_set(trainer, "NearestNeighbours")
        if len(dataset) < self.k:
            raise ValueError(f"NearestNeighbours(k={self.k}): the training set has only {len(dataset)} images")
        if self._extractor is None:
            if self.space == "pixels":
                self._extractor = FeatureExtractor(PixelFeatures())
            elif self.feature_extractor is not None:
                self._extractor = FeatureExtractor(self.feature_extractor)
            else:
                self._extractor = InceptionV3(self.weights)
        self._extractor.to(pl_module.device)
        self._last_step = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step > 0 and step % self.every_n_steps == 0 and step != self._last_step:
            self.save(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step > 0 and trainer.global_step != self._last_step:
            self.save(trainer, pl_module)

    def save(self, trainer: L.Trainer, pl_module: Any) -> Path | None:
        """Search, write and log the picture of the current generator iteration; its path on global rank
        zero, else None. Call it on every process (the real features are shared out among them)."""
        assert self._extractor is not None, "NearestNeighbours.save runs after fit start"
        self._last_step = trainer.global_step
        folder = run_dir(trainer) / "neighbours"  # on every rank: Trainer.log_dir broadcasts
        if self._real is None:
            self._real = real_features(
                trainer,
                self._extractor,
                self.cache,
                owner="NearestNeighbours",
                batch_size=self.batch_size,
                num_workers=self.num_workers,
                progress=self.progress,
            )
        if not trainer.is_global_zero:
            return None
        samples = pl_module.generate(self.num_samples, seed=self.seed).float()
        with torch.no_grad():
            sample_features = self._extractor(samples)[0]
        real = self._real.features.to(sample_features.device)
        self.last = find_neighbours(samples, sample_features, real, training_set(trainer, "NearestNeighbours"), self.k)
        path = self.last.picture(folder / f"step_{trainer.global_step:06d}.png")
        self.paths.append(path)
        log_image(trainer, self.key, path)
        return path
