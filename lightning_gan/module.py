"""``GANModule``: the adversarial game as a LightningModule with manual optimization.

One call of ``training_step`` is one *generator iteration*: ``d_steps`` (k) discriminator
updates, each on its own real minibatch and fresh noise, then one generator update on fresh
noise. Only the generator's optimizer step advances ``trainer.global_step``, so
``trainer.max_steps`` and the logged x-axis both count generator iterations, as papers do.
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_gan.losses import get_loss
from lightning_gan.nets._recordable import build_network, import_class, network_spec
from lightning_gan.regularizers import gradient_penalty, r1_penalty

__all__ = ["GANModule"]

try:  # what a failed compilation raises at the first call (torch wraps backend errors in these)
    from torch._dynamo.exc import TorchDynamoException as _DynamoError

    _COMPILE_ERRORS: tuple[type[BaseException], ...] = (_DynamoError,)
except ImportError:  # pragma: no cover - torch without dynamo
    _COMPILE_ERRORS = ()

# One training_step per generator iteration pulls its k real batches from `dataloader_iter` on
# purpose (see training_step); Lightning's generic caution about that signature is noise here.
warnings.filterwarnings("ignore", message=r"(You are using|Found) the `dataloader_iter`|Found `dataloader_iter`")

LATENT_DISTRIBUTIONS = ("normal", "uniform")
NONFINITE_POLICIES = ("error", "skip")

# The usual GAN Adam (DCGAN, Radford et al. 2016): a low beta1 keeps momentum from fighting the
# opponent's moves.
DEFAULT_OPTIMIZER = {"class_path": "torch.optim.Adam", "init_args": {"lr": 2e-4, "betas": (0.5, 0.999)}}


def _callable_spec(fn: Any) -> dict[str, Any] | None:
    """Record an optimizer/scheduler callable as ``{"class_path", "init_args"}`` when possible."""
    if isinstance(fn, Mapping):
        return dict(fn)
    if isinstance(fn, functools.partial) and isinstance(fn.func, type) and not fn.args:
        spec = _callable_spec(fn.func)
        if spec is not None:
            spec["init_args"] = dict(fn.keywords)
        return spec
    if isinstance(fn, type):
        return {"class_path": f"{fn.__module__}.{fn.__qualname__}", "init_args": {}}
    return None


def _build_callable(spec: Any, role: str) -> Callable[..., Any]:
    """The inverse of :func:`_callable_spec`; callables pass through."""
    if callable(spec) and not isinstance(spec, Mapping):
        return spec
    if not isinstance(spec, Mapping) or "class_path" not in spec:
        raise TypeError(f"{role}={spec!r} is neither a callable nor a {{'class_path': ..., 'init_args': ...}} mapping")
    cls = import_class(spec["class_path"], role)
    return functools.partial(cls, **dict(spec.get("init_args") or {}))


def _resolve_network(network: nn.Module | Mapping[str, Any] | None, role: str) -> nn.Module:
    if isinstance(network, nn.Module):
        return network
    if network is None:
        raise ValueError(
            f"the {role} was not recorded in this checkpoint (its class records no constructor arguments). "
            f"Pass it when loading: GANModule.load_from_checkpoint(path, {role}=YourNet(...)), or make the "
            "class inherit lightning_gan.nets.Recordable so checkpoints rebuild it."
        )
    return build_network(network, role=role)


class GANModule(L.LightningModule):
    """Trains a generator against a discriminator.

    Args:
        generator: maps latents ``(B, latent_dim)`` (and labels ``(B,)`` when conditional) to
            samples. A ``{"class_path", "init_args"}`` mapping is built into a network.
        discriminator: maps samples (and labels) to one raw score (logit) per sample, ``(B,)``.
        latent_dim: size of the latent vector z.
        loss: ``"minimax"``, ``"nonsaturating"``, ``"wasserstein"``, ``"hinge"`` or ``"least_squares"``.
        d_steps: k, discriminator updates per generator update, each on its own real batch.
        g_optimizer: callable that takes parameters and returns an optimizer; ``None`` is
            ``Adam(lr=2e-4, betas=(0.5, 0.999))``.
        d_optimizer: the same for the discriminator.
        g_lr_scheduler: optional callable that takes the generator's optimizer and returns an LR
            scheduler, stepped once per generator iteration.
        d_lr_scheduler: the same for the discriminator (also stepped once per generator iteration).
        ema_decay: keep an exponential moving average of the generator's weights with this decay
            (e.g. 0.999); ``generate()`` then uses it. ``None`` switches it off.
        ema_warmup: ramp the EMA decay up as ``min(ema_decay, (1 + t) / (10 + t))`` at iteration t,
            so early averages do not drag in the random initialization.
        num_classes: more than 0 trains a class-conditional model: batches carry labels and both
            networks are called with them.
        latent_distribution: ``"normal"`` (N(0, I)) or ``"uniform"`` (U(-1, 1)).
        gp_weight: weight of the WGAN-GP gradient penalty (0 switches it off; 10 is usual).
        r1_gamma: R1 penalty ``gamma / 2 * E||grad D(x)||^2`` on real data (0 switches it off).
        r1_interval: lazy R1: apply it every this many discriminator steps, scaled by the interval.
        g_clip_norm: clip the generator's gradient norm to this value (after unscaling under AMP).
        d_clip_norm: the same for the discriminator.
        nonfinite: what a NaN or infinite loss does: ``"error"`` stops the run with an error naming
            the iteration and the network (before that network's update); ``"skip"`` skips that
            update, counts it (logged as ``train/skipped_d_steps`` / ``train/skipped_g_steps``) and
            goes on; a skipped generator update does not count as a generator iteration. With an
            optimizer that can skip an update on the device (torch's ``fused=True`` Adam, AdamW,
            SGD), the check costs no host synchronization: the update is skipped on the device and
            the host reads the tally every ``log_every_n_steps`` iterations and at the end of the
            fit (an ``"error"`` is raised then, naming the first such iteration; a skipped generator
            update then still counts as an iteration).
        channels_last: keep 4-d image networks and real batches in the channels-last memory
            format (faster convolutions on recent GPUs; part of the fast path, docs/performance.md).
        compile: ``True`` (or a dict of ``torch.compile`` options) runs the generator and the
            discriminator through ``torch.compile`` in the training steps; where compilation fails
            the networks run eagerly, with a warning. Gradient penalties always run eagerly (compiled
            graphs do not support double backward), and so do networks with spectral norm (their
            in-place power iteration breaks compiled backward passes; a warning says so).
    """

    CHECKPOINT_CLASS_KEY = "lightning_gan_class"  # which (sub)class wrote a checkpoint
    CHECKPOINT_RNG_KEY = "lightning_gan_rng"  # every rank's random state: a resumed run draws the same noise
    CHECKPOINT_DATA_KEY = "lightning_gan_data"  # the data module's {class_path, init_args}, when it records one

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        latent_dim: int,
        loss: str = "nonsaturating",
        d_steps: int = 1,
        g_optimizer: OptimizerCallable | None = None,
        d_optimizer: OptimizerCallable | None = None,
        g_lr_scheduler: LRSchedulerCallable | None = None,
        d_lr_scheduler: LRSchedulerCallable | None = None,
        ema_decay: float | None = None,
        ema_warmup: bool = True,
        num_classes: int = 0,
        latent_distribution: str = "normal",
        gp_weight: float = 0.0,
        r1_gamma: float = 0.0,
        r1_interval: int = 1,
        g_clip_norm: float | None = None,
        d_clip_norm: float | None = None,
        nonfinite: str = "error",
        channels_last: bool = False,
        compile: bool | Mapping[str, Any] = False,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.adversarial_loss = get_loss(loss)
        _check(isinstance(latent_dim, int) and latent_dim >= 1, f"latent_dim={latent_dim!r}: expected an int >= 1")
        _check(isinstance(d_steps, int) and d_steps >= 1, f"d_steps={d_steps!r}: expected an int >= 1")
        _check(isinstance(num_classes, int) and num_classes >= 0, f"num_classes={num_classes!r}: expected an int >= 0")
        _check(
            latent_distribution in LATENT_DISTRIBUTIONS,
            f"latent_distribution={latent_distribution!r}: expected one of {list(LATENT_DISTRIBUTIONS)}",
        )
        _check(nonfinite in NONFINITE_POLICIES, f"nonfinite={nonfinite!r}: expected one of {list(NONFINITE_POLICIES)}")
        _check(ema_decay is None or 0.0 < ema_decay < 1.0, f"ema_decay={ema_decay!r}: expected None or 0 < decay < 1")
        _check(gp_weight >= 0 and r1_gamma >= 0, f"gp_weight={gp_weight!r}, r1_gamma={r1_gamma!r}: expected >= 0")
        _check(isinstance(r1_interval, int) and r1_interval >= 1, f"r1_interval={r1_interval!r}: expected an int >= 1")
        for name, value in (("g_clip_norm", g_clip_norm), ("d_clip_norm", d_clip_norm)):
            _check(value is None or value > 0, f"{name}={value!r}: expected None or a positive number")
        _check(isinstance(channels_last, bool), f"channels_last={channels_last!r}: expected True or False")
        _check(
            isinstance(compile, (bool, Mapping)),
            f"compile={compile!r}: expected True, False or a dict of torch.compile options",
        )
        if isinstance(compile, Mapping):
            _check_compile_options(compile)

        self.generator = _resolve_network(generator, "generator")
        self.discriminator = _resolve_network(discriminator, "discriminator")
        for role, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            net_classes = getattr(net, "num_classes", num_classes)
            _check(
                net_classes == num_classes,
                f"the {role} was built with num_classes={net_classes} but GANModule has num_classes={num_classes}; "
                "pass the same num_classes to both",
            )
        self.generator_ema = None
        if ema_decay is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.latent_dim = latent_dim
        self.d_steps = d_steps
        self.num_classes = num_classes
        self.latent_distribution = latent_distribution
        self.ema_decay = ema_decay
        self.ema_warmup = ema_warmup
        self.gp_weight = gp_weight
        self.r1_gamma = r1_gamma
        self.r1_interval = r1_interval
        self.clip_norms = {"generator": g_clip_norm, "discriminator": d_clip_norm}
        self.nonfinite = nonfinite
        self.skipped_steps = {"discriminator": 0, "generator": 0}  # updates skipped for a non-finite loss
        self._unread_nonfinite = _DeviceTally()  # skipped on the device, not yet read by the host
        self.channels_last = channels_last
        self.compile_options: dict[str, Any] | None = (
            dict(compile) if isinstance(compile, Mapping) else ({} if compile else None)
        )
        self._compiled: dict[str, Callable[..., Tensor]] = {}  # the training steps' networks, set up at the first
        self._optimizer_factories = {
            "generator": _build_callable(g_optimizer or DEFAULT_OPTIMIZER, "g_optimizer"),
            "discriminator": _build_callable(d_optimizer or DEFAULT_OPTIMIZER, "d_optimizer"),
        }
        self._scheduler_factories = {
            "generator": None if g_lr_scheduler is None else _build_callable(g_lr_scheduler, "g_lr_scheduler"),
            "discriminator": None if d_lr_scheduler is None else _build_callable(d_lr_scheduler, "d_lr_scheduler"),
        }
        self._inputs_checked = False
        self._parallel: _DataParallel | None = None  # set up at the first training step
        self._rng_to_restore: list[dict[str, Tensor]] | None = None  # from a checkpoint, for the first step
        self._record_hyperparameters()

    # ------------------------------------------------------------------ hyper-parameters
    def _record_hyperparameters(self) -> None:
        """Save hyper-parameters that a weights-only ``torch.load`` reads back.

        Networks and callables are recorded as ``{"class_path", "init_args"}``; the LightningCLI
        already hands over such records. Whatever cannot be recorded is stored as ``None``.
        """
        with warnings.catch_warnings():  # networks are replaced by their records just below
            warnings.filterwarnings("ignore", message=r"Attribute '(generator|discriminator)' is an instance of")
            self.save_hyperparameters()
        for key in ("generator", "discriminator"):
            value = self.hparams.get(key)
            if isinstance(value, nn.Module):
                self.hparams[key] = network_spec(value)
        for key in ("g_optimizer", "d_optimizer", "g_lr_scheduler", "d_lr_scheduler"):
            value = self.hparams.get(key)
            if value is not None and not isinstance(value, Mapping):
                self.hparams[key] = _callable_spec(value)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._read_device_tally()  # the skip counts below are then complete
        checkpoint[self.CHECKPOINT_CLASS_KEY] = f"{type(self).__module__}.{type(self).__qualname__}"
        checkpoint["lightning_gan_skipped_steps"] = dict(self.skipped_steps)
        if self._trainer is not None and self.trainer.training:
            checkpoint[self.CHECKPOINT_RNG_KEY] = _gather_rng_states(self.trainer, self.device)
        data_spec = getattr(self._trainer.datamodule, "init_spec", None) if self._trainer is not None else None
        if data_spec:  # what `lightning-gan evaluate CKPT` measures against
            checkpoint[self.CHECKPOINT_DATA_KEY] = data_spec

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        writer = checkpoint.get(self.CHECKPOINT_CLASS_KEY)
        mine = f"{type(self).__module__}.{type(self).__qualname__}"
        if writer != mine:
            what = "not by a lightning_gan GANModule" if writer is None else f"by {writer}"
            raise ValueError(
                f"this checkpoint was written {what}, not by {mine}; load it with the class that wrote it "
                "(lightning_gan.sampling.load_gan(path) finds it for GANModule checkpoints)"
            )
        # applied at the first training step of a resumed fit, once the loaders have been set up
        self._rng_to_restore = checkpoint.get(self.CHECKPOINT_RNG_KEY)
        self.skipped_steps.update(checkpoint.get("lightning_gan_skipped_steps", {}))

    # ------------------------------------------------------------------ hooks to override
    def sample_latent(self, num_samples: int) -> Tensor:
        """Draw latents ``(num_samples, latent_dim)`` from the prior p(z)."""
        shape = (num_samples, self.latent_dim)
        if self.latent_distribution == "uniform":
            return torch.rand(shape, device=self.device) * 2.0 - 1.0
        return torch.randn(shape, device=self.device)

    def sample_labels(self, num_samples: int) -> Tensor:
        """Draw class labels ``(num_samples,)`` uniformly for a conditional model."""
        return torch.randint(0, self.num_classes, (num_samples,), device=self.device)

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The discriminator's loss (to minimize) from logits on real and generated samples."""
        return self.adversarial_loss.discriminator(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """The generator's loss (to minimize) from the discriminator's logits on its samples."""
        return self.adversarial_loss.generator(fake_logits)

    # ------------------------------------------------------------------ networks
    def _generate_with(self, net: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        return net(z) if self.num_classes == 0 else net(z, labels)

    def _discriminate(self, x: Tensor, labels: Tensor | None, net: Callable[..., Tensor] | None = None) -> Tensor:
        net = self.discriminator if net is None else net
        out = net(x) if self.num_classes == 0 else net(x, labels)
        return out.reshape(x.shape[0]) if out.dim() == 2 and out.shape[1] == 1 else out

    def _training_network(self, role: str) -> Callable[..., Tensor]:
        """The network the training steps call: compiled when ``compile`` is on."""
        return self._compiled.get(role) or getattr(self, role)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``G(z)`` with the training generator."""
        return self._generate_with(self.generator, z, labels)

    @torch.no_grad()
    def generate(self, num_samples: int, *, seed: int | None = None, labels: Tensor | None = None) -> Tensor:
        """Samples in data space, drawn in eval mode without gradients.

        Uses the EMA generator when EMA is on. The same ``seed`` gives the same samples. For a
        conditional model, ``labels`` (one class index per sample) picks the classes; without it
        classes are drawn uniformly.
        """
        _check(isinstance(num_samples, int) and num_samples >= 1, f"num_samples={num_samples!r}: expected an int >= 1")
        if labels is not None:
            _check(self.num_classes > 0, "labels were given but this model is unconditional (num_classes=0)")
            labels = torch.as_tensor(labels, device=self.device).long()
            _check(
                labels.shape == (num_samples,),
                f"labels of shape {tuple(labels.shape)}: expected one label per sample, ({num_samples},)",
            )
            _check(
                bool(((labels >= 0) & (labels < self.num_classes)).all()),
                f"labels must lie in [0, {self.num_classes}); got min {int(labels.min())}, max {int(labels.max())}",
            )
        devices = _cuda_devices(self.device)
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            z = self.sample_latent(num_samples)
            if self.num_classes > 0 and labels is None:
                labels = self.sample_labels(num_samples)
        return self.generate_from(z, labels)

    @torch.no_grad()
    def generate_from(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``G(z)`` for given latents, drawn as :meth:`generate` draws: eval mode, no gradients,
        the EMA generator when EMA is on."""
        net = self.generator_ema if self.generator_ema is not None else self.generator
        was_training = net.training
        net.eval()
        try:
            return self._generate_with(net, z, labels)
        finally:
            net.train(was_training)

    # ------------------------------------------------------------------ optimization
    def configure_optimizers(self) -> Any:
        optimizers, schedulers = [], []
        for role, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            params = [p for p in net.parameters() if p.requires_grad]
            optimizer = self._optimizer_factories[role](params)
            optimizers.append(optimizer)
            factory = self._scheduler_factories[role]
            if factory is not None:
                schedulers.append(factory(optimizer))
        return optimizers, schedulers

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this after unscaling the gradients under 16-bit AMP: the right place to clip.
        g_opt, _ = self.optimizers()
        role = "generator" if optimizer is g_opt.optimizer else "discriminator"
        max_norm = self.clip_norms[role]
        if max_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")

    def setup(self, stage: str) -> None:
        if self.channels_last:
            for net in (self.generator, self.discriminator, self.generator_ema):
                if net is not None:
                    net.to(memory_format=torch.channels_last)  # 4-d weights only; the rest is unchanged

    def on_train_start(self) -> None:
        batches = self.trainer.num_training_batches  # per process, per epoch
        if batches < self.d_steps:
            loader = self.trainer.train_dataloader
            batch_size = getattr(loader, "batch_size", None)
            raise ValueError(
                f"the training data gives {batches} batch(es) per epoch on each of {self.trainer.world_size} "
                f"process(es) (batch_size={batch_size}), but one generator iteration needs d_steps={self.d_steps} "
                "batches; use more data, a smaller batch_size or fewer processes"
            )

    def training_step(self, dataloader_iter: Iterator[Any]) -> None:
        """One generator iteration: ``d_steps`` discriminator updates, then one generator update."""
        g_opt, d_opt = self.optimizers()
        if self._parallel is None:
            self._parallel = _DataParallel.setup(self.trainer)
            if self.compile_options is not None:
                self._compiled = {
                    role: _CompiledNetwork(getattr(self, role), role, self.compile_options)
                    for role in ("generator", "discriminator")
                }
        resuming = self._rng_to_restore is not None
        if resuming:  # continue the noise stream where the checkpointed run left it
            _restore_rng_state(self._rng_to_restore, self.trainer.global_rank, self.device)
            self._rng_to_restore = None
        self._parallel.begin_iteration()
        # Fetch all k real batches first: an epoch that runs out mid-iteration then ends without
        # a partial iteration (StopIteration here ends the epoch), so D steps stay exactly k per G step.
        batches = [self._next_real_batch(dataloader_iter) for _ in range(self.d_steps)]
        if not self._inputs_checked:
            # a resumed run checks too, without drawing from the stream it just restored
            with torch.random.fork_rng(devices=_cuda_devices(self.device), enabled=resuming):
                self._check_inputs(*batches[0])
            self._inputs_checked = True
        logs: dict[str, Tensor] = {}
        for index, (real, labels) in enumerate(batches):
            # discriminator updates so far: derived from the step counter, so a resumed run keeps the lazy-R1 phase
            d_step = self.global_step * self.d_steps + index
            logs = self._discriminator_step(real, labels, d_opt.optimizer, apply_r1=d_step % self.r1_interval == 0)
        logs.update(self._generator_step(batches[-1][0].shape[0], g_opt))
        self._parallel.broadcast_buffers((self.generator, self.discriminator))  # before EMA copies them
        self._update_ema()
        for scheduler in self._schedulers():
            scheduler.step()
        if self._should_log():
            self._read_device_tally()
            if self.nonfinite == "skip":
                logs["train/skipped_d_steps"] = float(self.skipped_steps["discriminator"])
                logs["train/skipped_g_steps"] = float(self.skipped_steps["generator"])
            self.log_dict(logs, batch_size=batches[-1][0].shape[0])

    def _should_log(self) -> bool:
        # Each self.log call costs about a millisecond on the CPU (Lightning moves its metric state
        # every call), more than a toy iteration's arithmetic; loggers only read the values every
        # `log_every_n_steps` iterations, so log exactly then.
        connector = getattr(self._trainer, "_logger_connector", None)
        return bool(getattr(connector, "should_update_logs", True))

    def _schedulers(self) -> list[Any]:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return []
        return list(schedulers) if isinstance(schedulers, list) else [schedulers]

    def _next_real_batch(self, dataloader_iter: Iterator[Any]) -> tuple[Tensor, Tensor | None]:
        batch, _, _ = next(dataloader_iter)
        # dataloader_iter mode leaves device transfer to the module: run Lightning's usual path
        batch = self.trainer.precision_plugin.convert_input(batch)
        batch = self.on_before_batch_transfer(batch, 0)
        batch = self.trainer.strategy.batch_to_device(batch, dataloader_idx=0)
        real, labels = self._split_batch(batch)
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, labels

    def _split_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """A batch is real samples, or a tuple/list of (samples, labels, ...)."""
        if isinstance(batch, Tensor):
            real, labels = batch, None
        elif isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
            real = batch[0]
            labels = batch[1] if len(batch) > 1 and isinstance(batch[1], Tensor) else None
        else:
            raise TypeError(
                f"a training batch of type {type(batch).__name__}: expected a tensor of real samples, "
                "or a tuple/list whose first element is the real samples (and second the labels)"
            )
        if self.num_classes == 0:
            return real, None  # an unconditional model ignores labels the data may carry
        if labels is None:
            raise ValueError(
                f"num_classes={self.num_classes} (a conditional model) but the batch carries no labels: "
                "expected (samples, labels)"
            )
        return real, labels.long()

    def _check_inputs(self, real: Tensor, labels: Tensor | None) -> None:
        """Fail with a clear message before the first optimizer step if the pieces do not fit."""
        batch_size = real.shape[0]
        if labels is not None:
            _check(
                labels.shape == (batch_size,),
                f"labels of shape {tuple(labels.shape)}: expected one label per sample, ({batch_size},)",
            )
            low, high = int(labels.min()), int(labels.max())
            _check(
                0 <= low and high < self.num_classes,
                f"labels in [{low}, {high}] but num_classes={self.num_classes}: expected labels in [0, {self.num_classes})",
            )
        networks = (self.generator, self.discriminator)
        modes = [net.training for net in networks]
        for net in networks:
            net.eval()  # no batch-norm statistics or lazy data statistics from a dry run
        try:
            with torch.no_grad():
                z = self.sample_latent(batch_size)
                fake_labels = self.sample_labels(batch_size) if self.num_classes else None
                try:
                    fake = self._generate_with(self.generator, z, fake_labels)
                except Exception as err:
                    raise ValueError(
                        f"the generator failed on latents of shape {tuple(z.shape)} (latent_dim={self.latent_dim}): "
                        f"{err}. Expected a generator that takes (batch, latent_dim) inputs"
                    ) from err
                _check(
                    tuple(fake.shape[1:]) == tuple(real.shape[1:]),
                    f"the generator makes samples of shape {tuple(fake.shape[1:])} but the data has shape "
                    f"{tuple(real.shape[1:])}; expected the same shape",
                )
                try:
                    logits = self._discriminate(real, labels)
                except Exception as err:
                    raise ValueError(
                        f"the discriminator failed on a real batch of shape {tuple(real.shape)}: {err}. "
                        "Expected a discriminator that takes data of this shape"
                    ) from err
                _check(
                    tuple(logits.shape) == (batch_size,),
                    f"the discriminator returned shape {tuple(logits.shape)} for {batch_size} samples; "
                    f"expected one raw score per sample, ({batch_size},)",
                )
        finally:
            for net, mode in zip(networks, modes):
                net.train(mode)

    def _discriminator_step(
        self, real: Tensor, labels: Tensor | None, optimizer: torch.optim.Optimizer, *, apply_r1: bool
    ) -> dict[str, Tensor]:
        batch_size = real.shape[0]
        fake_labels = self.sample_labels(batch_size) if self.num_classes else None
        with torch.no_grad():
            fake = self._generate_with(self._training_network("generator"), self.sample_latent(batch_size), fake_labels)
        discriminator = self._training_network("discriminator")
        real_logits = self._discriminate(real, labels, discriminator)  # real first: see DataStandardizer
        fake_logits = self._discriminate(fake, fake_labels, discriminator)
        loss = self.discriminator_loss(real_logits, fake_logits)
        logs = {
            "train/d_loss": loss.detach(),
            "train/D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "train/D(G(z))": torch.sigmoid(fake_logits.detach()).mean(),
        }
        total = loss
        # the penalties differentiate twice, which compiled graphs cannot: they use the eager network
        if self.gp_weight > 0:
            gp = gradient_penalty(lambda x: self._discriminate(x, labels), real, fake)
            total = total + self.gp_weight * gp
            logs["train/gradient_penalty"] = gp.detach()
        if self.r1_gamma > 0 and apply_r1:
            r1 = r1_penalty(lambda x: self._discriminate(x, labels), real)
            total = total + 0.5 * self.r1_gamma * self.r1_interval * r1  # lazy: scale by the interval
            logs["train/r1"] = r1.detach()
        # Step through the strategy rather than the LightningOptimizer: the precision plugin still
        # scales and unscales, but global_step counts only generator steps.
        self._update(
            total, "discriminator", optimizer, lambda: self.trainer.strategy.optimizer_step(optimizer, _no_closure)
        )
        return logs

    def _generator_step(self, batch_size: int, optimizer: Any) -> dict[str, Tensor]:
        labels = self.sample_labels(batch_size) if self.num_classes else None
        z = self.sample_latent(batch_size)
        fake = self._generate_with(self._training_network("generator"), z, labels)
        loss = self.generator_loss(self._discriminate(fake, labels, self._training_network("discriminator")))
        # Gradients for the generator's parameters only (no discriminator weight gradients are
        # computed), without toggling requires_grad, which would invalidate compiled graphs.
        inputs = [p for p in self.generator.parameters() if p.requires_grad]
        self._update(loss, "generator", optimizer, optimizer.step, inputs=inputs)
        return {"train/g_loss": loss.detach()}

    def _update(
        self, loss: Tensor, role: str, optimizer: Any, step: Callable[[], Any], inputs: list[Tensor] | None = None
    ) -> None:
        """Backpropagate ``loss`` and run ``step`` (``optimizer``'s step), unless the loss is
        non-finite on some rank (then as ``nonfinite`` says).

        With an optimizer that skips an update on the device when told of a non-finite value (the
        ``found_inf`` protocol of torch's fused optimizers, as GradScaler uses it), nothing waits
        for the device here; otherwise the host reads the loss's finiteness first (one sync).
        """
        assert self._parallel is not None
        torch_optimizer = getattr(optimizer, "optimizer", optimizer)  # a LightningOptimizer wraps it
        skips_on_device = getattr(torch_optimizer, "_step_supports_amp_scaling", False) and not _grad_scaler(
            self.trainer
        )
        nonfinite = self._parallel.any_rank(~torch.isfinite(loss.detach()))
        if not skips_on_device and bool(nonfinite):
            self._nonfinite_found(role, loss, self.global_step)
            return
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss, **({} if inputs is None else {"inputs": inputs}))
        self._average_gradients(torch_optimizer)
        if not skips_on_device:
            step()
            return
        self._unread_nonfinite.add(role, nonfinite, loss, self.global_step)
        torch_optimizer.found_inf = nonfinite.float()  # read by the fused kernel: no update when nonzero
        try:
            step()
        finally:
            del torch_optimizer.found_inf

    def _nonfinite_found(
        self, role: str, loss: Tensor | float, iteration: int, count: int = 1, *, read_at: int | None = None
    ) -> None:
        """A non-finite ``role`` loss at generator ``iteration``: raise, or count ``count`` skipped updates.

        ``read_at``: how many generator iterations had run when the host read it, when the device
        skipped the update.
        """
        if self.nonfinite == "error":
            stopped = (
                f"stopped before the {role}'s update"
                if read_at is None
                else f"that update and any later non-finite one were skipped on the device, and the run stopped "
                f"when the host next read the tally, after {read_at} generator iterations"
            )
            raise FloatingPointError(
                f"the {role} loss is {float(loss)} at generator iteration {iteration} (on some rank); "
                f"{stopped}. Lower the learning rate, add a gradient penalty or "
                f"clipping ({role[0]}_clip_norm), or pass nonfinite='skip' to skip such updates and count them"
            )
        self.skipped_steps[role] += count

    def _read_device_tally(self) -> None:
        """Act on the non-finite losses whose updates were skipped on the device (one host sync)."""
        for role, (count, iteration, value) in self._unread_nonfinite.read().items():
            self._nonfinite_found(role, value, iteration, count, read_at=self.global_step)

    def on_train_end(self) -> None:
        self._read_device_tally()

    def _average_gradients(self, optimizer: Any) -> None:
        if self._parallel is not None:
            self._parallel.average_gradients(optimizer)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.generator_ema is None:
            return
        step = self.global_step
        decay = min(self.ema_decay, (1 + step) / (10 + step)) if self.ema_warmup else self.ema_decay
        ema_params = list(self.generator_ema.parameters())
        params = [p.detach() for p in self.generator.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)  # batch-norm statistics follow the live generator


class _DataParallel:
    """Data parallelism for the GAN game: gradients averaged over processes for the network being stepped.

    DDP's reducer averages every parameter's gradient during each backward and expects every
    parameter to get one; a GAN's discriminator phase leaves the generator without gradients (the
    "parameters that were not used in producing the loss" crash of plain ``strategy="ddp"``), and
    ``find_unused_parameters=True`` pays for a graph walk on every backward. So the DDP wrapper
    Lightning builds is kept for what it does at construction (the same initial weights on every
    rank) and told, at the start of every iteration (Lightning re-arms it after each training
    step), not to synchronize gradients itself; before each optimizer step the gradients
    of that optimizer's parameters are averaged in one all-reduce per dtype, which also works for
    the double backward of R1 and the gradient penalty. Batch-norm buffers are broadcast from rank
    zero at the end of each iteration (DDP does it before each forward), so checkpoints, callbacks
    and every rank's ``generate`` see one model. Each rank reseeds its random stream
    once (``initial seed + rank``), so ranks draw different noise.
    """

    def __init__(self, trainer: L.Trainer, ddp_module: nn.Module | None = None) -> None:
        self.trainer = trainer
        self.ddp_module = ddp_module

    @staticmethod
    def setup(trainer: L.Trainer) -> _DataParallel:
        """The synchronizer for this run (a no-op object on one process)."""
        if trainer.world_size == 1:
            return _SingleProcess(trainer)
        strategy = trainer.strategy
        from lightning.pytorch.strategies import DDPStrategy

        if not isinstance(strategy, DDPStrategy) or "DeepSpeed" in type(strategy).__name__:
            raise ValueError(
                f"GANModule runs on one device or with a DDP strategy (strategy='ddp', 'ddp_spawn', 'ddp_notebook'); "
                f"got {type(strategy).__name__} on {trainer.world_size} processes"
            )
        from torch.nn.parallel import DistributedDataParallel

        ddp_module = strategy.model if isinstance(strategy.model, DistributedDataParallel) else None
        torch.manual_seed((torch.initial_seed() + trainer.global_rank) % 2**63)  # different noise per rank
        return _DataParallel(trainer, ddp_module)

    def any_rank(self, flag: Tensor) -> Tensor:
        """``flag`` (a boolean scalar) on some rank, as a tensor on the device: one all-reduce, no host sync."""
        flag = flag.to(torch.int32)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return flag.bool()

    def begin_iteration(self) -> None:
        """Switch DDP's own gradient synchronization off for this iteration."""
        if self.ddp_module is not None:
            self.ddp_module.require_backward_grad_sync = False  # we average gradients ourselves, per network

    def average_gradients(self, optimizer: Any) -> None:
        """Average the gradients of ``optimizer``'s parameters over all processes."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        world_size = self.trainer.world_size

        def average(flat: Tensor) -> None:
            torch.distributed.all_reduce(flat)
            flat.div_(world_size)

        _in_flat_buffers(grads, average)

    @torch.no_grad()
    def broadcast_buffers(self, modules: tuple[nn.Module, ...]) -> None:
        """Give every rank rank zero's buffers (batch-norm running statistics)."""
        buffers = [b for module in modules for b in module.buffers() if b.is_floating_point()]
        _in_flat_buffers(buffers, lambda flat: torch.distributed.broadcast(flat, src=0))


def _cuda_devices(device: torch.device) -> list[torch.device]:
    return [device] if device.type == "cuda" else []


def _rng_state(device: torch.device) -> dict[str, Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _gather_rng_states(trainer: L.Trainer, device: torch.device) -> list[dict[str, Tensor]]:
    """Every rank's random state, in rank order (a collective: checkpoints are saved on all ranks)."""
    state = _rng_state(device)
    if trainer.world_size == 1:
        return [state]
    states: list[Any] = [None] * trainer.world_size
    torch.distributed.all_gather_object(states, {k: v.cpu() for k, v in state.items()})
    return states


def _restore_rng_state(states: list[dict[str, Tensor]], rank: int, device: torch.device) -> None:
    if rank >= len(states):  # resumed on more processes than saved: the extra ranks keep their own streams
        return
    torch.set_rng_state(states[rank]["cpu"])
    if device.type == "cuda" and "cuda" in states[rank]:
        torch.cuda.set_rng_state(states[rank]["cuda"], device)


def _in_flat_buffers(tensors: list[Tensor], collective: Callable[[Tensor], Any]) -> None:
    """Run an in-place ``collective`` on ``tensors`` packed into one flat buffer per dtype: one call each."""
    for dtype in {t.dtype for t in tensors}:
        same = [t for t in tensors if t.dtype == dtype]
        flat = torch._utils._flatten_dense_tensors(same)
        collective(flat)
        for tensor, synced in zip(same, torch._utils._unflatten_dense_tensors(flat, same)):
            tensor.copy_(synced)


class _SingleProcess(_DataParallel):
    """One process: nothing to synchronize."""

    def average_gradients(self, optimizer: Any) -> None:
        pass

    def begin_iteration(self) -> None:
        pass

    def any_rank(self, flag: Tensor) -> Tensor:
        return flag

    def broadcast_buffers(self, modules: tuple[nn.Module, ...]) -> None:
        pass


class _DeviceTally:
    """Non-finite losses per network, kept on the device: count, first iteration, first value."""

    def __init__(self) -> None:
        self._tallies: dict[str, tuple[Tensor, Tensor, Tensor]] = {}

    def add(self, role: str, nonfinite: Tensor, loss: Tensor, iteration: int) -> None:
        """Count ``nonfinite`` (a boolean scalar tensor) for ``role``; no host sync."""
        if role not in self._tallies:
            zero = torch.zeros((), dtype=torch.int64, device=loss.device)
            self._tallies[role] = (zero, zero.clone(), torch.zeros((), dtype=torch.float32, device=loss.device))
        count, first_iteration, first_value = self._tallies[role]
        first = nonfinite & (count == 0)
        first_iteration.masked_fill_(first, iteration)  # in place: no new tensors per update
        first_value.masked_fill_(first, loss.detach().float())
        count.add_(nonfinite)

    def read(self) -> dict[str, tuple[int, int, float]]:
        """``{role: (count, first iteration, first value)}`` for the networks with a count, then reset."""
        found = {}
        for role, (count, first_iteration, first_value) in self._tallies.items():
            if int(count):
                found[role] = (int(count), int(first_iteration), float(first_value))
        self._tallies.clear()
        return found


class _CompiledNetwork:
    """``torch.compile(network)``, or the network itself where compiling fails (with one warning)."""

    def __init__(self, network: nn.Module, role: str, options: Mapping[str, Any]) -> None:
        self.network, self.role = network, role
        self.compiled: Callable[..., Tensor] | None = None
        if _has_spectral_norm(network):
            # Its power iteration updates u and v in place at every forward; a compiled backward
            # saves them uncloned, so the D step's two forwards (real, fake) before one backward
            # fail with "modified by an inplace operation" (torch 2.14).
            self._fall_back("spectral norm's in-place power iteration breaks compiled backward passes")
            return
        try:
            self.compiled = torch.compile(network, **options)
        except Exception as err:  # noqa: BLE001 - unsupported platform or Python, unknown option or backend
            self._fall_back(err)

    def _fall_back(self, err: BaseException | str) -> None:
        if isinstance(err, BaseException):
            cause = getattr(err, "inner_exception", None) or err  # a backend's own error, wrapped by dynamo
            first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
            err = f"{type(cause).__name__}: {first_line}"
        warnings.warn(
            f"torch.compile could not compile the {self.role} ({err}); it runs eagerly. "
            "compile=False silences this warning",
            stacklevel=3,
        )
        self.compiled = None

    def __call__(self, *args: Tensor) -> Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except _COMPILE_ERRORS as err:  # e.g. no C++ compiler for the inductor backend
                self._fall_back(err)
        return self.network(*args)


def _has_spectral_norm(network: nn.Module) -> bool:
    """Whether ``network`` uses spectral norm (torch's parametrization or its older hook)."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    for module in network.modules():
        parametrizations = getattr(module, "parametrizations", {})
        if any(type(p).__name__ == "_SpectralNorm" for plist in parametrizations.values() for p in plist):
            return True
        if any(isinstance(hook, SpectralNorm) for hook in module._forward_pre_hooks.values()):
            return True
    return False


def _check_compile_options(options: Mapping[str, Any]) -> None:
    """Reject a typo in ``compile``'s options before any compute (torch.compile checks them lazily)."""
    import torch._dynamo
    import torch._inductor

    known = [name for name in inspect.signature(torch.compile).parameters if name != "model"]
    for name in options:
        _check(name in known, f"compile option {name!r}: expected one of {known}")
    mode, backend = options.get("mode"), options.get("backend")
    if mode is not None:
        modes = list(torch._inductor.list_mode_options())
        _check(mode in modes, f"compile mode {mode!r}: expected one of {modes}")
    if isinstance(backend, str):
        backends = torch._dynamo.list_backends(exclude_tags=())
        _check(backend in backends, f"compile backend {backend!r}: expected one of {backends}")


def _grad_scaler(trainer: L.Trainer) -> Any:
    """The precision plugin's GradScaler (16-mixed), which does its own non-finite skipping."""
    return getattr(trainer.precision_plugin, "scaler", None)


def _no_closure() -> None:
    """The backward already ran in ``training_step``."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
