"""The lecture-notes figure, drawn from a real run: how p_g, D(x) and G move during training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib

matplotlib.use("Agg")  # draw to files; no display needed
import matplotlib.pyplot as plt
import numpy as np
import torch

from lightning_gan.callbacks._images import log_image, run_dir

__all__ = ["ToyDistributionFigure"]

PANEL_LABELS = "abcdefghij"


@dataclass
class _Snapshot:
    iteration: int
    samples: np.ndarray  # (N, dim) generated samples
    grid: np.ndarray  # 1-D: (G,) x values; 2-D: (G, G, 2)
    d_values: np.ndarray  # D(x) = sigmoid(logit) on the grid
    z: np.ndarray | None = None  # 1-D: latents of the arrows, (A,)
    gz: np.ndarray | None = None  # 1-D: G(z) of the arrows, (A,)


class ToyDistributionFigure(L.Callback):
    """Draws training at a few moments as one figure, saved as a PNG and logged as an image.

    On 1-D data, each panel shows the data density p_data (dashed), the generator's density p_g
    (estimated from samples), the discriminator's output D(x), and below them the latent line z
    with arrows to G(z), the four panels (a)-(d) of Goodfellow et al. (2014), Figure 1. On 2-D
    data, each panel shows samples over the true modes and D(x) as a background.

    Args:
        at: the moments, as fractions of the run's generator iterations (0 is before the first
            update, 1 the end).
        num_samples: generated samples behind each panel's density estimate or scatter.
        filename: name of the PNG, written in the run's folder.
    """

    def __init__(
        self,
        at: Sequence[float] = (0.01, 0.03, 0.1, 1.0),
        num_samples: int = 20_000,
        filename: str = "toy_distribution.png",
    ) -> None:
        at = sorted(float(a) for a in at)
        if not at or len(at) > len(PANEL_LABELS) or at[0] < 0 or at[-1] > 1:
            raise ValueError(f"ToyDistributionFigure(at={at}): expected 1 to {len(PANEL_LABELS)} fractions in [0, 1]")
        if num_samples < 10:
            raise ValueError(f"ToyDistributionFigure(num_samples={num_samples}): expected at least 10")
        self.at = at
        self.num_samples = num_samples
        self.filename = filename
        self.snapshots: list[_Snapshot] = []
        self._due: list[int] = []
        self.path: Path | None = None
        self._range: tuple[float, float] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if not (hasattr(datamodule, "centers") and hasattr(datamodule, "std")):
            raise ValueError(
                f"ToyDistributionFigure needs a toy data module with `centers` and `std` "
                f"(e.g. lightning_gan.data.Gaussian1DDataModule); got {type(datamodule).__name__}"
            )
        dim = datamodule.centers.shape[1]
        if dim not in (1, 2):
            raise ValueError(f"ToyDistributionFigure draws 1-D or 2-D data; this data has dim={dim}")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = trainer.max_steps if trainer.max_steps > 0 else trainer.estimated_stepping_batches
        total = max(int(total), 1)
        self._due = sorted({round(a * total) for a in self.at})
        self.snapshots = []
        self._range = None
        if self._due and self._due[0] == trainer.global_step:
            self._take(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._due and trainer.global_step >= self._due[0]:
            self._take(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.snapshots or self.snapshots[-1].iteration != trainer.global_step:
            self._take(trainer, pl_module)  # the run stopped early: the last panel shows where it ended
        path = run_dir(trainer) / self.filename  # on every rank: Trainer.log_dir broadcasts under DDP
        if trainer.is_global_zero:
            self.path = path
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.draw(trainer.datamodule, self.path)
            log_image(trainer, "toy_distribution", self.path)

    @torch.no_grad()
    def _take(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        while self._due and self._due[0] <= trainer.global_step:
            self._due.pop(0)
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        centers, std = datamodule.centers.cpu().numpy(), float(datamodule.std)
        samples = pl_module.generate(self.num_samples, seed=0).float().cpu().numpy()
        if self._range is None:  # fixed at the first panel, so all panels share one axis
            low = min(centers.min() - 4 * std, np.percentile(samples, 0.5))
            high = max(centers.max() + 4 * std, np.percentile(samples, 99.5))
            margin = 0.05 * (high - low)
            self._range = (float(low - margin), float(high + margin))
        low, high = self._range
        discriminator = pl_module.discriminator
        was_training = discriminator.training
        discriminator.eval()
        try:
            if centers.shape[1] == 1:
                snapshot = self._snapshot_1d(trainer.global_step, pl_module, samples, low, high)
            else:
                axis = np.linspace(low, high, 120, dtype=np.float32)
                grid = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1)  # (G, G, 2)
                d_values = self._d(pl_module, grid.reshape(-1, 2)).reshape(grid.shape[:2])
                snapshot = _Snapshot(trainer.global_step, samples[:2500], grid, d_values)
        finally:
            discriminator.train(was_training)
        self.snapshots.append(snapshot)

    def _snapshot_1d(self, iteration: int, pl_module: Any, samples: np.ndarray, low: float, high: float) -> _Snapshot:
        grid = np.linspace(low, high, 400, dtype=np.float32)
        d_values = self._d(pl_module, grid[:, None])
        # arrows from evenly spaced latent quantiles (uniform z: evenly spaced points); the draw is
        # seeded inside fork_rng so that watching the run does not change its noise stream
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            latents = pl_module.sample_latent(4096).float()
        quantiles = torch.quantile(latents[:, 0].cpu(), torch.linspace(0.02, 0.98, 25))
        z = torch.zeros(len(quantiles), pl_module.latent_dim, device=pl_module.device)
        z[:, 0] = quantiles.to(pl_module.device)
        gz = pl_module.generate_from(z).float().cpu().numpy()[:, 0]
        return _Snapshot(iteration, samples, grid, d_values, quantiles.numpy(), gz)

    @staticmethod
    def _d(pl_module: Any, points: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(points).to(pl_module.device)
        return torch.sigmoid(pl_module.discriminator(x).float().reshape(-1)).cpu().numpy()

    def draw(self, datamodule: Any, path: Path) -> None:
        """Draw the snapshots taken so far into a PNG at ``path``."""
        n = len(self.snapshots)
        centers = datamodule.centers.cpu().numpy()
        fig, axes = plt.subplots(1, n, figsize=(4 * n, 4), squeeze=False)
        for i, (ax, snap) in enumerate(zip(axes[0], self.snapshots)):
            if centers.shape[1] == 1:
                self._draw_1d(ax, snap, datamodule)
            else:
                ax.imshow(
                    snap.d_values,
                    origin="lower",
                    cmap="Greens",
                    vmin=0,
                    vmax=1,
                    alpha=0.5,
                    extent=(snap.grid[0, 0, 0], snap.grid[0, -1, 0], snap.grid[0, 0, 1], snap.grid[-1, 0, 1]),
                )
                ax.scatter(snap.samples[:, 0], snap.samples[:, 1], s=2, c="tab:blue", alpha=0.5, label="G(z)")
                ax.scatter(centers[:, 0], centers[:, 1], s=30, c="black", marker="x", label="modes")
                ax.set_aspect("equal")
            ax.set_title(f"({PANEL_LABELS[i]}) iteration {snap.iteration}")
        axes[0][0].legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    @staticmethod
    def _draw_1d(ax: Any, snap: _Snapshot, datamodule: Any) -> None:
        x = snap.grid
        p_data = datamodule.log_prob(torch.from_numpy(x)[:, None]).exp().numpy()
        p_g = _kde(snap.samples[:, 0], x)
        scale = 0.8 / p_data.max()  # both densities on p_data's scale; a spiky p_g is clipped
        ax.plot(x, p_data * scale, "k--", label="p_data")
        ax.plot(x, np.minimum(p_g * scale, 1.08), "g-", label="p_g")
        ax.plot(x, snap.d_values, "b:", label="D(x)")
        # the mapping x = G(z): the z line below, the x line above it, arrows between
        z_line, x_line = -0.75, -0.15
        z = snap.z
        z_pos = x[0] + (z - z.min()) / max(z.max() - z.min(), 1e-8) * (x[-1] - x[0])  # spread z over the axis
        ax.hlines([z_line, x_line], x[0], x[-1], colors="gray", linewidth=1)
        for start, end in zip(z_pos, snap.gz):
            ax.annotate("", xy=(end, x_line), xytext=(start, z_line), arrowprops={"arrowstyle": "->", "lw": 0.6})
        ax.text(x[0], z_line - 0.12, "z", fontsize=9)
        ax.text(x[0], x_line + 0.03, "x", fontsize=9)
        ax.set_ylim(-1.0, 1.1)
        ax.set_xlim(x[0], x[-1])
        ax.set_yticks([0, 0.5, 1])


def _kde(samples: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gaussian kernel density estimate with Scott's bandwidth, evaluated at ``x``."""
    samples = samples[:5000].astype(np.float64)
    bandwidth = max(samples.std() * len(samples) ** (-1 / 5), 1e-3)
    diffs = (x[:, None] - samples[None, :]) / bandwidth
    return np.exp(-0.5 * diffs**2).sum(1) / (len(samples) * bandwidth * np.sqrt(2 * np.pi))
