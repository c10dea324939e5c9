"""What only a GPU can show: the fused step never waits for the device, the fast path on CUDA
trains the default path's game, a set held on the device stays there.

CI has no GPU, so these are skipped there (and reported as skipped); a session lent a GPU runs
them with ``pytest -n 0 tests/test_gpu.py`` (see docs/performance.md).
"""

from functools import partial

import pytest
import torch

from lightning_gan import GANModule
from lightning_gan.data import CIFAR10DataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.fake_data import write_cifar10
from tests.helpers import LossRecorder, trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SHAPE = (3, 32, 32)
fused_adam = partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999), fused=True)


def _on_gpu_batches(count: int = 64 * 8, batch_size: int = 64) -> torch.utils.data.DataLoader:
    data = torch.rand(count, *SHAPE, device="cuda") * 2 - 1
    return torch.utils.data.DataLoader(
        range(count), batch_size=batch_size, shuffle=True, drop_last=True,
        collate_fn=lambda indices: data[torch.as_tensor(indices).cuda(non_blocking=True)],
    )  # fmt: skip


class _FailsOnSync(GANModule):
    """Raises on any synchronizing CUDA call inside training_step (after the first, and not on logging steps)."""

    def training_step(self, dataloader_iter):
        checked = self._inputs_checked and not self._should_log()
        if checked:
            # the loader's index copy is the loader's, not the step's: fetch the batches first
            dataloader_iter = iter([next(dataloader_iter) for _ in range(self.d_steps)])
            torch.cuda.set_sync_debug_mode("error")
        try:
            return super().training_step(dataloader_iter)
        finally:
            torch.cuda.set_sync_debug_mode("default")


def test_the_fused_step_never_waits_for_the_gpu(tmp_path):
    torch.manual_seed(0)
    gan = _FailsOnSync(
        DCGANGenerator(64, SHAPE, width=16), DCGANDiscriminator(SHAPE, width=16), latent_dim=64,
        g_optimizer=fused_adam, d_optimizer=fused_adam, ema_decay=0.999,
    )  # fmt: skip
    trainer(tmp_path, max_steps=12, accelerator="cuda", log_every_n_steps=5).fit(gan, _on_gpu_batches())
    assert gan.global_step == 12


def _losses(tmp_path, *, fused: bool = False, **fast) -> list[tuple[float, float]]:
    torch.manual_seed(0)
    optimizer = partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999), fused=fused)
    gan = GANModule(
        DCGANGenerator(64, SHAPE, width=16), DCGANDiscriminator(SHAPE, width=16), latent_dim=64,
        g_optimizer=optimizer, d_optimizer=optimizer, **fast,
    )  # fmt: skip
    losses = LossRecorder()
    torch.manual_seed(1)
    loader = _on_gpu_batches()
    trainer(tmp_path, max_steps=20, accelerator="cuda", log_every_n_steps=1, callbacks=[losses]).fit(gan, loader)
    return losses.losses


def test_the_fast_path_on_the_gpu_follows_the_default_loss_curve(tmp_path):
    """As benchmarks/step_time.py compares them: rounding differences grow chaotically in a GAN,
    so the first loss (before any update) must agree, and the mean losses as closely as those of
    a run that differs from the default only in rounding (fused Adam alone)."""
    default = _losses(tmp_path)
    fused_only = _losses(tmp_path, fused=True)
    fast = _losses(tmp_path, fused=True, channels_last=True, compile=True)
    assert fast[0][0] == pytest.approx(default[0][0], abs=1e-2)  # TF32 convolutions round at ~1e-3

    def mean_gap(a, b):
        return max(abs(sum(x[i] for x in a) - sum(x[i] for x in b)) / len(a) for i in (0, 1))

    assert mean_gap(default, fast) <= max(3 * mean_gap(default, fused_only), 0.05)


def test_a_set_held_on_the_gpu_is_indexed_there(tmp_path):
    write_cifar10(tmp_path / "data", num_per_batch=16)
    dm = CIFAR10DataModule(tmp_path / "data", batch_size=16, on_device=True)
    gan = GANModule(DCGANGenerator(8, dm.dims, width=8), DCGANDiscriminator(dm.dims, width=8), latent_dim=8)
    fit = trainer(tmp_path, max_steps=3, accelerator="cuda")
    fit.fit(gan, datamodule=dm)
    assert fit.train_dataloader.dataset.images.device.type == "cuda" and gan.global_step == 3
