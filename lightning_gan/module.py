"""``GANModule``: the adversarial game as a LightningModule with manual optimization.

One call of ``training_step`` is one *generator iteration*, a schedule of phases:

1. ``d_steps`` (k) times, each on its own real minibatch and fresh noise: the discriminator's
   loss plus the D regularizers due at this D step, then one D update;
2. once, on fresh noise: the generator's loss plus the G regularizers due at this G step, then
   one G update.

Losses (:mod:`lightning_gan.losses`), regularizers (:mod:`lightning_gan.regularizers`) and the
augmentation (:mod:`lightning_gan.augment`) are parts the module is handed; they own their maths
and state, the module schedules them. Only the generator's optimizer step advances
``trainer.global_step``, so ``trainer.max_steps`` and the logged x-axis both count generator
iterations, as papers do. What is not the game lives in private modules of its own: data
parallelism (``_parallel``), the non-finite guard (``_nonfinite``), compilation (``_compile``),
random state (``_rng``), checkpoint records (``_records``), input checks (``_checks``), batches
and the progress bar (``_batches``), EMA and sampling (``_generator``), warm start and FreezeD
(``_warm_start``).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from lightning_gan._batches import SetupNotices, next_real_batch
from lightning_gan._checks import (
    check_arguments,
    check_checkpoint_writer,
    check_enough_batches,
    check_inputs,
    check_labels,
    check_num_classes,
    check_removed_keywords,
)
from lightning_gan._compile import CompiledNetwork, compile_networks, compile_options
from lightning_gan._generator import check_noise_mode, check_truncation, eval_mode, update_ema
from lightning_gan._internals import before_batch_transfer, grad_scaler, should_update_logs
from lightning_gan._nonfinite import NonFiniteGuard
from lightning_gan._parallel import DataParallel
from lightning_gan._progress import use_iteration_progress_bar
from lightning_gan._records import build_callable, resolve_network, resolve_part, resolve_parts, save_records
from lightning_gan._rng import cuda_devices, gather_rng_states, restore_rng_state
from lightning_gan._validate import check, check_int
from lightning_gan._warm_start import freeze_blocks, start_from
from lightning_gan.losses import get_loss
from lightning_gan.regularizers import (
    DiscriminatorPhase,
    GeneratorPhase,
    Regularizer,
    adjust_optimizer,
    lazy_optimizer_ratio,
)

__all__ = ["GANModule"]

# The usual GAN Adam (DCGAN, Radford et al. 2016): a low beta1 keeps momentum from fighting the
# opponent's moves.
DEFAULT_OPTIMIZER = {"class_path": "torch.optim.Adam", "init_args": {"lr": 2e-4, "betas": (0.5, 0.999)}}


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
        d_regularizers: :class:`~lightning_gan.regularizers.Regularizer` objects added to the
            discriminator's loss on the D steps each is due (``GradientPenalty``, ``R1``, ``LeCam``,
            your own); in YAML a ``class_path``/``init_args`` list, like callbacks.
        g_regularizers: the same for the generator's loss (``PathLength``).
        augment: an ``nn.Module`` applied to every image the discriminator sees, real and fake, in
            the D and the G phase; differentiable, so the generator learns through it
            (``lightning_gan.augment.DiffAugment``, ``AdaptiveAugment``). Regularizers see the
            un-augmented images and differentiate through it. A module with an
            ``update(real_logits) -> logs`` method (ADA) is told D's logits on every real batch.
        g_clip_norm: clip the generator's gradient norm to this value (after unscaling under AMP).
        d_clip_norm: the same for the discriminator.
        nonfinite: what a NaN or infinite loss does: ``"error"`` stops the run with an error naming
            the iteration and the network; ``"skip"`` skips that network's update on every process,
            counts it (``train/skipped_d_steps`` / ``train/skipped_g_steps``) and goes on. With a
            ``fused=True`` torch optimizer the check costs no host sync (docs/guide.md).
        channels_last: keep 4-d image networks and real batches in the channels-last memory
            format (faster convolutions on recent GPUs; part of the fast path, docs/performance.md).
        compile: ``True`` (or a dict of ``torch.compile`` options) compiles both networks for the
            training steps, eager with a warning where compilation fails; regularizers and networks
            with spectral norm always run eagerly (docs/performance.md).
        init_from: start a new fit from the weights of a lightning-gan checkpoint or a
            stylegan2-ada-pytorch pickle (path, URL or :data:`~lightning_gan.pretrained.PUBLISHED`
            name): G, D and the EMA generator (from the file's EMA, else its G), parameters and
            buffers whose names and shapes match; the rest keeps its initialization and is listed
            at the start of fit and in the loggers' config (``warm_start``). Step 0, new optimizers,
            new noise. Not applied when resuming (``--ckpt_path``) or to a module loaded from a
            checkpoint. A network configuration the file cannot fill (StyleGAN2's ``w_dim``,
            ``mapping_layers``, ...) is an error naming both (docs/guide.md "Start from a trained model").
        init_strict: with ``init_from``, any tensor skipped, new or unused is an error.
        freeze_d_blocks: FreezeD (Mo et al. 2020): the discriminator's first N ``blocks`` (from
            the input side) are frozen, left out of its optimizer and unchanged by training.
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
        d_regularizers: Sequence[Regularizer] = (),
        g_regularizers: Sequence[Regularizer] = (),
        augment: nn.Module | None = None,
        g_clip_norm: float | None = None,
        d_clip_norm: float | None = None,
        nonfinite: str = "error",
        channels_last: bool = False,
        compile: bool | Mapping[str, Any] = False,
        init_from: str | None = None,
        init_strict: bool = False,
        freeze_d_blocks: int = 0,
        **removed: Any,
    ) -> None:
        check_removed_keywords(removed)  # gp_weight, r1_gamma, r1_interval: an error naming the replacement
        super().__init__()
        self.automatic_optimization = False
        self.adversarial_loss = get_loss(loss)
        check_arguments(
            latent_dim=latent_dim, d_steps=d_steps, num_classes=num_classes, latent_distribution=latent_distribution,
            nonfinite=nonfinite, ema_decay=ema_decay, g_clip_norm=g_clip_norm, d_clip_norm=d_clip_norm,
            channels_last=channels_last, compile=compile, init_from=init_from, init_strict=init_strict,
            freeze_d_blocks=freeze_d_blocks,
        )  # fmt: skip

        self.generator = resolve_network(generator, "generator")
        self.discriminator = resolve_network(discriminator, "discriminator")
        check_num_classes(self.generator, self.discriminator, num_classes)
        freeze_blocks(self.discriminator, freeze_d_blocks)  # before the optimizers are made from what trains
        self.d_regularizers = _regularizer_list(d_regularizers, "d_regularizers")
        self.g_regularizers = _regularizer_list(g_regularizers, "g_regularizers")
        for regularizers in (self.d_regularizers, self.g_regularizers):
            lazy_optimizer_ratio(regularizers)  # two lazy intervals for one optimizer: an error now, not at fit
        self.augment = resolve_part(augment, "augment")
        self.generator_ema = None
        if ema_decay is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.latent_dim, self.d_steps, self.num_classes = latent_dim, d_steps, num_classes
        self.latent_distribution = latent_distribution
        self.ema_decay, self.ema_warmup = ema_decay, ema_warmup
        self.clip_norms = {"generator": g_clip_norm, "discriminator": d_clip_norm}
        self.nonfinite, self.guard = nonfinite, NonFiniteGuard(nonfinite)
        self.skipped_steps = self.guard.skipped_steps  # updates skipped for a non-finite loss, per network
        self.channels_last = channels_last
        self.compile_options = compile_options(compile)  # None: eager
        self._compiled: dict[str, CompiledNetwork] = {}  # the training steps' networks, set up at the first
        self._optimizer_factories = {
            "generator": build_callable(g_optimizer or DEFAULT_OPTIMIZER, "g_optimizer"),
            "discriminator": build_callable(d_optimizer or DEFAULT_OPTIMIZER, "d_optimizer"),
        }
        self._scheduler_factories = {
            "generator": g_lr_scheduler and build_callable(g_lr_scheduler, "g_lr_scheduler"),
            "discriminator": d_lr_scheduler and build_callable(d_lr_scheduler, "d_lr_scheduler"),
        }
        self._inputs_checked = False
        self._parallel: DataParallel | None = None  # set up at the first training step
        self._rng_to_restore: list[dict[str, Tensor]] | None = None  # from a checkpoint, for on_train_start
        self._resumed = False  # this fit continues a checkpointed run's random stream
        self._notice = SetupNotices()  # silenced while Lightning sets a fit up
        self.init_from, self.init_strict = init_from, init_strict
        self._warm_started = False  # the weights came from init_from, or from a checkpoint of this run
        save_records(self, inspect.currentframe())  # hyper-parameters that a weights-only torch.load reads back

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.guard.read_tally(self.global_step)  # the skip counts below are then complete
        checkpoint[self.CHECKPOINT_CLASS_KEY] = f"{type(self).__module__}.{type(self).__qualname__}"
        checkpoint["lightning_gan_skipped_steps"] = dict(self.skipped_steps)
        if self._trainer is not None and self.trainer.training:
            checkpoint[self.CHECKPOINT_RNG_KEY] = gather_rng_states(self.trainer, self.device)
        data_spec = getattr(self._trainer.datamodule, "init_spec", None) if self._trainer is not None else None
        if data_spec:  # what `lightning-gan evaluate CKPT` measures against
            checkpoint[self.CHECKPOINT_DATA_KEY] = data_spec

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_checkpoint_writer(checkpoint.get(self.CHECKPOINT_CLASS_KEY), type(self))
        # applied when the resumed fit starts training (on_train_start), once the loaders are set up
        self._rng_to_restore = checkpoint.get(self.CHECKPOINT_RNG_KEY)
        self.skipped_steps.update(checkpoint.get("lightning_gan_skipped_steps", {}))
        self._warm_started = True  # these weights are the run's own: init_from must not overwrite them

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

    def _discriminate(
        self, x: Tensor, labels: Tensor | None, net: Callable[..., Tensor] | None = None, *, augmented: bool = True
    ) -> Tensor:
        """Logits ``(B,)`` of ``net`` (the eager discriminator by default) on what it sees of ``x``:
        ``augment(x)`` when ``augment`` is on. With the defaults, the regularizers' handle."""
        if augmented and self.augment is not None:
            x = self.augment(x)
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
    def generate(
        self,
        num_samples: int,
        *,
        seed: int | None = None,
        labels: Tensor | None = None,
        truncation_psi: float = 1.0,
        noise_mode: str | None = None,
    ) -> Tensor:
        """Samples in data space, drawn in eval mode without gradients.

        Uses the EMA generator when EMA is on. The same ``seed`` gives the same samples. For a
        conditional model, ``labels`` (one class index per sample) picks the classes; without it
        classes are drawn uniformly. ``truncation_psi < 1`` pulls w toward the generator's average,
        ``w = w_avg + psi * (w - w_avg)`` (the truncation trick), for generators that support it.
        ``noise_mode`` (for generators with per-layer noise, listed in their ``noise_modes``:
        StyleGAN2's ``"random"``, ``"const"``, ``"none"``) overrides eval mode's default, e.g.
        ``"random"`` for fresh noise per image, drawn from ``seed`` too.
        """
        check_int("num_samples", num_samples, 1)
        if labels is not None:
            labels = check_labels(labels, num_samples, self.num_classes, self.device)
        with torch.random.fork_rng(devices=cuda_devices(self.device), enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            z = self.sample_latent(num_samples)
            if self.num_classes > 0 and labels is None:
                labels = self.sample_labels(num_samples)
            return self.generate_from(z, labels, truncation_psi=truncation_psi, noise_mode=noise_mode)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator :meth:`generate` draws from: the EMA generator when EMA is on."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def generate_from(
        self, z: Tensor, labels: Tensor | None = None, *, truncation_psi: float = 1.0, noise_mode: str | None = None
    ) -> Tensor:
        """``G(z)`` for given latents, drawn as :meth:`generate` draws: eval mode, no gradients,
        the EMA generator when EMA is on."""
        net = self.sampling_generator
        check_truncation(net, truncation_psi)
        check_noise_mode(net, noise_mode)
        options: dict[str, Any] = {} if truncation_psi == 1 else {"truncation_psi": truncation_psi}
        if noise_mode is not None:
            options["noise_mode"] = noise_mode
        with eval_mode(net):
            return net(z, **options) if self.num_classes == 0 else net(z, labels, **options)

    # ------------------------------------------------------------------ optimization
    def configure_optimizers(self) -> Any:
        optimizers, schedulers = [], []
        for role, net, regularizers in (
            ("generator", self.generator, self.g_regularizers),
            ("discriminator", self.discriminator, self.d_regularizers),
        ):
            optimizers.append(self._optimizer_factories[role]([p for p in net.parameters() if p.requires_grad]))
            notice = adjust_optimizer(optimizers[-1], regularizers, role)  # before a scheduler reads the lr
            if notice is not None:
                rank_zero_info(notice)
            if self._scheduler_factories[role] is not None:
                schedulers.append(self._scheduler_factories[role](optimizers[-1]))
        return optimizers, schedulers

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this after unscaling the gradients under 16-bit AMP: the right place to clip.
        max_norm = self.clip_norms["generator" if optimizer is self.optimizers()[0].optimizer else "discriminator"]
        if max_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")

    def setup(self, stage: str) -> None:
        for net in (self.generator, self.discriminator, self.generator_ema) if self.channels_last else ():
            if net is not None:
                net.to(memory_format=torch.channels_last)  # 4-d weights only; the rest is unchanged

    def on_fit_start(self) -> None:
        # After Lightning restored any --ckpt_path (then init_from has no say) and made the optimizers:
        # the weights are copied in place, so the optimizers hold the same tensors.
        if self.init_from is not None and not self._warm_started and self.trainer.ckpt_path is None:
            networks = {"generator": self.generator, "discriminator": self.discriminator}
            networks["generator_ema"] = self.generator_ema
            start_from(self.trainer, networks, self.init_from, strict=self.init_strict)
        self._warm_started = self._warm_started or self.init_from is not None

    def on_train_start(self) -> None:
        self._notice.restore()
        check_enough_batches(self.trainer, self.d_steps)
        if self._rng_to_restore is not None:
            # Continue the noise stream where the checkpointed run left it. Here, after the loaders
            # were set up (their iterator draws a seed) and before the next one is made: a run saved
            # at an epoch's end draws the next epoch's shuffle from this state, as the run it
            # continues did; one saved mid-epoch carries on with the restored epoch's order.
            restore_rng_state(self._rng_to_restore, self.trainer.global_rank, self.device)
            self._rng_to_restore = None
            self._resumed = True

    def configure_callbacks(self) -> list[L.Callback]:
        """Lightning's default progress bar, if on, becomes one that counts generator iterations."""
        self._notice.silence()  # the first module hook of a fit
        use_iteration_progress_bar(self.trainer)
        return []

    def teardown(self, stage: str) -> None:
        self._notice.restore()  # a fit that stopped before training started

    def _should_log(self) -> bool:
        # Each self.log call costs about a millisecond on the CPU (Lightning moves its metric state
        # every call), more than a toy iteration's arithmetic; loggers only read the values every
        # `log_every_n_steps` iterations, so log exactly then.
        return should_update_logs(self.trainer)

    def _to_training_device(self, batch: Any) -> Any:
        """Lightning's usual path for a batch, which ``dataloader_iter`` mode leaves to the module: the
        batch hooks of the data module (where it overrides them) or the module, around the transfer."""
        batch = self.trainer.precision_plugin.convert_input(batch)
        batch = before_batch_transfer(self, batch)
        return self.trainer.strategy.batch_to_device(batch, dataloader_idx=0)  # + on_after_batch_transfer

    def _schedulers(self) -> list[Any]:
        schedulers = self.lr_schedulers()
        return [] if schedulers is None else list(schedulers) if isinstance(schedulers, list) else [schedulers]

    def training_step(self, dataloader_iter: Iterator[Any]) -> None:
        """One generator iteration: ``d_steps`` discriminator phases, then one generator phase."""
        g_opt, d_opt = self.optimizers()
        if self._parallel is None:
            # What runs once, at a run's first step, draws nothing from a resumed run's restored
            # stream: the run it continues did that work at its own first step.
            with torch.random.fork_rng(devices=cuda_devices(self.device), enabled=self._resumed):
                self._parallel = DataParallel.setup(self.trainer)
                if self.compile_options is not None:
                    self._compiled = compile_networks(self.generator, self.discriminator, self.compile_options)
        self._parallel.begin_iteration()
        # Fetch all k real batches first: an epoch that runs out mid-iteration then ends without
        # a partial iteration (StopIteration here ends the epoch), so D steps stay exactly k per G step.
        batches = [
            next_real_batch(dataloader_iter, self._to_training_device, self.num_classes, self.channels_last)
            for _ in range(self.d_steps)
        ]
        if not self._inputs_checked:
            with torch.random.fork_rng(devices=cuda_devices(self.device), enabled=self._resumed):
                check_inputs(
                    *batches[0], num_classes=self.num_classes, latent_dim=self.latent_dim,
                    sample_latent=self.sample_latent, sample_labels=self.sample_labels,
                    generate=lambda z, labels: self._generate_with(self.generator, z, labels),
                    discriminate=lambda x, labels: self._discriminate(x, labels, augmented=False),
                    networks=(self.generator, self.discriminator),
                )  # fmt: skip
            self._inputs_checked = True
        logs: dict[str, Tensor] = {}
        for index, (real, labels) in enumerate(batches):
            # steps so far, derived from the step counter: a resumed run keeps the lazy regularizers' phase
            d_step = self.global_step * self.d_steps + index
            logs.update(self._discriminator_phase(real, labels, d_opt.optimizer, d_step))
        logs.update(self._generator_phase(batches[-1][0].shape[0], g_opt, self.global_step))
        self._parallel.broadcast_buffers((self.generator, self.discriminator))  # before EMA copies them
        self._update_ema()
        for scheduler in self._schedulers():
            scheduler.step()
        if self._should_log():
            logs.update(self.guard.read_logs(self.global_step))
            self.log_dict(logs, batch_size=batches[-1][0].shape[0])

    def _discriminator_phase(
        self, real: Tensor, labels: Tensor | None, optimizer: torch.optim.Optimizer, step: int
    ) -> dict[str, Tensor]:
        """D's loss on a real batch and fresh fakes, plus the D regularizers due at this D step; one D update."""
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
        phase = DiscriminatorPhase(real, labels, fake, fake_labels, real_logits, fake_logits, self._discriminate, step)
        total = self._add_regularizers(loss, self.d_regularizers, phase, logs)
        if hasattr(self.augment, "update"):  # adaptive augmentation follows D's verdict on real data, every pass
            seen = real_logits.detach()
            if phase.more_real_logits:  # R1's own pass: no copy on the steps without one
                seen = torch.cat([seen.reshape(-1), *(logits.reshape(-1) for logits in phase.more_real_logits)])
            logs.update(self.augment.update(seen))
        # Step through the strategy rather than the LightningOptimizer: the precision plugin still
        # scales and unscales, but global_step counts only generator steps.
        self._update(
            total, "discriminator", optimizer, lambda: self.trainer.strategy.optimizer_step(optimizer, _no_closure)
        )
        return logs

    def _generator_phase(self, batch_size: int, optimizer: Any, step: int) -> dict[str, Tensor]:
        """G's loss on fresh noise, plus the G regularizers due at this G step; one G update."""
        labels = self.sample_labels(batch_size) if self.num_classes else None
        z = self.sample_latent(batch_size)
        fake = self._generate_with(self._training_network("generator"), z, labels)
        fake_logits = self._discriminate(fake, labels, self._training_network("discriminator"))
        loss = self.generator_loss(fake_logits)
        logs = {"train/g_loss": loss.detach()}
        phase = GeneratorPhase(z, labels, fake, fake_logits, self.generator, self._discriminate, step)
        total = self._add_regularizers(loss, self.g_regularizers, phase, logs)
        # Gradients for the generator's parameters only (no discriminator weight gradients are
        # computed), without toggling requires_grad, which would invalidate compiled graphs.
        inputs = [p for p in self.generator.parameters() if p.requires_grad]
        self._update(total, "generator", optimizer, optimizer.step, inputs=inputs)
        return logs

    def _update(
        self, loss: Tensor, role: str, optimizer: Any, step: Callable[[], Any], inputs: list[Tensor] | None = None
    ) -> None:
        """One update of ``role`` under the non-finite guard: backward, gradient averaging, ``step``."""
        assert self._parallel is not None  # set up at the first training step
        self.guard.update(
            loss, role, optimizer, step, iteration=self.global_step, backward=self.manual_backward,
            parallel=self._parallel, scaler=grad_scaler(self.trainer), inputs=inputs,
        )  # fmt: skip

    @staticmethod
    def _add_regularizers(
        loss: Tensor, regularizers: nn.ModuleList, phase: DiscriminatorPhase | GeneratorPhase, logs: dict[str, Tensor]
    ) -> Tensor:
        """``loss`` plus each regularizer due at ``phase.step``; their values go into ``logs``."""
        for regularizer in regularizers:
            if regularizer.is_due(phase.step):
                term, values = regularizer(phase)
                loss = loss + term
                logs.update(values)
        return loss

    def on_train_end(self) -> None:
        self.guard.read_tally(self.global_step)

    def _update_ema(self) -> None:
        if self.generator_ema is not None:
            t = self.global_step
            decay = min(self.ema_decay, (1 + t) / (10 + t)) if self.ema_warmup else self.ema_decay
            update_ema(self.generator_ema, self.generator, decay)


def _regularizer_list(regularizers: Sequence[Any] | None, role: str) -> nn.ModuleList:
    parts = resolve_parts(regularizers, role)
    for index, part in enumerate(parts):
        check(
            isinstance(part, Regularizer),
            f"{role}[{index}]={type(part).__name__}: expected a lightning_gan.regularizers.Regularizer",
        )
    return nn.ModuleList(parts)


def _no_closure() -> None:
    """The backward already ran in ``training_step``."""
