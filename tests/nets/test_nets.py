"""One smoke test for every network in lightning_gan.nets, conditional and not."""

import warnings

import pytest
import torch
from torch import nn

from lightning_gan import GANModule, nets
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, network_spec
from tests.helpers import loader, trainer

LATENT = 8
# (generator factory, discriminator factory, sample shape); widths kept small for speed
PAIRS = {
    "mlp": (
        lambda c: MLPGenerator(LATENT, 2, hidden_dim=16, num_classes=c),
        lambda c: MLPDiscriminator(2, hidden_dim=16, num_classes=c),
        (2,),
    ),
    "dcgan16": (
        lambda c: DCGANGenerator(LATENT, (1, 16, 16), width=8, num_classes=c),
        lambda c: DCGANDiscriminator((1, 16, 16), width=8, num_classes=c),
        (1, 16, 16),
    ),
    "dcgan28": (
        lambda c: DCGANGenerator(LATENT, (1, 28, 28), width=8, num_classes=c),
        lambda c: DCGANDiscriminator((1, 28, 28), width=8, num_classes=c, norm="none"),
        (1, 28, 28),
    ),
    "dcgan32": (
        lambda c: DCGANGenerator(LATENT, (3, 32, 32), width=8, num_classes=c),
        lambda c: DCGANDiscriminator((3, 32, 32), width=8, num_classes=c, norm="spectral"),
        (3, 32, 32),
    ),
    "dcgan64": (
        lambda c: DCGANGenerator(LATENT, (3, 64, 64), width=4, num_classes=c),
        lambda c: DCGANDiscriminator((3, 64, 64), width=4, num_classes=c),
        (3, 64, 64),
    ),
    "resnet32": (
        lambda c: nets.ResNetGenerator(LATENT, (3, 32, 32), width=8, num_classes=c),
        lambda c: nets.ResNetDiscriminator((3, 32, 32), width=8, num_classes=c),
        (3, 32, 32),
    ),
    "resnet32_nonorm": (
        lambda c: nets.ResNetGenerator(LATENT, (3, 32, 32), width=8, num_classes=c),
        lambda c: nets.ResNetDiscriminator((3, 32, 32), width=8, num_classes=c, norm="none"),
        (3, 32, 32),
    ),
    "stylegan2_16": (
        lambda c: nets.StyleGAN2Generator(
            LATENT, (1, 16, 16), w_dim=16, channel_base=128, channel_max=16, num_classes=c
        ),
        lambda c: nets.StyleGAN2Discriminator((1, 16, 16), channel_base=128, channel_max=16, num_classes=c),
        (1, 16, 16),
    ),
    "stylegan2_nonsquare": (
        lambda c: nets.StyleGAN2Generator(LATENT, (3, 8, 32), w_dim=16, channel_base=64, channel_max=16, num_classes=c),
        lambda c: nets.StyleGAN2Discriminator((3, 8, 32), channel_base=64, channel_max=16, num_classes=c),
        (3, 8, 32),
    ),
}
UNSQUASHED = {"stylegan2_16", "stylegan2_nonsquare"}  # no tanh in StyleGAN2: images lie in [-1, 1] only once trained
EXPORTED = {name for name in nets.__all__ if name.endswith(("Generator", "Discriminator"))}


def test_every_exported_network_is_smoke_tested():
    tested = {type(factory(0)).__name__ for g, d, _ in PAIRS.values() for factory in (g, d)}
    assert EXPORTED <= tested


@pytest.mark.parametrize("num_classes", [0, 3])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_network_shapes_no_nan_and_gradients_reach_every_parameter(name, num_classes):
    make_g, make_d, shape = PAIRS[name]
    torch.manual_seed(0)
    g, d = make_g(num_classes), make_d(num_classes)
    labels = torch.tensor([0, 1, 2, 0]) if num_classes else None
    x = g(torch.randn(4, LATENT), labels)
    assert x.shape == (4, *shape) and torch.isfinite(x).all()
    if len(shape) == 3 and name not in UNSQUASHED:
        assert x.abs().max() <= 1  # images in [-1, 1]
    logits = d(x, labels)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    logits.square().sum().backward()
    for net in (g, d):
        missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not missing, f"no gradient reaches {missing}"
    assert network_spec(g) is not None and network_spec(d) is not None  # checkpoints can rebuild them


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_conditional_networks_need_labels(name):
    make_g, make_d, shape = PAIRS[name]
    with pytest.raises(ValueError, match=r"this generator is conditional \(num_classes=3\): pass labels"):
        make_g(3)(torch.randn(2, LATENT))
    with pytest.raises(ValueError, match=r"this discriminator is conditional \(num_classes=3\): pass labels"):
        make_d(3)(torch.randn(2, *shape))


@pytest.mark.parametrize("bad", [(3, 30, 30), (3, 32, 16), (32, 32), (3, 2, 2)])
def test_image_networks_reject_shapes_they_cannot_make(bad):
    with pytest.raises(ValueError, match=r"DCGANGenerator: image_shape="):
        DCGANGenerator(LATENT, bad)


def test_conditional_dcgan_trains_in_a_gan_module_and_checkpoints(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    module = GANModule(
        DCGANGenerator(LATENT, (1, 16, 16), width=8, num_classes=3),
        DCGANDiscriminator((1, 16, 16), width=8, num_classes=3, norm="spectral"),
        latent_dim=LATENT,
        num_classes=3,
        loss="hinge",
        ema_decay=0.99,
    )
    images, labels = torch.rand(32, 1, 16, 16) * 2 - 1, torch.randint(0, 3, (32,))
    fit = trainer(
        tmp_path,
        max_steps=2,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
    )
    fit.fit(module, loader(images, labels))
    loaded = GANModule.load_from_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    asked = torch.tensor([0, 1, 2, 2])
    torch.testing.assert_close(loaded.generate(4, seed=1, labels=asked), module.generate(4, seed=1, labels=asked))


def test_resnet_discriminator_norm_switches_spectral_norm_off_for_gradient_penalties():
    def parametrized(net):
        return any(nn.utils.parametrize.is_parametrized(m) for m in net.modules())

    assert parametrized(nets.ResNetDiscriminator((3, 32, 32), width=8))
    assert not parametrized(nets.ResNetDiscriminator((3, 32, 32), width=8, norm="none"))
    with pytest.raises(ValueError, match="norm='batch'"):
        nets.ResNetDiscriminator((3, 32, 32), norm="batch")


def test_a_network_with_an_argument_that_is_no_plain_value_warns_at_construction():
    from lightning_gan.nets import Recordable

    class Wrapped(Recordable):
        def __init__(self, inner: torch.nn.Module, width: int = 2) -> None:
            super().__init__()
            self.inner, self.width = inner, width

    with pytest.warns(
        UserWarning, match=r"Wrapped\(inner=Linear\): not a plain value .* a checkpoint cannot rebuild it"
    ):
        net = Wrapped(torch.nn.Linear(2, 2))
    assert net.init_spec is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain one records quietly
        assert Wrapped(3, width=4).init_spec["init_args"] == {"inner": 3, "width": 4}
