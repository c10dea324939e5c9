"""Rows of images along lines between fixed pairs of latents: does the generator move smoothly?"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_gan._validate import check_int
from lightning_gan.callbacks.sample_grid import _FixedNoiseImages

__all__ = ["LatentInterpolation"]

METHODS = ("slerp", "linear")


class LatentInterpolation(_FixedNoiseImages):
    """Writes a grid whose rows walk from one fixed latent to another, every ``every_n_steps`` generator iterations.

    Row ``i`` shows ``steps`` images from ``G(z_start[i])`` (first column) to ``G(z_end[i])`` (last
    column), the latents in between spaced evenly along a great circle (``"slerp"``, White 2016: the
    path stays where a normal prior has its mass) or a straight line (``"linear"``). A conditional
    model keeps one label per row: ``i % num_classes``. The endpoints are drawn once, when fit first
    starts, from the module's ``sample_latent`` under ``seed`` without touching the run's random
    stream, and are kept in the callback's state, so a resumed run keeps them. Grids go to
    ``run_dir / "interpolation" / "step_001000.png"`` (also at the end of training) and are logged
    under ``key`` to W&B or TensorBoard, by global rank zero only.

    Example::

        from lightning_gan.callbacks import LatentInterpolation

        trainer = L.Trainer(max_steps=3000, callbacks=[LatentInterpolation(num_rows=8, steps=10)])
        trainer.fit(gan, DigitsDataModule(size=16))  # -> <run folder>/interpolation/step_001000.png, ...

    Args:
        num_rows: pairs of latents, one row each.
        steps: images per row, both endpoints included.
        every_n_steps: write a grid every this many generator iterations (``trainer.global_step``).
        seed: seed of the fixed endpoints.
        method: ``"slerp"`` (spherical) or ``"linear"``.
        key: the image's name in the loggers.
    """

    folder = "interpolation"

    def __init__(
        self,
        num_rows: int = 8,
        steps: int = 10,
        every_n_steps: int = 1000,
        seed: int = 0,
        method: str = "slerp",
        key: str = "interpolation",
    ) -> None:
        check_int("num_rows", num_rows, 1, owner="LatentInterpolation")
        check_int("steps", steps, 2, owner="LatentInterpolation")
        if method not in METHODS:
            raise ValueError(f"LatentInterpolation(method={method!r}): expected one of {list(METHODS)}")
        super().__init__(every_n_steps=every_n_steps, seed=seed, key=key)
        self.num_rows = num_rows
        self.steps = steps
        self.method = method

    def _draw(self, pl_module: Any) -> dict[str, Tensor]:
        z = self._sample_latent(pl_module, 2 * self.num_rows)
        noise = {"z_start": z[: self.num_rows], "z_end": z[self.num_rows :]}
        num_classes = self._num_classes(pl_module)
        if num_classes > 0:
            noise["labels"] = torch.arange(self.num_rows) % num_classes
        return noise

    def _latents(self) -> tuple[Tensor, Tensor | None]:
        assert self.noise is not None
        z = interpolate(self.noise["z_start"], self.noise["z_end"], self.steps, self.method)
        labels = self.noise.get("labels")
        if labels is not None:
            labels = labels.repeat_interleave(self.steps)
        return z.flatten(0, 1), labels

    def _nrow(self, pl_module: Any) -> int:
        return self.steps


def interpolate(start: Tensor, end: Tensor, steps: int, method: str = "slerp") -> Tensor:
    """Latents ``(R, steps, ...)`` from ``start[i]`` to ``end[i]`` (both ``(R, ...)``), endpoints included.

    ``"slerp"`` walks the great circle between the two directions, with the norm changing along it
    as the weights say (``sin((1 - t) w) / sin w`` and ``sin(t w) / sin w``, w the angle between
    them); nearly parallel latents fall back to the straight line. ``"linear"`` is ``(1 - t) a + t b``.
    """
    if method not in METHODS:
        raise ValueError(f"interpolate(method={method!r}): expected one of {list(METHODS)}")
    if start.shape != end.shape:
        raise ValueError(f"interpolate: start {tuple(start.shape)} and end {tuple(end.shape)} differ in shape")
    a, b = start.flatten(1).double(), end.flatten(1).double()  # (R, D)
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[None, :]  # (1, S)
    w_a, w_b = 1.0 - t, t.expand(a.shape[0], -1)
    if method == "slerp":
        cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
        omega = cos.clamp(-1.0, 1.0).acos()[:, None]  # (R, 1)
        sin = omega.sin()
        curved = sin > 1e-6
        safe = torch.where(curved, sin, torch.ones_like(sin))
        w_a = torch.where(curved, ((1.0 - t) * omega).sin() / safe, 1.0 - t)
        w_b = torch.where(curved, (t * omega).sin() / safe, t)
    path = w_a[..., None] * a[:, None] + w_b[..., None] * b[:, None]  # (R, S, D)
    path[:, 0], path[:, -1] = a, b  # the endpoints exactly
    return path.to(start.dtype).reshape(start.shape[0], steps, *start.shape[1:])
