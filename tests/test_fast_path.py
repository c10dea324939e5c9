"""The fast path (fused Adam, channels-last, torch.compile) trains the same game as the default path."""

import warnings
from copy import deepcopy
from functools import partial

import lightning as L
import pytest
import torch
from torch._dynamo.utils import counters

from lightning_gan import GANModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.helpers import LossRecorder, loader, tiny_gan, trainer

ITERATIONS = 10
BATCH = 16
SHAPE = (3, 16, 16)  # more than one channel, so the two memory formats differ
# Per-iteration losses and learned functions of the fast path against the default path, same seed:
# measured differences are ~1e-7 (rounding: fused vs foreach Adam, other convolution kernels,
# fused compiled graphs); a wrong update (a skipped step, another optimizer) moves them by > 1e-3.
TOLERANCE = 1e-4


def _train(fused: bool = False, **fast) -> tuple[GANModule, list[tuple[float, float]], list[torch.Tensor]]:
    """10 iterations of a small image GAN; the discriminator's real inputs are recorded."""
    adam = partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999), fused=fused)
    torch.manual_seed(0)
    gan = GANModule(
        DCGANGenerator(16, SHAPE, width=8), DCGANDiscriminator(SHAPE, width=8), latent_dim=16,
        g_optimizer=adam, d_optimizer=adam, ema_decay=0.9, **fast,
    )  # fmt: skip
    seen: list[torch.Tensor] = []
    if not fast.get("compile"):  # a hook would be traced into the compiled graph
        gan.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    data = _data()
    losses = LossRecorder()
    L.seed_everything(0)
    trainer(max_steps=ITERATIONS, log_every_n_steps=1, callbacks=[losses]).fit(gan, loader(data, batch_size=BATCH))
    return gan, losses.losses, seen


def _data() -> torch.Tensor:
    return torch.rand(ITERATIONS * BATCH, *SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.fixture(scope="module")
def default_run():
    return _train()


def _assert_same_game(fast_run, default_run) -> None:
    fast_gan, fast_losses, _ = fast_run
    gan, losses, _ = default_run
    assert len(fast_losses) == len(losses) == ITERATIONS
    for step, (fast_pair, pair) in enumerate(zip(fast_losses, losses)):
        assert fast_pair == pytest.approx(pair, abs=TOLERANCE), f"iteration {step}"
    # The learned functions, in training mode (batch statistics), on fixed inputs. Not the raw
    # weights: a convolution's bias before batch norm gets only rounding noise as its gradient,
    # which Adam scales up to full-size steps, so it wanders apart while the function stays the same.
    generator_out, discriminator_out = _functions(fast_gan)
    reference_generator_out, reference_discriminator_out = _functions(gan)
    assert torch.allclose(generator_out, reference_generator_out, atol=TOLERANCE, rtol=0)
    assert torch.allclose(discriminator_out, reference_discriminator_out, atol=TOLERANCE, rtol=0)


@torch.no_grad()
def _functions(gan: GANModule) -> tuple[torch.Tensor, torch.Tensor]:
    copy = {role: deepcopy(getattr(gan, role)).float().train() for role in ("generator", "discriminator")}
    z = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    x = torch.rand(32, *SHAPE, generator=torch.Generator().manual_seed(2)) * 2 - 1
    return copy["generator"](z), copy["discriminator"](x)


@pytest.mark.parametrize(
    "fast", [{"fused": True}, {"fused": True, "channels_last": True}], ids=["fused", "channels_last"]
)
def test_fused_adam_and_channels_last_follow_the_default_loss_curve(fast, default_run):
    run = _train(**fast)
    _assert_same_game(run, default_run)
    gan, _, seen = run
    channels_last = fast.get("channels_last", False)
    conv = next(p for p in gan.discriminator.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last
    # the real batches reach the discriminator in the networks' memory format (what the generator's
    # output is in is up to the convolution kernels: on a GPU, channels-last in, channels-last out)
    data = _data()
    real = [x for x in seen if any(torch.equal(x, batch) for batch in data.split(BATCH))]
    assert len(real) == ITERATIONS + 1  # one per D step, and the input check's dry run
    assert {x.is_contiguous(memory_format=torch.channels_last) for x in real} == {channels_last}


@pytest.mark.slow
def test_compiled_networks_follow_the_default_loss_curve(default_run):
    counters.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile could not compile")  # no silent fallback
        run = _train(fused=True, channels_last=True, compile=True)
    _assert_same_game(run, default_run)
    # the training steps called the compiled networks: dynamo captured graphs of both
    assert counters["stats"]["unique_graphs"] >= 2
    compiled = run[0]._compiled
    assert set(compiled) == {"generator", "discriminator"}
    assert all(network.compiled is not None for network in compiled.values())  # still compiled at the end


def _broken_backend(graph_module, example_inputs):
    raise RuntimeError("no C++ compiler on this machine")


def _tiny_run(**kwargs) -> GANModule:
    torch.manual_seed(0)
    gan = tiny_gan(**kwargs)
    L.seed_everything(0)
    trainer(max_steps=4).fit(gan, loader(torch.randn(64, 2)))
    return gan


def test_compile_falls_back_to_the_eager_networks_with_one_warning_each():
    with pytest.warns(UserWarning, match="torch.compile could not compile the") as record:
        gan = _tiny_run(compile={"backend": _broken_backend})
    messages = [str(w.message) for w in record if "torch.compile could not compile" in str(w.message)]
    assert len(messages) == 2, messages  # once per network, not once per call
    assert all("no C++ compiler on this machine" in message for message in messages)
    eager = _tiny_run()
    for (name, value), eager_value in zip(gan.state_dict().items(), eager.state_dict().values()):
        assert torch.equal(value, eager_value), name


@pytest.mark.parametrize(
    ("compile_option", "message"),
    [
        ({"mode": "max-autotun"}, "compile mode 'max-autotun': expected one of"),
        ({"backend": "indcutor"}, "compile backend 'indcutor': expected one of"),
        ({"fullgraf": True}, "compile option 'fullgraf': expected one of"),
        ("yes", "GANModule\\(compile='yes'\\): expected True, False or a dict"),
    ],
)
def test_a_typo_in_the_compile_options_fails_at_construction(compile_option, message):
    with pytest.raises(ValueError, match=message):
        tiny_gan(compile=compile_option)


def test_a_spectral_norm_network_is_not_compiled_and_says_why():
    from lightning_gan.nets import ResNetDiscriminator, ResNetGenerator

    shape = (3, 32, 32)
    torch.manual_seed(0)
    gan = GANModule(
        ResNetGenerator(8, shape, width=8), ResNetDiscriminator(shape, width=8), latent_dim=8,
        compile={"backend": "eager"},  # dynamo without code generation: the decision, not the compiler, is tested
    )  # fmt: skip
    with pytest.warns(UserWarning, match="could not compile the discriminator \\(spectral norm") as record:
        trainer(max_steps=2).fit(gan, loader(torch.rand(16, *shape) * 2 - 1))
    assert gan._compiled["generator"].compiled is not None  # batch norm only: compiled
    assert gan._compiled["discriminator"].compiled is None
    assert not [w for w in record if "could not compile the generator" in str(w.message)]
