"""The private Lightning and torch names the package relies on (lightning_gan._internals) exist and
behave as assumed on the installed versions: an upgrade that changes one fails here, by name."""

import inspect

import lightning as L
import pytest
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.cli import LightningCLI
from torch.utils.data import DataLoader, RandomSampler

from lightning_gan import _internals
from lightning_gan.data import ResumableDataLoader
from tests.helpers import loader, tiny_gan


class _LogSteps(L.Callback):
    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    def on_train_batch_start(self, trainer, *args) -> None:
        self.seen.append((trainer.global_step, _internals.should_update_logs(trainer)))


def test_the_logger_connector_says_when_loggers_read_values(tmp_path, gan, tiny_trainer):
    probe = _LogSteps()
    fit = tiny_trainer(
        max_steps=7, log_every_n_steps=3, callbacks=[probe], logger=L.pytorch.loggers.CSVLogger(tmp_path)
    )
    fit.fit(gan, loader(torch.randn(256, 2)))
    assert [step for step, update in probe.seen if update] == [2, 5]  # Lightning logs at (step + 1) % 3 == 0


def test_the_trainer_keeps_use_distributed_sampler():
    assert _internals.uses_distributed_sampler(L.Trainer(accelerator="cpu", logger=False)) is True
    assert (
        _internals.uses_distributed_sampler(L.Trainer(accelerator="cpu", logger=False, use_distributed_sampler=False))
        is False
    )


@pytest.mark.parametrize("leave", [True, False])
def test_the_progress_bar_keeps_leave(leave):
    assert _internals.progress_bar_leave(TQDMProgressBar(leave=leave)) is leave


def test_lightning_s_distributed_wrapper_keeps_the_wrapped_sampler():
    data = list(range(10))
    inner = RandomSampler(data)
    assert _internals.wrapped_sampler(DistributedSamplerWrapper(inner, num_replicas=2, rank=0)) is inner
    assert _internals.wrapped_sampler(torch.utils.data.DistributedSampler(data, num_replicas=2, rank=0)) is None


def test_the_grad_scaler_is_the_precision_plugin_s():
    assert _internals.grad_scaler(L.Trainer(accelerator="cpu", logger=False)) is None  # 32-bit: none
    plugin = L.pytorch.plugins.precision.MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    assert _internals.grad_scaler(L.Trainer(accelerator="cpu", logger=False, plugins=[plugin])) is plugin.scaler


def test_ddp_has_the_flag_its_no_sync_sets():
    source = inspect.getsource(torch.nn.parallel.DistributedDataParallel.no_sync)
    assert "require_backward_grad_sync" in source
    module = torch.nn.Linear(2, 2)
    module.require_backward_grad_sync = True
    _internals.stop_ddp_gradient_sync(module)
    assert module.require_backward_grad_sync is False
    with pytest.raises(AttributeError, match="require_backward_grad_sync"):
        _internals.stop_ddp_gradient_sync(torch.nn.Linear(2, 2))


def test_flat_buffers_round_trip():
    tensors = [torch.randn(3), torch.randn(2, 2)]
    flat = _internals.flatten_dense_tensors(tensors)
    assert flat.shape == (7,)
    for tensor, view in zip(tensors, _internals.unflatten_dense_tensors(flat * 2, tensors)):
        assert torch.equal(view, tensor * 2)


def test_foreach_lerp_moves_each_target_toward_its_end():
    targets, ends = [torch.zeros(3), torch.ones(2)], [torch.ones(3), torch.zeros(2)]
    _internals.foreach_lerp_(targets, ends, 0.25)
    assert torch.equal(targets[0], torch.full((3,), 0.25)) and torch.equal(targets[1], torch.full((2,), 0.75))


def test_a_fused_optimizer_skips_its_update_when_told_found_inf():
    weight = torch.nn.Parameter(torch.ones(2))
    fused = torch.optim.Adam([weight], lr=0.1, fused=True)
    assert _internals.skips_nonfinite_on_device(fused)
    assert not _internals.skips_nonfinite_on_device(torch.optim.Adam([torch.nn.Parameter(torch.ones(2))]))
    weight.grad = torch.ones(2)
    _internals.set_found_inf(fused, torch.ones(()))
    fused.step()
    _internals.clear_found_inf(fused)
    assert torch.equal(weight.detach(), torch.ones(2))  # skipped
    fused.step()
    assert not torch.equal(weight.detach(), torch.ones(2))  # stepped


def test_the_old_spectral_norm_is_a_forward_pre_hook():
    assert _internals.has_spectral_norm_hook(torch.nn.utils.spectral_norm(torch.nn.Linear(2, 2)))
    assert not _internals.has_spectral_norm_hook(torch.nn.Linear(2, 2))


def test_torch_compile_lists_its_modes_and_backends():
    assert "max-autotune" in _internals.compile_modes()
    assert "inductor" in _internals.compile_backends()
    assert _internals.COMPILE_ERRORS and issubclass(_internals.COMPILE_ERRORS[0], Exception)


def test_dataloader_iterators_take_their_indices_from_index_sampler():
    # ResumableDataLoader overrides this private property to see a whole epoch's indices
    assert isinstance(inspect.getattr_static(DataLoader, "_index_sampler"), property)
    assert "_index_sampler" in inspect.getsource(torch.utils.data.dataloader._BaseDataLoaderIter.__init__)
    assert isinstance(inspect.getattr_static(ResumableDataLoader, "_index_sampler"), property)


def test_lightning_cli_instantiates_the_trainer_through_the_hook_the_package_overrides():
    hook = inspect.getattr_static(LightningCLI, "_instantiate_trainer")
    assert list(inspect.signature(hook).parameters) == ["self", "config", "callbacks"]
    assert "self._instantiate_trainer(" in inspect.getsource(LightningCLI.instantiate_trainer)  # behaviour: test_cli.py


def test_the_data_module_s_batch_hooks_run_on_the_batches_the_module_fetches(tiny_trainer):
    """``dataloader_iter`` steps fetch their own batches; Lightning's own batch hooks must still run:
    ``on_before_batch_transfer`` through the private ``_on_before_batch_transfer`` (the data module's
    where it overrides it), ``on_after_batch_transfer`` inside ``batch_to_device``."""

    class Hooked(L.LightningDataModule):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def train_dataloader(self):
            return loader(torch.randn(64, 2))

        def on_before_batch_transfer(self, batch, dataloader_idx):
            self.calls.append("before")
            return batch

        def on_after_batch_transfer(self, batch, dataloader_idx):
            self.calls.append("after")
            return batch * 0.0 + 1.0  # what D sees comes from here

    data = Hooked()
    gan = tiny_gan(d_steps=2)
    seen = []
    discriminate = gan._discriminate
    gan._discriminate = lambda x, *args, **kwargs: seen.append(x.detach().clone()) or discriminate(x, *args, **kwargs)
    tiny_trainer(max_steps=2).fit(gan, datamodule=data)
    assert data.calls == ["before", "after"] * 4  # two D steps per iteration, two iterations
    assert any(torch.equal(x, torch.ones_like(x)) for x in seen)
