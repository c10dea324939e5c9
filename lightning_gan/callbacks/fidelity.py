"""FID, Inception Score and KID of generated images during training."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import lightning as L
import torch
from torch import nn

from lightning_gan.callbacks.sample_grid import _check_int
from lightning_gan.metrics.features import (
    Features,
    RealFeatureCache,
    dataset_features,
    describe_real,
    generator_features,
)
from lightning_gan.metrics.fidelity import fidelity_metrics, parse_metrics
from lightning_gan.metrics.inception import FeatureExtractor, InceptionV3, extractor_fingerprint

__all__ = ["FidelityMetrics"]

_LOWER_IS_BETTER = {"fid": True, "is": False, "kid": True}


class FidelityMetrics(L.Callback):
    """FID, IS and KID of ``num_samples`` generated images against the training set.

    Runs every ``every_n_steps`` generator iterations, at the last iteration (``max_steps``) and at
    the end of a fit that ended otherwise (not on an interrupt). Logs ``val/fid``, ``val/is``
    (``val/is_std``), ``val/kid`` (``val/kid_std``) and the best value so far as ``val/<name>_best``
    to every logger, at the generator iteration; ``ModelCheckpoint(monitor="val/fid")`` sees them.
    The best values are kept in the callback's checkpoint state, so a resumed run goes on from them.

    The numbers follow torch-fidelity's protocol with its InceptionV3 (comparable with published
    tables when ``num_samples`` and the real set match theirs: 50,000 against the CIFAR-10
    training set is the usual "paper" protocol; 10,000 is cheaper and biased upward for FID).
    Generated images come from :meth:`GANModule.generate` (the EMA generator when EMA is on, eval
    mode, the generator's mode restored after) with noise fixed across evaluations, drawn without
    touching the run's random state. Under DDP every rank measures its share: exactly
    ``num_samples`` images in total, every real image once. The real features are cached on disk
    (``cache_dir``) per data set, size, split and metric network, and kept in memory during the run.

    Args:
        metrics: any of ``"fid"``, ``"is"``, ``"kid"`` (a list, or one comma-separated string).
        num_samples: generated images per evaluation.
        every_n_steps: generator iterations between evaluations; ``None``: only at the end.
        batch_size: images per forward pass of the metric network.
        weights: a local InceptionV3 weights file in torch-fidelity's format (no download).
        feature_extractor: any ``nn.Module`` instead of InceptionV3: images in [-1, 1] in, features
            ``(N, D)`` or ``(features, logits)`` out (logits only for IS).
        cache_dir: where real features are cached (default: ``$LIGHTNING_GAN_CACHE`` or
            ``~/.cache/lightning_gan``).
        seed: seed of the evaluation noise (the same images' noise at every evaluation).
        isc_splits, kid_subsets, kid_subset_size: torch-fidelity's protocol settings.
        num_workers: data loader workers for the real images (default: the data module's ``num_workers``).
        progress: show a progress bar while extracting features.
    """

    def __init__(
        self,
        metrics: str | Iterable[str] = ("fid", "is", "kid"),
        num_samples: int = 10_000,
        every_n_steps: int | None = 5_000,
        *,
        batch_size: int = 100,
        weights: str | os.PathLike[str] | None = None,
        feature_extractor: nn.Module | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        seed: int = 0,
        isc_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        num_workers: int | None = None,
        progress: bool = True,
    ) -> None:
        self.metrics = parse_metrics(metrics)
        for name, value, minimum in [
            ("num_samples", num_samples, 2),
            ("batch_size", batch_size, 1),
            ("isc_splits", isc_splits, 1),
            ("kid_subsets", kid_subsets, 1),
            ("kid_subset_size", kid_subset_size, 2),
        ]:
            _check_int("FidelityMetrics", name, value, minimum)
        if every_n_steps is not None:
            _check_int("FidelityMetrics", "every_n_steps", every_n_steps, 1)
        if num_workers is not None:
            _check_int("FidelityMetrics", "num_workers", num_workers, 0)
        if "kid" in self.metrics and num_samples < kid_subset_size:
            raise ValueError(
                f"FidelityMetrics(num_samples={num_samples}, kid_subset_size={kid_subset_size}): KID draws subsets "
                "of kid_subset_size samples, so num_samples must be at least that"
            )
        if "is" in self.metrics and num_samples < isc_splits:
            raise ValueError(f"FidelityMetrics(num_samples={num_samples}): IS needs at least isc_splits={isc_splits}")
        if feature_extractor is not None and weights is not None:
            raise ValueError("FidelityMetrics: pass weights (for InceptionV3) or feature_extractor, not both")
        if feature_extractor is not None and not isinstance(feature_extractor, nn.Module):
            raise TypeError(f"FidelityMetrics(feature_extractor={feature_extractor!r}): expected a torch.nn.Module")
        self.num_samples, self.every_n_steps, self.batch_size = num_samples, every_n_steps, batch_size
        self.weights, self.seed, self.num_workers, self.progress = weights, seed, num_workers, progress
        self.isc_splits, self.kid_subsets, self.kid_subset_size = isc_splits, kid_subsets, kid_subset_size
        self.cache = RealFeatureCache(cache_dir)
        self.feature_extractor = feature_extractor
        self._extractor: nn.Module | None = None  # built at fit start; never part of the LightningModule
        self._real: Features | None = None
        self.best: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.last_step = -1
        self.counts: dict[str, int] = {}  # images measured at the last evaluation: {"fake": ..., "real": ...}

    # ---------------------------------------------------------------- set-up, before any training
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not hasattr(pl_module, "generate"):
            raise TypeError(f"FidelityMetrics needs a GANModule (a generate method); got {type(pl_module).__name__}")
        if self._extractor is None:
            user = self.feature_extractor
            self._extractor = InceptionV3(self.weights) if user is None else FeatureExtractor(user)
        self._extractor.to(pl_module.device)
        dataset = self._real_dataset(trainer)
        if "kid" in self.metrics and len(dataset) < self.kid_subset_size:
            raise ValueError(
                f"FidelityMetrics: the real set has {len(dataset)} images, fewer than kid_subset_size="
                f"{self.kid_subset_size}: lower kid_subset_size"
            )
        # one dry run on two generated images: a wrong extractor fails now, not after hours of training
        _, logits = self._extractor(pl_module.generate(2, seed=self.seed).float())
        if "is" in self.metrics and logits is None:
            raise ValueError(
                f"FidelityMetrics: the Inception Score needs class logits, and {type(self.feature_extractor).__name__} "
                "returns features only: return (features, logits) from it, or drop 'is' from metrics"
            )

    def _real_dataset(self, trainer: L.Trainer) -> Any:
        datamodule = trainer.datamodule
        dataset = getattr(datamodule, "train_dataset", None)
        if dataset is None and datamodule is not None:
            dataset = datamodule.train_dataloader().dataset
        if dataset is None:
            raise ValueError(
                "FidelityMetrics measures against the training set of a LightningDataModule: pass datamodule= to fit"
            )
        return dataset

    # ---------------------------------------------------------------- when
    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        periodic = self.every_n_steps is not None and step % self.every_n_steps == 0
        if step > 0 and step != self.last_step and (periodic or step == trainer.max_steps):
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step > 0 and trainer.global_step != self.last_step:  # a fit that ended by epochs
            self.evaluate(trainer, pl_module)

    # ---------------------------------------------------------------- what
    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        """Measure now, log, and return the logged values (``{"val/fid": ..., ...}``)."""
        assert self._extractor is not None, "FidelityMetrics.evaluate runs after fit start"
        device = pl_module.device
        if self._real is None:
            dataset = self._real_dataset(trainer)
            description = {
                **describe_real(trainer.datamodule, dataset),
                "extractor": extractor_fingerprint(self._extractor),
            }
            workers = (
                self.num_workers if self.num_workers is not None else getattr(trainer.datamodule, "num_workers", 0)
            )
            self._real = self.cache.get(
                description,
                lambda: dataset_features(
                    dataset,
                    self._extractor,
                    batch_size=self.batch_size,
                    num_workers=workers,
                    device=device,
                    progress=self.progress,
                ),
            )
        fake = generator_features(
            lambda count, seed: pl_module.generate(count, seed=seed),
            self._extractor,
            self.num_samples,
            batch_size=self.batch_size,
            seed=self.seed,
            device=device,
            progress=self.progress,
        )
        self.counts = {"fake": len(fake), "real": len(self._real)}
        values = fidelity_metrics(
            self.metrics,
            fake,
            self._real,
            isc_splits=self.isc_splits,
            kid_subsets=self.kid_subsets,
            kid_subset_size=self.kid_subset_size,
            device=device,
        )
        logged: dict[str, float] = {}
        for name in self.metrics:
            key = {"fid": "fid", "is": "is_mean", "kid": "kid_mean"}[name]
            value = values[key]
            logged[f"val/{name}"] = value
            if name != "fid":
                logged[f"val/{name}_std"] = values[f"{name}_std"]
            best = self.best.get(name)
            if best is None or (value < best if _LOWER_IS_BETTER[name] else value > best):
                self.best[name] = value
            logged[f"val/{name}_best"] = self.best[name]
        self.last, self.last_step = logged, trainer.global_step
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(logged, step=trainer.global_step)
        # for ModelCheckpoint(monitor=...), EarlyStopping and the progress bar
        trainer.callback_metrics.update({key: torch.tensor(value) for key, value in logged.items()})
        return logged

    # ---------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best), "last_step": self.last_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = dict(state_dict.get("best", {}))
        self.last_step = int(state_dict.get("last_step", -1))
