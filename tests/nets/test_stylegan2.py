"""StyleGAN2 networks and path-length regularization (issue 14)."""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from lightning_gan import GANModule
from lightning_gan.nets import MLPGenerator, StyleGAN2Discriminator, StyleGAN2Generator, network_spec
from lightning_gan.nets.stylegan2 import (
    EqualizedConv2d,
    EqualizedLinear,
    ModulatedConv2d,
    minibatch_stddev,
    modulated_conv2d,
)
from lightning_gan.regularizers import R1, DiscriminatorPhase, GeneratorPhase, PathLength
from tests.helpers import loader, trainer

LATENT = 8
TINY = {"w_dim": 16, "mapping_layers": 2, "channel_base": 128, "channel_max": 16}  # 16 px: widths 16, 16, 8
TINY_D = {"channel_base": 128, "channel_max": 16, "mapping_layers": 2}


def tiny_g(shape=(1, 16, 16), **kwargs):
    return StyleGAN2Generator(LATENT, shape, **{**TINY, **kwargs})


def tiny_d(shape=(1, 16, 16), **kwargs):
    return StyleGAN2Discriminator(shape, **{**TINY_D, **kwargs})


# ------------------------------------------------------------------ modulation / demodulation
STYLES = {
    "ones": lambda b, c: torch.ones(b, c),
    "log-normal, wide": lambda b, c: torch.exp(2.0 * torch.randn(b, c)),
    "one channel dominates": lambda b, c: torch.eye(c)[:b] * 50.0 + 1e-3,
    "negative and tiny": lambda b, c: -1e-3 * torch.rand(b, c),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_demodulation_gives_unit_variance_per_output_channel_for_any_style(style):
    """For x ~ N(0, 1) independent, Var(conv(x, w'')) = sum w''^2 = 1 exactly. Estimated on the
    62 x 62 interior pixels of each (sample, output channel) the estimate's standard deviation is
    about 0.023; the tolerance is 0.12 (5 standard deviations)."""
    torch.manual_seed(0)
    batch, c_in, c_out = 4, 32, 16
    x = torch.randn(batch, c_in, 64, 64)
    weight = torch.randn(c_out, c_in, 3, 3)
    styles = STYLES[style](batch, c_in)
    y = modulated_conv2d(x, weight, styles)[:, :, 1:-1, 1:-1]  # the border sees zero padding
    variance = y.var(dim=(2, 3))  # (B, O)
    assert (variance - 1).abs().max() < 0.12, variance
    # without demodulation the variance follows the style and the weights: the check is not vacuous
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1].var(dim=(2, 3))
    assert (raw - 1).abs().min() > 0.5


def test_synthesis_layer_output_keeps_its_second_moment_whatever_w():
    """Through a whole layer (affine style, demodulated conv, bias 0, no noise, sqrt(2) lrelu):
    E[(sqrt(2) lrelu(u))^2] = 1 + 0.2^2 = 1.04 for u ~ N(0, 1), for small and huge w alike; the
    tolerance is 0.18 (5 standard deviations of the estimate on 62 x 62 pixels)."""
    torch.manual_seed(0)
    layer = ModulatedConv2d(32, 16, w_dim=8, resolution=(64, 64))
    x = torch.randn(4, 32, 64, 64)
    for scale in (0.01, 1.0, 100.0):
        y = layer(x, scale * torch.randn(4, 8), noise_mode="none")[:, :, 1:-1, 1:-1]
        second_moment = y.square().mean(dim=(2, 3))
        assert (second_moment - 1.04).abs().max() < 0.18, (scale, second_moment)


# ------------------------------------------------------------------ equalized learning rate
def test_equalized_layers_scale_weights_by_one_over_sqrt_fan_in_at_run_time():
    torch.manual_seed(0)
    linear = EqualizedLinear(1024, 512)
    conv = EqualizedConv2d(128, 256, 3)
    for layer, fan_in in ((linear, 1024), (conv, 128 * 9)):
        assert layer.weight_gain == pytest.approx(1 / math.sqrt(fan_in))
        stored = layer.weight.detach()
        assert abs(stored.mean().item()) < 0.01 and abs(stored.std().item() - 1) < 0.01  # N(0, 1) at init
    x = torch.randn(3, 1024)
    torch.testing.assert_close(linear(x), F.linear(x, linear.weight / 32.0, linear.bias))
    image = torch.randn(2, 128, 6, 6)
    torch.testing.assert_close(conv(image), F.conv2d(image, conv.weight / math.sqrt(128 * 9), conv.bias, padding=1))


def test_every_layer_of_both_networks_uses_the_equalized_learning_rate():
    """Every weight is stored N(0, 1) / m and applied times m / sqrt(fan_in) (m = 0.01 in mappings, else 1)."""
    torch.manual_seed(0)
    g, d = tiny_g(num_classes=3), tiny_d(num_classes=3)
    checked = 0
    for net in (g, d):
        for name, module in net.named_modules():
            if isinstance(module, (EqualizedLinear, EqualizedConv2d)):
                lr = 0.01 if "mapping_network.layers" in name else 1.0
                fan_in = module.weight[0].numel()
                assert module.weight_gain == pytest.approx(lr / math.sqrt(fan_in)), name
                checked += 1
    assert checked > 20
    conv_weights = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, ModulatedConv2d)])
    assert abs(conv_weights.std().item() - 1) < 0.05  # modulated convs are stored N(0, 1) too


# ------------------------------------------------------------------ truncation and w_avg
def test_w_avg_follows_the_mean_w_in_training_mode_only():
    torch.manual_seed(0)
    g = tiny_g(w_avg_beta=0.9, style_mixing_prob=1.0)
    assert "w_avg" in g.state_dict()
    z = torch.randn(6, LATENT)
    expected = torch.lerp(g.mapping_network(z, None).mean(0), torch.zeros(16), 0.9)
    g(z)  # the mixing latent does not move the average
    torch.testing.assert_close(g.w_avg, expected)
    g.eval()
    g(torch.randn(6, LATENT))
    torch.testing.assert_close(g.w_avg, expected)


def test_truncation_psi_zero_gives_one_image_and_psi_one_changes_nothing():
    torch.manual_seed(0)
    g = tiny_g(w_avg_beta=0.5)
    g(torch.randn(16, LATENT))  # training mode: w_avg moves off zero
    g.eval()
    z = torch.randn(5, LATENT)
    with torch.no_grad():
        same = g(z, truncation_psi=0.0)
        assert (same - same[:1]).abs().max() < 1e-5 and same[0].abs().max() > 0
        plain = g(z)
        torch.testing.assert_close(g(z, truncation_psi=1.0), plain, rtol=0, atol=0)
        torch.testing.assert_close(g.synthesis(g.mapping(z)), plain, rtol=0, atol=0)
        half = g(z, truncation_psi=0.5)
        ws = g.mapping(z)
        torch.testing.assert_close(half, g.synthesis(g.w_avg + 0.5 * (ws - g.w_avg)))
        assert (half - plain).abs().max() > 1e-3


def test_conditional_truncation_goes_to_the_global_average_as_the_reference_or_to_each_class_s():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    g = tiny_g(num_classes=3, w_avg_beta=0.5)  # stylegan2-ada's: one average w over all classes
    assert g.w_avg.shape == (16,)
    z = torch.randn(12, LATENT)
    expected = torch.lerp(g.mapping_network(z, torch.tensor([0, 1] * 6)).mean(0), torch.zeros(16), 0.5)
    g(z, torch.tensor([0, 1] * 6))
    torch.testing.assert_close(g.w_avg, expected)
    g.eval()
    with torch.no_grad():
        images = g(torch.randn(6, LATENT), labels, truncation_psi=0.0)
    assert (images - images[0]).abs().max() < 1e-5  # psi = 0: the one average image, whatever the class

    torch.manual_seed(0)
    g = tiny_g(num_classes=3, w_avg_beta=0.5, truncation_center="class")
    assert g.w_avg.shape == (3, 16)
    g(torch.randn(12, LATENT), torch.tensor([0, 1] * 6))  # classes 0 and 1 seen, class 2 not
    assert g.w_avg[0].abs().sum() > 0 and g.w_avg[1].abs().sum() > 0 and g.w_avg[2].abs().sum() == 0
    g.eval()
    with torch.no_grad():
        images = g(torch.randn(6, LATENT), labels, truncation_psi=0.0)
    assert (images[:3] - images[0]).abs().max() < 1e-5 and (images[3:] - images[3]).abs().max() < 1e-5
    assert (images[0] - images[3]).abs().max() > 1e-3  # one image per class, not one for all
    # a per-class checkpoint into a global generator: the error says what to build
    with pytest.raises(ValueError, match=r"w_avg has shape \(3, 16\).*truncation_center='class'"):
        tiny_g(num_classes=3).load_state_dict(g.state_dict())
    with pytest.raises(ValueError, match=r"truncation_center='class'\): expected a conditional generator"):
        tiny_g(truncation_center="class")


# ------------------------------------------------------------------ style mixing
def _capture_ws(g):
    captured = []
    synthesis = g.synthesis

    def spy(ws, **kwargs):
        captured.append(ws.detach().clone())
        return synthesis(ws, **kwargs)

    g.synthesis = spy
    return captured


def test_style_mixing_takes_a_second_latent_from_a_random_cut_off_layer():
    torch.manual_seed(0)
    g = tiny_g(style_mixing_prob=1.0)
    captured = _capture_ws(g)
    z = torch.randn(3, LATENT)
    own = g.mapping_network(z, None)  # (B, w_dim)
    cutoffs = set()
    for _ in range(40):
        g(z)
        ws = captured[-1]  # (B, num_ws, w_dim)
        from_z = (ws - own[:, None]).abs().amax(dim=(0, 2)) < 1e-6  # (num_ws,) layers taking w(z)
        cutoff = int(from_z.long().argmin())  # the first layer that does not
        assert 1 <= cutoff < g.num_ws and from_z[:cutoff].all() and not from_z[cutoff:].any()
        other = ws[:, cutoff:]
        assert (other - other[:, :1]).abs().max() < 1e-6  # one second w for all later layers
        cutoffs.add(cutoff)
    assert len(cutoffs) >= 3  # the cut-off is drawn, not fixed (num_ws - 1 = 5 choices)


def test_both_latents_reach_the_output_when_mixing():
    torch.manual_seed(0)
    z = torch.randn(3, LATENT)
    for prob, differ in ((1.0, True), (0.0, False)):
        g = tiny_g(style_mixing_prob=prob)
        torch.manual_seed(1)
        first = g(z, noise_mode="const")
        second = g(z, noise_mode="const")  # same z, another draw of the second latent
        assert ((first - second).abs().max() > 1e-4) == differ
        assert (g(torch.randn(3, LATENT), noise_mode="const") - first).abs().max() > 1e-4  # and z matters


def test_style_mixing_probability_and_eval_mode():
    torch.manual_seed(0)
    g = StyleGAN2Generator(LATENT, (1, 8, 8), w_dim=8, mapping_layers=1, channel_base=32, channel_max=4)
    assert g.style_mixing_prob == 0.9
    captured = _capture_ws(g)
    z = torch.randn(2, LATENT)
    for _ in range(300):
        g(z)
    mixed = sum(bool((ws - ws[:, :1]).abs().max() > 0) for ws in captured) / len(captured)
    assert 0.84 < mixed < 0.96  # 0.9 +- 3.5 standard deviations
    g.eval()
    captured.clear()
    g(z)
    assert (captured[0] - captured[0][:, :1]).abs().max() == 0


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("shape", [(3, 32, 64), (1, 64, 16)])
def test_non_square_images_keep_the_aspect_ratio_at_every_resolution(shape):
    torch.manual_seed(0)
    g, d = tiny_g(shape), tiny_d(shape)
    ratio = shape[1] / shape[2]
    assert g.blocks[0].const.shape[1:] == ((4, 8) if shape[1] < shape[2] else (16, 4))
    sizes = [tuple(m.noise_const.shape[2:]) for m in g.modules() if isinstance(m, ModulatedConv2d)]
    assert sizes[-1] == shape[1:] and all(h / w == ratio for h, w in sizes)
    images = g(torch.randn(4, LATENT))
    assert images.shape == (4, *shape) and torch.isfinite(images).all()
    assert d(images).shape == (4,)
    conditional = tiny_d(shape, num_classes=2)
    assert conditional(images, torch.tensor([0, 1, 1, 0])).shape == (4,)


@pytest.mark.parametrize("bad", [(3, 30, 30), (3, 32, 256), (3, 2, 2), (32, 32), (3, 48, 48), (3, 32, 24), (0, 8, 8)])
@pytest.mark.parametrize("cls", [StyleGAN2Generator, StyleGAN2Discriminator])
def test_shapes_that_are_not_powers_of_two_within_aspect_four_are_errors(cls, bad):
    args = (LATENT, bad) if cls is StyleGAN2Generator else (bad,)
    with pytest.raises(
        ValueError, match=rf"{cls.__name__}: image_shape={re.escape(repr(bad))}; expected .*powers of two"
    ):
        cls(*args)


def test_smallest_image_and_signatures():
    g, d = tiny_g((3, 4, 4)), tiny_d((3, 4, 4))  # only the constant block, no down-sampling blocks
    assert g(torch.randn(2, LATENT)).shape == (2, 3, 4, 4) and d(torch.randn(2, 3, 4, 4)).shape == (2,)
    assert StyleGAN2Generator.supports_truncation is True
    assert g.num_ws == 2 and tiny_g().num_ws == 6
    assert g.mapping(torch.randn(2, LATENT)).shape == (2, 2, 16)
    spec = network_spec(tiny_g(num_classes=2))
    assert spec["class_path"] == "lightning_gan.nets.stylegan2.StyleGAN2Generator"
    assert spec["init_args"]["num_classes"] == 2 and spec["init_args"]["style_mixing_prob"] == 0.9
    with pytest.raises(ValueError, match="style_mixing_prob=1.5"):
        tiny_g(style_mixing_prob=1.5)
    with pytest.raises(ValueError, match=r"synthesis: ws has shape \(2, 3, 16\); expected \(B, 6, 16\)"):
        tiny_g().synthesis(torch.randn(2, 3, 16))


def test_tanh_output_squashes_the_linear_images_and_a_wrong_name_is_an_error():
    torch.manual_seed(0)
    linear = tiny_g()
    squashed = tiny_g(output="tanh")
    with torch.no_grad():
        for layer in linear.modules():  # images well outside [-1, 1]
            if hasattr(layer, "torgb"):
                layer.torgb.bias.fill_(3.0)
        squashed.load_state_dict(linear.state_dict())
    z = torch.randn(4, LATENT)
    linear.eval()
    squashed.eval()
    image = linear(z)
    assert image.abs().max() > 2
    torch.testing.assert_close(squashed(z), torch.tanh(image))
    assert network_spec(squashed)["init_args"]["output"] == "tanh"
    with pytest.raises(ValueError, match=r"output='sigmoid'; expected 'linear' or 'tanh'"):
        tiny_g(output="sigmoid")


def test_eval_mode_is_deterministic_and_training_mode_adds_fresh_noise():
    torch.manual_seed(0)
    g = tiny_g()
    z = torch.randn(2, LATENT)
    g.eval()
    torch.testing.assert_close(g(z), g(z), rtol=0, atol=0)
    g.train()
    with torch.no_grad():
        for layer in g.modules():
            if isinstance(layer, ModulatedConv2d):
                layer.noise_strength.fill_(0.5)
    assert (g(z, noise_mode="random") - g(z, noise_mode="random")).abs().max() > 1e-4


def test_minibatch_stddev_groups():
    x = torch.randn(8, 4, 3, 3)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (8, 5, 3, 3)
    group = x[[1, 3, 5, 7]]  # sample g * n + j belongs to group j (n = 2 groups)
    expected = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    torch.testing.assert_close(y[3, 4], expected.expand(3, 3))
    assert minibatch_stddev(torch.randn(6, 4, 2, 2), group_size=4).shape == (6, 5, 2, 2)  # groups of 3


# ------------------------------------------------------------------ R1 through D
@pytest.mark.parametrize("num_classes", [0, 3])
def test_r1_double_backward_through_the_discriminator(num_classes):
    torch.manual_seed(0)
    d = tiny_d(num_classes=num_classes)
    labels = torch.tensor([0, 1, 2, 0]) if num_classes else None
    term, logs = R1(gamma=1.0)(_d_phase(d, torch.randn(4, 1, 16, 16), labels))
    term.backward()
    assert logs["train/r1"] > 0
    weights = [p for n, p in d.named_parameters() if n.endswith("weight")]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)


def test_r1_gradient_through_the_discriminator_matches_finite_differences():
    """The double backward of every op in D is right, not merely defined: gradcheck in float64."""
    torch.manual_seed(0)
    d = StyleGAN2Discriminator((1, 8, 8), channel_base=16, channel_max=2, mapping_layers=1).double()
    real = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    name = "blocks.0.conv1.weight"
    params = dict(d.named_parameters())

    def r1_of(weight):
        def critic(x):
            return torch.func.functional_call(d, {**params, name: weight}, (x,))

        x = real.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        return grad.square().sum()

    assert torch.autograd.gradcheck(r1_of, (params[name].detach().clone().requires_grad_(True),))


def _d_phase(d, real, labels):
    logits = d(real, labels)
    return DiscriminatorPhase(real, labels, real, labels, logits, logits, d, step=0)


# ------------------------------------------------------------------ path length
def _g_phase(g, z, labels=None, step=0):
    fake = torch.zeros(z.shape[0], 1)
    return GeneratorPhase(z, labels, fake, fake[:, 0], g, lambda x, y: x.sum(), step)


def _reference_lengths(g, z, labels, seed):
    """|J_w^T y| per sample by torch.autograd.functional.vjp, y drawn as PathLength draws it."""
    torch.manual_seed(seed)
    ws = g.mapping(z, labels).detach()
    y = torch.randn_like(g.synthesis(ws)) / math.sqrt(16 * 16)
    _, jt_y = torch.autograd.functional.vjp(g.synthesis, ws, y)  # (B, num_ws, w_dim)
    return jt_y.square().sum(dim=2).mean(dim=1).sqrt()


@pytest.mark.parametrize("num_classes", [0, 3])
def test_path_length_penalty_and_running_mean_match_autograd(num_classes):
    torch.manual_seed(0)
    g = tiny_g(num_classes=num_classes).eval()  # eval: the layers' fixed noise, so both sides see one function
    reg = PathLength(decay=0.1)  # batch_shrink 2: the first 4 of 8 latents
    z = torch.randn(8, LATENT)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]) if num_classes else None
    mean = torch.tensor(0.0)
    for step, seed in enumerate((1, 2)):
        torch.manual_seed(seed)
        penalty = reg.penalty(_g_phase(g, z, labels, step))
        lengths = _reference_lengths(g, z[:4], labels[:4] if num_classes else None, seed)
        mean = mean + 0.1 * (lengths.mean() - mean)  # a <- a + decay (mean(l) - a)
        torch.testing.assert_close(reg.mean, mean)
        torch.testing.assert_close(penalty, (lengths - mean).square().mean())
    assert penalty > 0 and reg.state_dict()["mean"] == reg.mean


def test_path_length_mixes_styles_as_the_generator_trains():
    """stylegan2-ada's path-length pass maps z with the generator's style mixing (loss.py, run_G) and
    differentiates with respect to the mixed ws; in eval mode (and without mixing) nothing is mixed."""
    torch.manual_seed(0)
    g = tiny_g(style_mixing_prob=1.0)  # training mode; the noise strengths start at 0: no noise in the gradient
    captured = _capture_ws(g)
    z = torch.randn(4, LATENT)
    torch.manual_seed(5)
    lengths = PathLength().path_lengths(g, z, None)
    (ws,) = captured
    assert not torch.equal(ws[:, 0], ws[:, -1])  # mixed: the last layers took a second latent's w
    del g.synthesis  # the spy off
    torch.manual_seed(5)
    mixed = g.mix_styles(g.mapping(z, None), z, None).detach().requires_grad_(True)
    images = g.synthesis(mixed)
    y = torch.randn_like(images) / math.sqrt(16 * 16)
    (grad,) = torch.autograd.grad((images * y).sum(), mixed)
    torch.testing.assert_close(lengths, grad.square().sum(dim=2).mean(dim=1).sqrt())
    g.eval()
    captured = _capture_ws(g)
    PathLength().path_lengths(g, z, None)
    assert torch.equal(captured[0][:, 0], captured[0][:, -1])  # eval mode: one w for every layer


def test_path_length_trains_the_generator_and_is_lazy():
    torch.manual_seed(0)
    g = tiny_g()
    reg = PathLength()
    assert (reg.weight, reg.interval, reg.decay, reg.batch_shrink) == (2.0, 4, 0.01, 2)
    assert [reg.is_due(step) for step in range(9)] == [True, False, False, False] * 2 + [True]
    torch.manual_seed(3)
    term, logs = reg(_g_phase(g, torch.randn(4, LATENT)))
    torch.testing.assert_close(term, 2.0 * 4 * logs["train/path_length"])  # weight * interval * penalty
    assert logs["train/path_length_mean"] == reg.mean and reg.mean > 0
    term.backward()
    for part in (g.mapping_network, g.blocks):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_path_length_needs_a_stylegan2_generator():
    reg = PathLength()
    with pytest.raises(TypeError, match="PathLength needs a StyleGAN2-style generator.*MLPGenerator has no mapping"):
        reg.penalty(_g_phase(MLPGenerator(LATENT, 2), torch.randn(4, LATENT)))
    with pytest.raises(ValueError, match=r"PathLength\(decay=0\)"):
        PathLength(decay=0)
    with pytest.raises(ValueError, match=r"PathLength\(batch_shrink=0\)"):
        PathLength(batch_shrink=0)


# ------------------------------------------------------------------ training
def test_gan_module_fit_with_path_length_and_r1_and_checkpoint(tmp_path, monkeypatch):
    from lightning.pytorch.callbacks import ModelCheckpoint

    calls = []
    penalty = PathLength.penalty
    monkeypatch.setattr(PathLength, "penalty", lambda self, phase: calls.append(phase.step) or penalty(self, phase))
    torch.manual_seed(0)
    module = GANModule(
        tiny_g(num_classes=2),
        tiny_d(num_classes=2),
        latent_dim=LATENT,
        num_classes=2,
        g_regularizers=[PathLength(interval=2)],
        d_regularizers=[R1(gamma=1.0, interval=2)],
        ema_decay=0.9,
    )
    images, labels = torch.rand(24, 1, 16, 16) * 2 - 1, torch.randint(0, 2, (24,))
    fit = trainer(
        tmp_path,
        max_steps=3,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
    )
    fit.fit(module, loader(images, labels))
    assert module.global_step == 3 and calls == [0, 2]  # lazy: generator steps 0 and 2
    assert module.g_regularizers[0].mean > 0 and module.generator.w_avg.abs().sum() > 0
    loaded = GANModule.load_from_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert isinstance(loaded.generator, StyleGAN2Generator) and isinstance(loaded.discriminator, StyleGAN2Discriminator)
    torch.testing.assert_close(loaded.g_regularizers[0].mean, module.g_regularizers[0].mean)
    torch.testing.assert_close(loaded.generator.w_avg, module.generator.w_avg)
    asked = torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(loaded.generate(4, seed=1, labels=asked), module.generate(4, seed=1, labels=asked))
    # truncation through GANModule.generate, from the EMA generator's w_avg: psi = 0 is the average image
    truncated = loaded.generate(4, seed=2, labels=asked, truncation_psi=0.0)
    torch.testing.assert_close(truncated, truncated[:1].expand_as(truncated))
    assert (truncated[0] - loaded.generate(1, seed=2, labels=asked[:1])[0]).abs().max() > 1e-4


def test_generate_takes_the_generator_s_noise_modes_and_draws_random_noise_from_the_seed():
    torch.manual_seed(0)
    g = tiny_g()
    with torch.no_grad():
        for name, parameter in g.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(1.0)
    gan = GANModule(g, tiny_d(), latent_dim=LATENT)
    const = gan.generate(4, seed=3)
    torch.testing.assert_close(gan.generate(4, seed=3, noise_mode="const"), const, rtol=0, atol=0)
    fresh = gan.generate(4, seed=3, noise_mode="random")
    torch.testing.assert_close(gan.generate(4, seed=3, noise_mode="random"), fresh, rtol=0, atol=0)  # the seed's
    assert (fresh - const).abs().amax() > 1e-3 and (
        gan.generate(4, seed=4, noise_mode="random") - fresh
    ).abs().amax() > 0
    assert g.training  # the generator's mode is restored
    with pytest.raises(
        ValueError, match=r"noise_mode='fresh': StyleGAN2Generator takes one of 'random', 'const', 'none'"
    ):
        gan.generate(2, noise_mode="fresh")
    with pytest.raises(ValueError, match=r"noise_mode='random': MLPGenerator takes None: it has no per-layer noise"):
        GANModule(MLPGenerator(2, 2), tiny_d(), latent_dim=2).generate(2, noise_mode="random")
