"""Grids of samples from fixed noise, written and logged as training goes: watch one set of latents improve."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor

from lightning_gan._generator import check_truncation
from lightning_gan._validate import check_int
from lightning_gan.callbacks._images import log_image, run_dir
from lightning_gan.sampling import save_samples

__all__ = ["SampleGrid"]

# latents per generator call: a large grid does not need one huge batch
GENERATE_CHUNK = 256


class _FixedNoiseImages(L.Callback):
    """What :class:`SampleGrid` and ``LatentInterpolation`` share.

    Fixed noise drawn once (at the first fit start) with the module's own ``sample_latent`` under a
    private seed, kept in the callback's state (so a resumed run keeps it), and turned into a PNG grid
    in ``run_dir(trainer) / folder`` every ``every_n_steps`` generator iterations and at the end of
    training, logged under ``key``. Subclasses say what to draw, what to generate and the grid's width.
    """

    truncation_psi: float = 1.0  # SampleGrid can draw with the truncation trick

    folder: str = ""

    def __init__(self, *, every_n_steps: int, seed: int, key: str) -> None:
        name = type(self).__name__
        check_int("every_n_steps", every_n_steps, 1, owner=name)
        if not (isinstance(seed, int) and not isinstance(seed, bool)):
            raise TypeError(f"{name}(seed={seed!r}): expected an int")
        if not (isinstance(key, str) and key):
            raise ValueError(f"{name}(key={key!r}): expected a non-empty string")
        self.every_n_steps = every_n_steps
        self.seed = seed
        self.key = key
        # on the CPU; None until the first fit starts
        self.noise: dict[str, Tensor] | None = None
        self.paths: list[Path] = []  # the PNGs written by this process, in order
        self._last_step: int | None = None

    # ------------------------------------------------------------------ for subclasses
    def _draw(self, pl_module: Any) -> dict[str, Tensor]:
        """The fixed noise, drawn with ``pl_module.sample_latent`` (the global RNG is seeded and forked)."""
        raise NotImplementedError

    def _latents(self) -> tuple[Tensor, Tensor | None]:
        """Latents ``(N, ...)`` and labels ``(N,)`` (or None) of the grid's images, in grid order, from ``noise``."""
        raise NotImplementedError

    def _nrow(self, pl_module: Any) -> int:
        """Images per grid row."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public
    @property
    def state_key(self) -> str:
        # two callbacks of one class (logged under different keys) keep their noise apart in a checkpoint
        return self._generate_state_key(key=self.key)

    def inputs(self) -> tuple[Tensor, Tensor | None]:
        """The latents and labels (``None`` for an unconditional model) behind the grid, in grid order, on the CPU."""
        if self.noise is None:
            raise RuntimeError(f"{type(self).__name__}: no noise yet; it is drawn when fit starts")
        return self._latents()

    @torch.no_grad()
    def images(self, pl_module: Any) -> Tensor:
        """The grid's images ``(N, C, H, W)`` (float, on the CPU) as ``pl_module`` makes them now.

        Drawn with ``pl_module.generate_from`` (eval mode, EMA generator when on); a generator that
        draws noise inside gets it from a forked, seeded RNG, so the training run's stream is untouched.
        """
        self._ensure_noise(pl_module)
        z, labels = self.inputs()
        return self._generate(pl_module, z, labels)

    def save(self, trainer: L.Trainer, pl_module: Any) -> Path | None:
        """Write the grid of the current generator iteration and log it; the path on global rank zero, else None.

        Call it on every process (the run's folder is agreed between processes); only global rank zero
        generates, writes and logs.
        """
        step = trainer.global_step
        self._last_step = step
        # on every rank: Trainer.log_dir broadcasts
        folder = run_dir(trainer) / self.folder
        if not trainer.is_global_zero:
            return None
        path = folder / f"step_{step:06d}.png"
        save_samples(self.images(pl_module), path, nrow=self._nrow(pl_module))
        self.paths.append(path)
        log_image(trainer, self.key, path)
        return path

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        name = type(self).__name__
        for attribute in ("sample_latent", "generate_from", "latent_dim"):
            if not hasattr(pl_module, attribute):
                raise TypeError(
                    f"{name} needs a lightning_gan.GANModule (with `{attribute}`); got {type(pl_module).__name__}"
                )
        check_truncation(getattr(pl_module, "generator", None), self.truncation_psi)  # before any training
        self._ensure_noise(pl_module, check=True)
        self._last_step = None
        z, labels = self.inputs()
        try:
            probe = self._generate(pl_module, z[:1], None if labels is None else labels[:1])
        except (RuntimeError, TypeError, ValueError):
            return  # a generator that does not fit the model: GANModule's own input check explains it
        if probe.dim() != 4:
            raise ValueError(
                f"{name} draws images, (N, C, H, W), but this generator makes samples of shape "
                f"{tuple(probe.shape)}; for 1-D or 2-D data use lightning_gan.callbacks.ToyDistributionFigure"
            )

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step > 0 and step % self.every_n_steps == 0 and step != self._last_step:
            self.save(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step != self._last_step:
            self.save(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        if self.noise is None:
            return {}
        return {
            "noise": {name: value.clone() for name, value in self.noise.items()},
            "seed": self.seed,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        noise = state_dict.get("noise")
        if noise is not None:
            self.noise = {name: torch.as_tensor(value).cpu() for name, value in noise.items()}

    # ------------------------------------------------------------------ inside
    def _ensure_noise(self, pl_module: Any, *, check: bool = False) -> None:
        """Draw the noise unless it is there (drawn before, or restored); with ``check``, also redraw
        noise that does not fit this model and configuration."""
        if self.noise is not None and not check:
            return
        fresh = {name: value.cpu() for name, value in self._draw(pl_module).items()}
        if self.noise is not None:
            old = {name: tuple(value.shape) for name, value in self.noise.items()}
            new = {name: tuple(value.shape) for name, value in fresh.items()}
            if old == new:
                return
            rank_zero_warn(
                f"{type(self).__name__}: the saved fixed noise has shapes {old} but this model and "
                f"configuration need {new}; drawing new noise with seed={self.seed}"
            )
        self.noise = fresh

    def _generate(self, pl_module: Any, z: Tensor, labels: Tensor | None) -> Tensor:
        device, dtype = pl_module.device, pl_module.dtype
        z = z.to(device=device, dtype=dtype if z.is_floating_point() else None)
        labels = None if labels is None else labels.to(device=device, dtype=torch.long)
        devices = [device] if device.type == "cuda" else []
        chunks = []
        # a generator that draws noise inside gets a seeded, forked stream: the run's stays as it was
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            for start in range(0, z.shape[0], GENERATE_CHUNK):
                end = start + GENERATE_CHUNK
                part = None if labels is None else labels[start:end]
                truncation = {} if self.truncation_psi == 1 else {"truncation_psi": self.truncation_psi}
                chunks.append(pl_module.generate_from(z[start:end], part, **truncation).float().cpu())
        return torch.cat(chunks)

    def _sample_latent(self, pl_module: Any, num: int) -> Tensor:
        """``pl_module.sample_latent(num)`` under this callback's seed, the run's RNG streams left as they were."""
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            return pl_module.sample_latent(num).detach()

    @staticmethod
    def _num_classes(pl_module: Any) -> int:
        return int(getattr(pl_module, "num_classes", 0) or 0)


class SampleGrid(_FixedNoiseImages):
    """Writes a grid of samples from one fixed batch of noise every ``every_n_steps`` generator iterations.

    The latents (and, for a conditional model, the labels) are drawn once, when fit first starts,
    from the module's own ``sample_latent`` (so its latent distribution) under ``seed``, without
    touching the run's random stream; for an unconditional model they are the latents of
    ``pl_module.generate(num_samples, seed=seed)``. Conditional models get the classes in order,
    ``0, 1, ..., num_classes - 1, 0, 1, ...``, and by default ``nrow = num_classes``, so each column is
    one class. Each grid goes to ``run_dir / "samples" / "step_000500.png"`` (also at the end of
    training, unless that step was just written) and is logged under ``key`` to W&B or TensorBoard.
    The noise is part of the callback's state: a run resumed from a checkpoint keeps it, whatever
    ``seed`` says then. Only global rank zero generates, writes and logs.

    Example::

        from lightning_gan.callbacks import SampleGrid

        trainer = L.Trainer(max_steps=3000, callbacks=[SampleGrid(num_samples=64, every_n_steps=500)])
        trainer.fit(gan, DigitsDataModule(size=16))  # -> <run folder>/samples/step_000500.png, ...

    Args:
        num_samples: images in the grid.
        every_n_steps: write a grid every this many generator iterations (``trainer.global_step``).
        nrow: images per grid row; ``None``: ``num_classes`` for a conditional model (when at most
            ``num_samples``), else a square grid.
        seed: seed of the fixed noise.
        key: the image's name in the loggers.
        truncation_psi: draw with the truncation trick (``GANModule.generate``), for generators that
            support it (StyleGAN2); 1 draws without.
    """

    folder = "samples"

    def __init__(
        self,
        num_samples: int = 64,
        every_n_steps: int = 500,
        nrow: int | None = None,
        seed: int = 0,
        key: str = "samples",
        truncation_psi: float = 1.0,
    ) -> None:
        check_int("num_samples", num_samples, 1, owner="SampleGrid")
        if not isinstance(truncation_psi, (int, float)) or isinstance(truncation_psi, bool):
            raise TypeError(f"SampleGrid(truncation_psi={truncation_psi!r}): expected a number (1 = no truncation)")
        self.truncation_psi = truncation_psi  # the generator's support is checked at fit start
        check_int("nrow", nrow, 1, owner="SampleGrid", optional=True)
        super().__init__(every_n_steps=every_n_steps, seed=seed, key=key)
        self.num_samples = num_samples
        self.nrow = nrow

    def _draw(self, pl_module: Any) -> dict[str, Tensor]:
        noise = {"z": self._sample_latent(pl_module, self.num_samples)}
        num_classes = self._num_classes(pl_module)
        if num_classes > 0:
            noise["labels"] = torch.arange(self.num_samples) % num_classes
        return noise

    def _latents(self) -> tuple[Tensor, Tensor | None]:
        assert self.noise is not None
        return self.noise["z"], self.noise.get("labels")

    def _nrow(self, pl_module: Any) -> int:
        if self.nrow is not None:
            return self.nrow
        num_classes = self._num_classes(pl_module)
        if 0 < num_classes <= self.num_samples:
            return num_classes
        return max(1, round(math.sqrt(self.num_samples)))
