"""DiffAugment and AdaptiveAugment (ADA): each operation against its formula, gradients, p's adaptation, state."""

from __future__ import annotations

import io
import math

import pytest
import torch

from lightning_gan.augment import (
    ADA_OPS,
    AdaptiveAugment,
    DiffAugment,
    _brightness,
    _contrast,
    _saturation,
)


def images(batch: int = 64, channels: int = 3, height: int = 16, width: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, height, width, generator=generator) * 2 - 1


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.view(torch.int32)


# ----------------------------------------------------------------------------------- DiffAugment


def test_diffaugment_unknown_policy_names_the_bad_one_and_the_known_ones():
    with pytest.raises(ValueError, match=r"'rotate'.*color, translation, cutout"):
        DiffAugment("color,rotate")


def test_brightness_adds_one_shift_per_sample_in_range():
    x = images(256)
    shift = _brightness(x) - x
    per_sample = shift[:, :1, :1, :1]
    assert torch.allclose(shift, per_sample.expand_as(shift), atol=1e-6)  # constant over channels and pixels
    assert per_sample.min() >= -0.5 - 1e-6 and per_sample.max() <= 0.5 + 1e-6
    assert per_sample.min() < -0.4 and per_sample.max() > 0.4  # the whole range, not a narrower one


def factor(out: torch.Tensor, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """The per-sample ``s`` with ``out - mean = s * (x - mean)``, checked to be one number per sample."""
    num, den = (out - mean).flatten(1), (x - mean).flatten(1)
    s = (num * den).sum(1) / (den * den).sum(1)
    assert torch.allclose(num, s[:, None] * den, atol=1e-5)
    return s


def test_saturation_scales_about_each_pixels_channel_mean_by_u_0_2():
    x = images(256)
    out = _saturation(x)
    mean = x.mean(dim=1, keepdim=True)
    assert torch.allclose(out.mean(dim=1, keepdim=True), mean, atol=1e-6)  # the grey level is kept
    s = factor(out, x, mean)
    assert s.min() >= -1e-6 and s.max() <= 2 + 1e-6
    assert s.min() < 0.2 and s.max() > 1.8


def test_contrast_scales_about_the_image_mean_by_u_half_three_halves():
    x = images(256)
    out = _contrast(x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(out.mean(dim=(1, 2, 3), keepdim=True), mean, atol=1e-6)
    c = factor(out, x, mean)
    assert c.min() >= 0.5 - 1e-6 and c.max() <= 1.5 + 1e-6
    assert c.min() < 0.6 and c.max() > 1.4


def test_color_policy_is_brightness_then_saturation_then_contrast():
    x = images(8)
    torch.manual_seed(3)
    out = DiffAugment("color")(x)
    torch.manual_seed(3)
    assert torch.equal(out, _contrast(_saturation(_brightness(x))))


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[i, j] = x[i - dy, j - dx]``, zero outside (one image ``(C, H, W)``)."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_translation_is_a_whole_pixel_shift_of_at_most_an_eighth_with_zero_fill():
    height, width = 28, 20  # at most round(3.5) = 4 rows and round(2.5) = 3 columns, halves up as the reference
    x = torch.arange(1, 200 * 2 * height * width + 1, dtype=torch.float32).reshape(200, 2, height, width)
    torch.manual_seed(0)
    out = DiffAugment("translation")(x)
    found = []
    for image, moved in zip(x, out):
        matches = [(dy, dx) for dy in range(-4, 5) for dx in range(-3, 4) if torch.equal(moved, shifted(image, dy, dx))]
        assert len(matches) == 1, "not a whole-pixel shift within 1/8 of the side with zeros slid in"
        found += matches
    assert {dy for dy, _ in found} == set(range(-4, 5)) and {dx for _, dx in found} == set(range(-3, 4))


@pytest.mark.parametrize(("height", "width"), [(16, 16), (15, 10)])
def test_cutout_zeroes_one_rectangle_of_half_the_sides_clipped_at_the_border(height, width):
    x = images(300, height=height, width=width) + 2  # no zeros of its own: every zero is the cutout
    torch.manual_seed(0)
    out = DiffAugment("cutout")(x)
    size_y, size_x = (height + 1) // 2, (width + 1) // 2  # half, rounded up as the reference: 8 of 15
    clipped = 0
    for image, cut in zip(x, out):
        zero = (cut == 0).all(dim=0)  # (H, W), the same pixels in every channel
        assert torch.equal(cut[:, ~zero], image[:, ~zero])  # everything else untouched
        rows, cols = zero.any(dim=1), zero.any(dim=0)
        assert torch.equal(zero, rows[:, None] & cols[None, :])  # one axis-aligned rectangle
        for hit, side, size in ((rows, height, size_y), (cols, width, size_x)):
            index = hit.nonzero().flatten()
            assert len(index) >= 1 and index[-1] - index[0] + 1 == len(index)  # contiguous
            at_border = index[0] == 0 or index[-1] == side - 1
            assert len(index) == size or (len(index) < size and at_border)
            clipped += len(index) < size
    assert clipped > 0  # the clipped case was exercised


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_diffaugment_draws_independently_per_sample(policy):
    x = images(1).expand(16, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    out = DiffAugment(policy)(x)
    distinct = {tuple(sample.flatten().tolist()) for sample in out}
    assert len(distinct) >= 8


@pytest.mark.parametrize("device", ["cpu", "meta"] + (["cuda"] if torch.cuda.is_available() else []))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_both_keep_shape_dtype_and_device(device, dtype):
    x = torch.zeros(4, 3, 12, 20, dtype=dtype, device=device)
    for augment in (DiffAugment(), AdaptiveAugment(p=0.5).to(device)):
        out = augment(x)
        assert out.shape == x.shape and out.dtype == dtype and out.device == x.device


def test_diffaugment_empty_policy_is_the_identity_and_bad_shapes_are_refused():
    x = images(2)
    assert DiffAugment("")(x) is x
    with pytest.raises(ValueError, match=r"\(B, C, H, W\); got \(3, 16, 16\)"):
        DiffAugment()(x[0])


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_diffaugment_is_differentiable(policy):
    augment = DiffAugment(policy)
    x = images(2, height=8, width=8).double().requires_grad_(True)

    def seeded(inputs: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)  # the same draws for every evaluation
        return augment(inputs)

    assert torch.autograd.gradcheck(seeded, (x,), fast_mode=True)
    seeded(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------- ADA


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 0.0}, r"target.*\(0, 1\].*0\.0"),
        ({"target": 1.5}, r"target.*1\.5"),
        ({"interval": 0}, r"AdaptiveAugment\(interval=0\): expected an int >= 1"),
        ({"interval": 2.5}, r"AdaptiveAugment\(interval=2\.5\): expected an int >= 1"),
        ({"speed_kimg": 0}, r"speed_kimg.*> 0.*got 0"),
        ({"speed_kimg": float("inf")}, r"speed_kimg.*inf"),
        ({"p": -0.1}, r"p must lie in \[0, 1\].*-0\.1"),
        ({"p": 1.1}, r"p must lie.*1\.1"),
        ({"ops": "bgc,zoom"}, r"'zoom'.*xflip, rotate90.*presets blit, geom, color, bg, bgc"),
    ],
)
def test_ada_arguments_are_checked_with_the_value_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveAugment(**kwargs)


def test_ada_adaptive_must_be_a_bool():
    with pytest.raises(TypeError, match=r"adaptive.*'yes'"):
        AdaptiveAugment(adaptive="yes")


def test_ada_ops_presets_and_names():
    assert AdaptiveAugment().ops == ADA_OPS and len(ADA_OPS) == 12
    assert AdaptiveAugment(ops="blit").ops == ("xflip", "rotate90", "xint")
    assert AdaptiveAugment(ops=["hue", "xflip", "color"]).ops == (
        "xflip",
        "brightness",
        "contrast",
        "lumaflip",
        "hue",
        "saturation",
    )


def test_ada_with_p_zero_is_the_identity_bitwise():
    x = images(8)
    x[0, 0, 0, :3] = torch.tensor([-0.0, float("nan"), float("inf")])  # values a computation would alter
    augment = AdaptiveAugment(p=0.0)
    assert augment(x) is x
    # the path taken off the CPU (p is not read on the host there): an exact copy
    assert torch.equal(bits(augment._augment(x)), bits(x))


def test_ada_with_p_one_changes_every_image_and_each_independently():
    x = images(1).expand(16, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    out = AdaptiveAugment(p=1.0)(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert ((out - x).flatten(1).abs().amax(1) > 1e-3).all()
    assert len({tuple(sample.flatten().tolist()) for sample in out}) == 16


@pytest.mark.parametrize("op", ADA_OPS)
def test_each_ada_op_is_differentiable(op):
    augment = AdaptiveAugment(p=1.0, adaptive=False, ops=op)
    x = images(6, height=8, width=8, seed=1).double().requires_grad_(True)

    def seeded(inputs: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)
        return augment(inputs)

    out = seeded(x)
    assert (out - x).abs().amax() > 1e-3, f"{op} left every image as it was"
    assert torch.autograd.gradcheck(seeded, (x,), fast_mode=True)
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_second_derivatives_pass_through_both_augmentations():
    # R1 and the gradient penalty differentiate D(augment(x)) w.r.t. x, then that gradient w.r.t. D
    weight = torch.randn(3, 8, 8, requires_grad=True)
    for augment in (DiffAugment(), AdaptiveAugment(p=1.0)):
        x = images(4, height=8, width=8).requires_grad_(True)
        scores = (augment(x) * weight).flatten(1).sum(1) ** 2
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
        (second,) = torch.autograd.grad(grad.pow(2).sum(), weight)
        assert torch.isfinite(second).all() and second.abs().sum() > 0


def test_ada_under_autocast_computes_its_transforms_in_float32():
    x = images(8)
    torch.manual_seed(0)
    plain = AdaptiveAugment(p=1.0)(x)
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = AdaptiveAugment(p=1.0)(x)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)
    torch.manual_seed(0)
    half = AdaptiveAugment(p=1.0)(x.bfloat16())
    assert half.dtype == torch.bfloat16 and torch.allclose(half.float(), plain, atol=0.05)


def test_ada_blit_ops_flip_turn_and_move_whole_pixels():
    x = images(64, height=16, width=16)
    torch.manual_seed(0)
    flipped = AdaptiveAugment(p=1.0, ops="xflip")(x)
    torch.manual_seed(0)
    turned = AdaptiveAugment(p=1.0, ops="rotate90")(x)
    # like the reference's, flips and quarter turns pass through the sym6 resampling, whose filter is
    # not symmetric: the mirror or turned image up to a mean error of at most 0.11 here (others: >= 0.59)
    near = lambda a, b: (a - b).abs().mean() < 0.25
    kinds = [[near(f, i), near(f, i.flip(-1))].index(True) for f, i in zip(flipped, x)]
    assert set(kinds) == {0, 1}  # a flip with probability 1/2
    turns = [[near(t, i.rot90(k, dims=(1, 2))) for k in range(4)].index(True) for t, i in zip(turned, x)]
    assert set(turns) == {0, 1, 2, 3}
    close = lambda a, b: torch.allclose(a, b, atol=1e-5)
    torch.manual_seed(0)
    moved = AdaptiveAugment(p=1.0, ops="xint")(x)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")  # round(0.125 * 16) = 2 px at most
    shifts = [
        [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if close(m, p[:, 2 - dy : 18 - dy, 2 - dx : 18 - dx])]
        for m, p in zip(moved, padded)
    ]
    assert all(len(found) == 1 for found in shifts)  # whole pixels, reflected at the border
    assert {f[0][0] for f in shifts} == {f[0][1] for f in shifts} == set(range(-2, 3))  # the whole range


def test_ada_color_ops_follow_their_formulas():
    x = images(64)
    grey = lambda t: t.mean(dim=1)
    for op in ("hue", "saturation"):  # both act on the colours around the luma axis only
        torch.manual_seed(0)
        out = AdaptiveAugment(p=1.0, ops=op)(x)
        assert torch.allclose(grey(out), grey(x), atol=1e-5) and not torch.allclose(out, x)
    torch.manual_seed(0)
    hue = AdaptiveAugment(p=1.0, ops="hue")(x)  # a rotation: the chroma's length is kept
    chroma = lambda t: (t - t.mean(dim=1, keepdim=True)).norm(dim=1)
    assert torch.allclose(chroma(hue), chroma(x), atol=1e-5)
    torch.manual_seed(0)
    flipped = AdaptiveAugment(p=1.0, ops="lumaflip")(x)  # c - 2 v v^T c: the grey level negated
    negated = x - 2 * x.mean(dim=1, keepdim=True)
    kinds = [
        [torch.allclose(f, i, atol=1e-6), torch.allclose(f, n, atol=1e-5)].index(True)
        for f, i, n in zip(flipped, x, negated)
    ]
    assert set(kinds) == {0, 1}
    torch.manual_seed(0)
    bright = AdaptiveAugment(p=1.0, ops="brightness")(x) - x
    assert torch.allclose(bright, bright[:, :1, :1, :1].expand_as(bright), atol=1e-6)
    assert 0.1 < bright[:, 0, 0, 0].std() < 0.3  # N(0, 0.2)
    torch.manual_seed(0)
    ratio = AdaptiveAugment(p=1.0, ops="contrast")(x) / x
    assert torch.allclose(ratio, ratio[:, :1, :1, :1].expand_as(ratio), rtol=1e-4)
    assert 0.35 < ratio[:, 0, 0, 0].log2().std() < 0.65  # 2^N(0, 0.5)


def test_ada_on_grey_images_and_other_channel_counts():
    grey = images(8, channels=1)
    torch.manual_seed(0)
    assert AdaptiveAugment(p=1.0)(grey).shape == grey.shape
    assert torch.equal(AdaptiveAugment(p=1.0, ops="hue,saturation")(grey), grey)  # no color to turn
    with pytest.raises(ValueError, match="1- or 3-channel images; got 4 channels"):
        AdaptiveAugment(p=0.5)(images(2, channels=4))
    assert AdaptiveAugment(p=0.5, ops="bg")(images(2, channels=4)).shape == (2, 4, 16, 16)


def test_both_build_from_a_yaml_config_as_in_the_docs():
    import jsonargparse

    def model(augment: torch.nn.Module | None = None) -> None: ...

    parser = jsonargparse.ArgumentParser()
    parser.add_function_arguments(model, "model.init_args")
    config = parser.parse_string(
        """
        model:
          init_args:
            augment:
              class_path: lightning_gan.augment.AdaptiveAugment
              init_args: {target: 0.7, interval: 8, speed_kimg: 100, ops: "blit,color"}
        """
    )
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    augment = instantiate(config).model.init_args.augment
    assert isinstance(augment, AdaptiveAugment) and (augment.target, augment.interval) == (0.7, 8)
    assert augment.ops == ("xflip", "rotate90", "xint", "brightness", "contrast", "lumaflip", "hue", "saturation")
    config = parser.parse_string("model: {init_args: {augment: {class_path: lightning_gan.augment.DiffAugment}}}")
    assert instantiate(config).model.init_args.augment.policy == ("color", "translation", "cutout")


def logits(positive: int, negative: int) -> torch.Tensor:
    return torch.cat([torch.rand(positive) + 0.1, -torch.rand(negative) - 0.1])


def test_p_moves_by_images_over_speed_every_interval_and_stays_at_least_zero():
    # 4 calls, 32 images, speed_kimg 0.128: a step of 32 / 128 = 0.25 exactly
    augment = AdaptiveAugment(target=0.6, interval=4, speed_kimg=0.128, p=0.5)
    sizes = (4, 12, 8, 8)
    for size in sizes[:3]:
        assert set(augment.update(logits(size, 0))) == {"train/augment_p"}  # no r_t measured yet
    report = augment.update(logits(sizes[3], 0))
    assert augment.p == 0.75 and report["train/r_t"].item() == 1.0 and report["train/augment_p"].item() == 0.75
    assert set(augment.update(logits(8, 0))) == {"train/augment_p", "train/r_t"}  # the last r_t, until the next
    for _ in range(3):
        augment.update(logits(8, 0))
    assert augment.p == 1.0
    for _ in range(4):
        augment.update(logits(8, 0))
    assert augment.p == 1.25  # above 1 as in stylegan2-ada: every op then applies to every image
    for _ in range(4):  # r_t = (5 - 3) / 8 = 0.25 < 0.6: down
        report = augment.update(logits(5, 3))
    assert augment.p == 1.0 and report["train/r_t"].item() == 0.25
    for _ in range(5 * 4):
        augment.update(logits(0, 8))
    assert augment.p == 0.0  # 1.0 - 5 * 0.25 = -0.25, clamped at 0
    level = AdaptiveAugment(target=0.5, interval=1, speed_kimg=0.008, p=0.5)
    level.update(logits(6, 2))  # r_t == target: p stays
    assert level.p == 0.5 and level.r_t == 0.5


def test_fixed_p_only_measures():
    augment = AdaptiveAugment(interval=2, speed_kimg=0.001, p=0.3, adaptive=False)
    for _ in range(4):
        report = augment.update(logits(8, 0))
    assert augment.p == pytest.approx(0.3) and report["train/r_t"].item() == 1.0
    assert report["train/augment_p"].dtype == torch.float32 and report["train/augment_p"].dim() == 0


def test_p_property_and_setter():
    augment = AdaptiveAugment(p=0.25)
    assert isinstance(augment.p, float) and augment.p == 0.25 and math.isnan(augment.r_t)
    augment.p = 0.5
    assert augment.p == 0.5
    with pytest.raises(ValueError, match="got 2"):
        augment.p = 2


def test_state_dict_round_trip_continues_bitwise():
    torch.manual_seed(0)
    steps = [torch.randn(8) + 0.5 for _ in range(14)]
    running = AdaptiveAugment(interval=4, speed_kimg=0.05, p=0.2)
    for step in steps[:6]:  # one adjustment, then two calls into the next interval
        running.update(step)
    buffer = io.BytesIO()
    torch.save(running.state_dict(), buffer)
    buffer.seek(0)
    resumed = AdaptiveAugment(interval=4, speed_kimg=0.05)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert set(running.state_dict()) == {"_p", "_r_t", "_sign_sum", "_count", "_extra_state"}
    assert torch.equal(bits(resumed._p), bits(running._p)) and resumed.p != 0.2
    for step in steps[6:]:
        a, b = running.update(step), resumed.update(step)
        assert a.keys() == b.keys() and all(torch.equal(bits(a[k]), bits(b[k])) for k in a)
    for key, value in running.state_dict().items():
        other = resumed.state_dict()[key]
        assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
    x = images(4)
    torch.manual_seed(1)
    first = running(x)
    torch.manual_seed(1)
    assert torch.equal(first, resumed(x))


def test_checkpoints_can_rebuild_both_from_their_record():
    from lightning_gan.nets import build_network

    for augment in (DiffAugment("translation,cutout", cutout_ratio=0.25), AdaptiveAugment(0.7, 8, ops="bg")):
        rebuilt = build_network(augment.init_spec)
        assert type(rebuilt) is type(augment) and rebuilt.extra_repr() == augment.extra_repr()
