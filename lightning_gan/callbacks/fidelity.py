"""FID, Inception Score, KID, precision/recall and density/coverage of generated images during training."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import lightning as L
import torch
from torch import nn

from lightning_gan._generator import metric_noise_mode
from lightning_gan._validate import check_int
from lightning_gan.metrics.features import (
    Features,
    RealFeatureCache,
    dataset_features,
    describe_real,
    generator_features,
)
from lightning_gan.metrics.fidelity import fidelity_metrics, kid_subset_for, parse_metrics
from lightning_gan.metrics.inception import FeatureExtractor, InceptionV3, extractor_fingerprint

__all__ = ["FidelityMetrics", "real_features", "training_set"]

# metric name -> what it logs: (logged name, key in fidelity_metrics' result, key of its std or None)
_LOGGED = {
    "fid": [("fid", "fid", None)],
    "is": [("is", "is_mean", "is_std")],
    "kid": [("kid", "kid_mean", "kid_std")],
    "pr": [("precision", "precision", None), ("recall", "recall", None)],
    "dc": [("density", "density", None), ("coverage", "coverage", None)],
}
_LOWER_IS_BETTER = {"fid", "kid"}  # every other logged value is better when higher


def training_set(trainer: L.Trainer, owner: str) -> Any:
    """The training set of the run's data module (what the metrics compare with)."""
    datamodule = trainer.datamodule
    dataset = getattr(datamodule, "train_dataset", None)
    if dataset is None and datamodule is not None:
        dataset = datamodule.train_dataloader().dataset
    if dataset is None:
        raise ValueError(f"{owner} measures against the training set of a LightningDataModule: pass datamodule= to fit")
    return dataset


def real_features(
    trainer: L.Trainer,
    extractor: nn.Module,
    cache: RealFeatureCache | None,
    *,
    owner: str,
    batch_size: int,
    num_workers: int | None,
    progress: bool,
) -> Features:
    """Features of every training image once, on every rank (a collective under DDP); read from and
    written to ``cache`` (keyed by data set and metric network) unless it is None."""
    dataset = training_set(trainer, owner)
    workers = num_workers if num_workers is not None else getattr(trainer.datamodule, "num_workers", 0)

    def compute() -> Features:
        return dataset_features(
            dataset,
            extractor,
            batch_size=batch_size,
            num_workers=workers,
            device=trainer.lightning_module.device,
            progress=progress,
        )

    if cache is None:
        return compute()
    description = {**describe_real(trainer.datamodule, dataset), "extractor": extractor_fingerprint(extractor)}
    return cache.get(description, compute)


class FidelityMetrics(L.Callback):
    """FID, IS, KID, precision/recall and density/coverage of ``num_samples`` generated images against
    the training set, all from one pass of the metric network.

    Runs every ``every_n_steps`` generator iterations, at the last iteration (``max_steps``) and at
    the end of a fit that ended otherwise (not on an interrupt). Logs ``val/fid``, ``val/is``
    (``val/is_std``), ``val/kid`` (``val/kid_std``), ``val/precision`` and ``val/recall`` (``"pr"``),
    ``val/density`` and ``val/coverage`` (``"dc"``), and the best value so far of each as
    ``val/<name>_best`` (lowest FID and KID, highest of the others) to every logger, at the generator
    iteration; ``ModelCheckpoint(monitor="val/fid")`` sees them. The best values are kept in the
    callback's checkpoint state, so a resumed run goes on from them.

    The numbers follow torch-fidelity's protocol with its InceptionV3 (comparable with published
    tables when ``num_samples`` and the real set match theirs: 50,000 against the CIFAR-10
    training set is the usual "paper" protocol; 10,000 is cheaper and biased upward for FID).
    Generated images come from :meth:`GANModule.generate` (the EMA generator when EMA is on, eval
    mode, the generator's mode restored after) with noise fixed across evaluations, drawn without
    touching the run's random state. A generator with per-layer noise (StyleGAN2) draws it fresh
    for every image (``noise_mode="random"``, from the same seeds), as stylegan2-ada's metrics do,
    not eval mode's one constant noise image. Under DDP every rank measures its share: exactly
    ``num_samples`` images in total, every real image once. The real features are cached on disk
    (``cache_dir``) per data set, size, split and metric network, and kept in memory during the run.

    Args:
        metrics: any of ``"fid"``, ``"is"``, ``"kid"``, ``"pr"``, ``"dc"`` (a list, or one comma-separated string).
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
        pr_k: nearest neighbours of precision and recall (3, as Kynkaanniemi et al. and torch-fidelity).
        dc_k: nearest neighbours of density and coverage (5, as Naeem et al. and StudioGAN).
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
        pr_k: int = 3,
        dc_k: int = 5,
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
            ("pr_k", pr_k, 1),
            ("dc_k", dc_k, 1),
        ]:
            check_int(name, value, minimum, owner="FidelityMetrics")
        check_int("every_n_steps", every_n_steps, 1, owner="FidelityMetrics", optional=True)
        check_int("num_workers", num_workers, 0, owner="FidelityMetrics", optional=True)
        if "kid" in self.metrics and num_samples < kid_subset_size:
            raise ValueError(
                f"FidelityMetrics(num_samples={num_samples}, kid_subset_size={kid_subset_size}): KID draws subsets "
                "of kid_subset_size samples, so num_samples must be at least that"
            )
        if "is" in self.metrics and num_samples < isc_splits:
            raise ValueError(f"FidelityMetrics(num_samples={num_samples}): IS needs at least isc_splits={isc_splits}")
        if "pr" in self.metrics and num_samples < pr_k + 1:
            raise ValueError(
                f"FidelityMetrics(num_samples={num_samples}, pr_k={pr_k}): precision/recall needs at least pr_k + 1 "
                "generated samples (each sample's k-th nearest other sample)"
            )
        if feature_extractor is not None and weights is not None:
            raise ValueError("FidelityMetrics: pass weights (for InceptionV3) or feature_extractor, not both")
        if feature_extractor is not None and not isinstance(feature_extractor, nn.Module):
            raise TypeError(f"FidelityMetrics(feature_extractor={feature_extractor!r}): expected a torch.nn.Module")
        self.num_samples, self.every_n_steps, self.batch_size = num_samples, every_n_steps, batch_size
        self.weights, self.seed, self.num_workers, self.progress = weights, seed, num_workers, progress
        self.isc_splits, self.kid_subsets, self.kid_subset_size = isc_splits, kid_subsets, kid_subset_size
        self._kid_subset = kid_subset_size  # what KID uses: smaller for a real set smaller than this
        self.pr_k, self.dc_k = pr_k, dc_k
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
        dataset = training_set(trainer, "FidelityMetrics")
        if "kid" in self.metrics:  # a small folder: subsets of the whole real set, with a warning now
            self._kid_subset = kid_subset_for(self.num_samples, len(dataset), self.kid_subset_size)
        for name, k in (("pr", self.pr_k), ("dc", self.dc_k)):
            if name in self.metrics and len(dataset) < k + 1:
                raise ValueError(
                    f"FidelityMetrics: the real set has {len(dataset)} images; {name} with {name}_k={k} needs at "
                    f"least {k + 1}: lower {name}_k"
                )
        # one dry run on two generated images: a wrong extractor fails now, not after hours of training
        _, logits = self._extractor(pl_module.generate(2, seed=self.seed).float())
        if "is" in self.metrics and logits is None:
            raise ValueError(
                f"FidelityMetrics: the Inception Score needs class logits, and {type(self.feature_extractor).__name__} "
                "returns features only: return (features, logits) from it, or drop 'is' from metrics"
            )

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
            self._real = real_features(
                trainer,
                self._extractor,
                self.cache,
                owner="FidelityMetrics",
                batch_size=self.batch_size,
                num_workers=self.num_workers,
                progress=self.progress,
            )
        noise_mode = metric_noise_mode(pl_module.sampling_generator)  # fresh per-layer noise (StyleGAN2)
        fake = generator_features(
            lambda count, seed: pl_module.generate(count, seed=seed, noise_mode=noise_mode),
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
            kid_subset_size=self._kid_subset,
            pr_k=self.pr_k,
            dc_k=self.dc_k,
            device=device,
        )
        logged: dict[str, float] = {}
        for metric in self.metrics:
            for name, key, std_key in _LOGGED[metric]:
                value = logged[f"val/{name}"] = values[key]
                if std_key is not None:
                    logged[f"val/{name}_std"] = values[std_key]
                best = self.best.get(name)
                if best is None or (value < best if name in _LOWER_IS_BETTER else value > best):
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
