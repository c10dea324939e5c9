"""Differentiable augmentation of every image the discriminator sees: DiffAugment and ADA.

With a few hundred or thousand training images the discriminator memorizes them and its
feedback to the generator turns to noise. Augmenting *every* image D sees, real and generated,
in both the discriminator and the generator phase, with operations that are differentiable
w.r.t. the image, keeps D from memorizing without leaking the augmentations into the generated
distribution (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training";
Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data").

- :class:`DiffAugment`: a fixed policy of color, translation and cutout applied to every image.
- :class:`AdaptiveAugment` (ADA): the 'bgc' pipeline of stylegan2-ada, each operation applied
  to each image with probability ``p``, and ``p`` adapted from the discriminator's overfitting
  heuristic ``r_t = E[sign(D(x_real))]`` through :meth:`AdaptiveAugment.update`.

Both take images ``(B, C, H, W)`` (the package's images are in ``[-1, 1]``) and return a tensor of
the same shape, dtype and device. Both are :class:`~lightning_gan.nets.Recordable` modules: a
``GANModule`` checkpoint records their constructor arguments and rebuilds them on loading. Random
draws come from torch's global generator on the images' device (``seed_everything`` makes them
repeatable). See ``docs/augment.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_gan._validate import check_int
from lightning_gan.nets import Recordable

__all__ = ["ADA_OPS", "ADA_PRESETS", "DIFF_AUGMENT_POLICIES", "AdaptiveAugment", "DiffAugment"]


def _check_images(x: Any, who: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{who} takes images of shape (B, C, H, W); got {shape}")


def _split_names(spec: str | Iterable[str], what: str) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (empty entries dropped)."""
    if isinstance(spec, str):
        spec = spec.split(",")
    try:
        return [name.strip() for name in spec if name.strip()]
    except (TypeError, AttributeError):
        raise ValueError(f"{what} must be a comma-separated string of names; got {spec!r}") from None


# ----------------------------------------------------------------------------------- DiffAugment


def _per_sample_uniform(x: Tensor, low: float, high: float) -> Tensor:
    """One draw from ``U(low, high)`` per sample, shaped ``(B, 1, 1, 1)`` to broadcast over an image."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * (high - low) + low


def _brightness(x: Tensor) -> Tensor:
    """``x + b`` with ``b ~ U(-0.5, 0.5)`` per sample."""
    return x + _per_sample_uniform(x, -0.5, 0.5)


def _saturation(x: Tensor) -> Tensor:
    """``(x - m) * s + m`` with ``m`` the mean over channels at each pixel and ``s ~ U(0, 2)`` per sample."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _per_sample_uniform(x, 0.0, 2.0) + mean


def _contrast(x: Tensor) -> Tensor:
    """``(x - m) * c + m`` with ``m`` the mean of the whole image and ``c ~ U(0.5, 1.5)`` per sample."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_sample_uniform(x, 0.5, 1.5) + mean


def _translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by whole pixels, ``dy, dx`` uniform in ``[-n, n]``, ``n = round(ratio * side)`` (halves up).

    ``out[i, j] = x[i + dy, j + dx]`` (the reference's sign), and zero where that pixel lies outside the image.
    """
    batch, channels, height, width = x.shape
    max_y, max_x = int(height * ratio + 0.5), int(width * ratio + 0.5)  # the reference's rounding
    dy = torch.randint(-max_y, max_y + 1, (batch, 1), device=x.device)
    dx = torch.randint(-max_x, max_x + 1, (batch, 1), device=x.device)
    padded = F.pad(x, (max_x, max_x, max_y, max_y))  # zeros around: what slides in is zero
    rows = torch.arange(height, device=x.device) + max_y + dy  # (B, H), rows of `padded`
    cols = torch.arange(width, device=x.device) + max_x + dx  # (B, W)
    out = padded.gather(2, rows[:, None, :, None].expand(batch, channels, height, padded.shape[3]))
    return out.gather(3, cols[:, None, None, :].expand(batch, channels, height, width))


def _cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one ``h x w = round(ratio * H) x round(ratio * W)`` rectangle (halves up) per image at a random
    centre, clipped at the borders.

    The centre is a whole pixel, uniform over ``[0, H]`` for an even side and ``[0, H - 1]`` for an odd
    one (so the rectangle overhangs either border equally often); the rectangle covers rows
    ``[cy - h // 2, cy - h // 2 + h)``, likewise for columns.
    """
    batch, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)  # the reference's rounding
    top = torch.randint(0, height + 1 - size_y % 2, (batch, 1), device=x.device) - size_y // 2
    left = torch.randint(0, width + 1 - size_x % 2, (batch, 1), device=x.device) - size_x // 2
    rows = torch.arange(height, device=x.device)
    cols = torch.arange(width, device=x.device)
    in_rows = (rows >= top) & (rows < top + size_y)  # (B, H)
    in_cols = (cols >= left) & (cols < left + size_x)  # (B, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # (B, H, W)
    return x * keep[:, None].to(x.dtype)


DIFF_AUGMENT_POLICIES: tuple[str, ...] = ("color", "translation", "cutout")
"""DiffAugment's policy names."""


class DiffAugment(Recordable):
    """DiffAugment (Zhao et al. 2020): the same random color, translation and cutout for every image D sees.

    The policy is applied in the order given; each random quantity is drawn independently for
    each sample:

    - ``color``: brightness ``x + b``, ``b ~ U(-0.5, 0.5)``; then saturation
      ``(x - mean_c(x)) * s + mean_c(x)``, ``s ~ U(0, 2)``, around each pixel's mean over channels;
      then contrast ``(x - mean(x)) * c + mean(x)``, ``c ~ U(0.5, 1.5)``, around the image's mean.
    - ``translation``: ``out[i, j] = x[i + dy, j + dx]`` (the reference's sign), zero outside, whole pixels
      ``dy ~ U{-n_H, ..., n_H}``, ``dx ~ U{-n_W, ..., n_W}``, ``n = int(translation_ratio * side + 0.5)``
      (4 px on a 32 px side).
    - ``cutout``: one ``int(cutout_ratio * H + 0.5) x int(cutout_ratio * W + 0.5)`` rectangle set to zero, its
      centre a uniformly drawn pixel, clipped where it overhangs the border.

    These are the ranges of the reference implementation (mit-han-lab/data-efficient-gans,
    ``DiffAugment_pytorch.py``). Every operation is differentiable w.r.t. the images, so the
    generator learns through it in the generator phase.

    Args:
        policy: comma-separated names from ``color``, ``translation``, ``cutout``; ``""`` is the identity.
        translation_ratio: the largest shift as a fraction of each side.
        cutout_ratio: the side of the cut rectangle as a fraction of each side.

    Raises:
        ValueError: an unknown policy name (the message lists the known ones) or a ratio outside ``[0, 1]``.
    """

    def __init__(
        self, policy: str = "color,translation,cutout", *, translation_ratio: float = 0.125, cutout_ratio: float = 0.5
    ) -> None:
        super().__init__()
        names = _split_names(policy, "DiffAugment's policy")
        unknown = [name for name in names if name not in DIFF_AUGMENT_POLICIES]
        if unknown:
            raise ValueError(
                f"unknown DiffAugment policy {', '.join(map(repr, unknown))} in policy={policy!r}; "
                f"the policies are {', '.join(DIFF_AUGMENT_POLICIES)} (comma-separated)"
            )
        for label, ratio in (("translation_ratio", translation_ratio), ("cutout_ratio", cutout_ratio)):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"DiffAugment's {label} must lie in [0, 1]; got {ratio!r}")
        self.policy: tuple[str, ...] = tuple(names)
        self.translation_ratio = float(translation_ratio)
        self.cutout_ratio = float(cutout_ratio)

    def forward(self, x: Tensor) -> Tensor:
        """Augment ``x`` ``(B, C, H, W)``: a new tensor of the same shape, dtype and device."""
        _check_images(x, "DiffAugment")
        for name in self.policy:
            if name == "color":
                x = _contrast(_saturation(_brightness(x)))
            elif name == "translation":
                x = _translation(x, self.translation_ratio)
            else:
                x = _cutout(x, self.cutout_ratio)
        return x

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)!r}"


# ------------------------------------------------------------------------------------------- ADA

_BLIT = ("xflip", "rotate90", "xint")
_GEOM = ("scale", "rotate", "aniso", "xfrac")
_COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
ADA_OPS: tuple[str, ...] = _BLIT + _GEOM + _COLOR
"""The operations of :class:`AdaptiveAugment`, in the order they are composed."""
ADA_PRESETS: dict[str, tuple[str, ...]] = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "bg": _BLIT + _GEOM,
    "bgc": ADA_OPS,
}
"""Groups of operations ``ops=`` accepts besides single operation names (stylegan2-ada's preset names)."""
_GEOMETRIC = frozenset(_BLIT + _GEOM)


def _batch_eye(n: int, batch: int, like: Tensor) -> Tensor:
    return torch.eye(n, dtype=like.dtype, device=like.device).repeat(batch, 1, 1)


def _scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    m = _batch_eye(3, sx.shape[0], sx)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate2d(cos: Tensor, sin: Tensor) -> Tensor:
    m = _batch_eye(3, cos.shape[0], cos)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
    return m


def _translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    m = _batch_eye(3, tx.shape[0], tx)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


# stylegan2-ada's geometric filter: the 12-tap sym6 wavelet low-pass (PyWavelets' coefficients)
_SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip


def _geometric_inverse(params: dict[str, Tensor], height: int, width: int) -> Tensor:
    """``(B, 3, 3)``: for each image, the map from an output pixel to the input pixel it samples
    (pixel units about the image centre), composed in stylegan2-ada's order from per-image
    parameters, identity values where an op does not apply: ``xflip`` ``i`` in {0, 1},
    ``rotate90`` ``k`` in {0, 1, 2, 3}, ``xint`` ``t`` (B, 2) in image sides (rounded to whole
    pixels), ``scale`` ``s``, ``rotate_pre`` ``theta``, ``aniso`` ``s``, ``rotate_post`` ``theta``,
    ``xfrac`` ``t`` (B, 2) in image sides. The image moves by the inverse of this map: a positive
    ``t`` moves the content right and down, a ``theta`` rotates it by ``-theta``."""
    i = params["xflip"]
    inverse = _scale2d(1 - 2 * i, torch.ones_like(i))
    angle = params["rotate90"] * (math.pi / 2)  # cos and sin rounded to exact 0 and +-1: no blur from -4e-8
    inverse = inverse @ _rotate2d(torch.cos(angle).round(), torch.sin(angle).round())
    t = params["xint"]
    inverse = inverse @ _translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height))
    s = params["scale"]
    inverse = inverse @ _scale2d(1 / s, 1 / s)
    theta = params["rotate_pre"]
    inverse = inverse @ _rotate2d(torch.cos(theta), torch.sin(theta))
    s = params["aniso"]
    inverse = inverse @ _scale2d(1 / s, s)
    theta = params["rotate_post"]
    inverse = inverse @ _rotate2d(torch.cos(theta), torch.sin(theta))
    t = params["xfrac"]
    return inverse @ _translate2d(-t[:, 0] * width, -t[:, 1] * height)


@functools.lru_cache(maxsize=16)
def _sym6_taps(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The sym6 filter normalized to sum 1, made once per dtype and device (no host copy per call)."""
    taps = torch.tensor(_SYM6, dtype=torch.float64, device=device)
    return taps.to(dtype) / taps.sum()


@functools.lru_cache(maxsize=128)
def _upsampling_matrix(size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(size, 2 size)``: ``x @ U`` is upfirdn2d's 2x upsampling of rows ``x`` with the sym6 taps:
    zeros between the samples, ``(k + 1) // 2`` zeros before and ``(k - 2) // 2`` after, convolution
    with ``2 * taps``. ``U[i, j] = 2 taps[k - 1 - (2 i - j + k // 2)]`` where the index is in range.
    Made once per size, dtype and device."""
    taps = _sym6_taps(dtype, device)
    k = len(taps)
    offset = 2 * torch.arange(size, device=device)[:, None] - torch.arange(2 * size, device=device) + k // 2
    inside = (offset >= 0) & (offset < k)
    return torch.where(inside, 2 * taps.flip(0)[offset.clamp(0, k - 1)], 0.0)


@functools.lru_cache(maxsize=128)
def _downsampling_matrix(size: int, crop: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(size, out)``: ``x @ D`` is upfirdn2d's 2x downsampling of rows ``x`` with the sym6 taps
    (not flipped) after cropping ``crop`` samples from each end: ``D[q, o] = taps[q - crop - 2 o]``.
    Made once per size, crop, dtype and device."""
    taps = _sym6_taps(dtype, device)
    k = len(taps)
    out = (size - 2 * crop - k) // 2 + 1
    offset = torch.arange(size, device=device)[:, None] - crop - 2 * torch.arange(out, device=device)
    inside = (offset >= 0) & (offset < k)
    return torch.where(inside, taps[offset.clamp(0, k - 1)], 0.0)


def _upsample2x(images: Tensor, *, by_matrix: bool) -> Tensor:
    """upfirdn2d's 2x upsampling of ``images`` ``(N, H, W)`` with the sym6 taps along both axes: ``(N, 2H, 2W)``.

    ``by_matrix``: as products with banded matrices (many times faster than a 12-tap convolution on
    a CPU); else as strided transposed convolutions (zeros between the samples and the filter in
    one, ``weight 2 * taps``, padding ``k // 2 - 1``), which scale with the side rather than its
    square (accelerators, large images).
    """
    height, width = images.shape[1:]
    dtype, device = images.dtype, images.device
    if by_matrix:
        return _upsampling_matrix(height, dtype, device).t() @ (images @ _upsampling_matrix(width, dtype, device))
    taps = _sym6_taps(dtype, device)
    k = len(taps)
    weight = 2 * taps.reshape(1, 1, 1, k)
    out = F.conv_transpose2d(images[:, None], weight, stride=(1, 2), padding=(0, k // 2 - 1))
    return F.conv_transpose2d(out, weight.transpose(2, 3), stride=(2, 1), padding=(k // 2 - 1, 0))[:, 0]


def _downsample2x(images: Tensor, crop: int, *, by_matrix: bool) -> Tensor:
    """upfirdn2d's 2x downsampling of ``images`` ``(N, H, W)`` with the sym6 taps (not flipped) after
    cropping ``crop`` samples from each end of both axes; ``by_matrix`` as :func:`_upsample2x`."""
    height, width = images.shape[1:]
    dtype, device = images.dtype, images.device
    if by_matrix:
        down_h, down_w = (
            _downsampling_matrix(height, crop, dtype, device),
            _downsampling_matrix(width, crop, dtype, device),
        )
        return down_h.t() @ (images @ down_w)
    taps = _sym6_taps(dtype, device)
    k = len(taps)
    weight = taps.reshape(1, 1, 1, k)
    cropped = images[:, None, crop : height - crop, crop : width - crop]
    out = F.conv2d(cropped, weight, stride=(1, 2))
    return F.conv2d(out, weight.transpose(2, 3), stride=(2, 1))[:, 0]


def _reference_padding(inverse: Tensor, height: int, width: int, reach: int) -> tuple[int, int, int, int]:
    """stylegan2-ada's padding ``(left, right, top, bottom)``: as far as the output's corners map into
    the input over the whole batch, plus ``2 * reach`` pixels for the filters, within ``[0, side - 1]``.
    Read back from the device: one host synchronization per call (none on a CPU; on the meta
    device, which has no values, the most it can be)."""
    if inverse.device.type == "meta":
        return width - 1, width - 1, height - 1, height - 1
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = torch.tensor(
        [[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1.0] * 4], dtype=inverse.dtype, device=inverse.device
    )
    reached = (inverse @ corners)[:, :2, :].permute(1, 0, 2).flatten(1)  # (x and y, B * 4)
    left, top, right, bottom = torch.cat([-reached, reached]).amax(dim=1).tolist()
    sides = (width - 1, height - 1, width - 1, height - 1)
    centres = (cx, cy, cx, cy)
    left, top, right, bottom = (
        math.ceil(min(max(m + 2 * reach - c, 0.0), side))
        for m, c, side in zip((left, top, right, bottom), centres, sides)
    )
    return left, right, top, bottom


def _resample(x: Tensor, inverse: Tensor, *, by_matrix: bool | None = None) -> Tensor:
    """Warp ``x`` ``(B, C, H, W)`` by ``inverse`` (output pixel -> input pixel, as
    :func:`_geometric_inverse`) as stylegan2-ada does, so that sub-pixel moves keep fine detail:
    reflect-pad, upsample 2x with the sym6 low-pass, sample bilinearly at the mapped positions
    (zeros beyond the padding), filter with sym6 again and take every second pixel. With the
    whole-pixel ops alone the result equals a whole-pixel move up to rounding (sym6 is orthogonal:
    upsampling and downsampling with it give back the image).

    The padding is the reference's: as far as the batch's transforms reach (:func:`_reference_padding`),
    read back from the device once per call as the reference does. The separable filters run as
    banded matrix products on the CPU and as convolutions elsewhere (``by_matrix``, by default
    ``x`` on the CPU): the same numbers up to rounding. The filter and its matrices are made once per
    size, dtype and device.
    """
    batch, channels, height, width = x.shape
    by_matrix = x.device.type == "cpu" if by_matrix is None else by_matrix
    reach = len(_SYM6) // 4  # 3 px: the filters' reach at 1x, kept around the output and cropped at the end
    left, right, top, bottom = _reference_padding(inverse, height, width, reach)
    zero, one = inverse.new_zeros(batch), inverse.new_ones(batch)
    inverse = _translate2d(zero + (left - right) / 2, zero + (top - bottom) / 2) @ inverse  # the padded centre
    images = x.reshape(batch * channels, 1, height, width)
    if left or right or top or bottom:
        images = F.pad(images, (left, right, top, bottom), mode="reflect")
    images = _upsample2x(images[:, 0], by_matrix=by_matrix)  # gain 2 per axis, aligned as upsample2d
    in_h, in_w = images.shape[-2:]
    # sampling grid: output pixels of the 2x image with `reach` px margin, in affine_grid's [-1, 1] units
    out_h, out_w = 2 * (height + 2 * reach), 2 * (width + 2 * reach)
    half = _translate2d(zero - 0.5, zero - 0.5)  # 2x pixel centres sit half a 2x pixel off the 1x ones
    unhalf = _translate2d(zero + 0.5, zero + 0.5)
    matrix = half @ _scale2d(2 * one, 2 * one) @ inverse @ _scale2d(one / 2, one / 2) @ unhalf
    matrix = _scale2d(2 / in_w * one, 2 / in_h * one) @ matrix @ _scale2d(out_w / 2 * one, out_h / 2 * one)
    grid = F.affine_grid(matrix[:, :2], [batch, channels, out_h, out_w], align_corners=False)
    images = F.grid_sample(
        images.reshape(batch, channels, in_h, in_w), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    ).reshape(batch * channels, out_h, out_w)
    # back to 1x: the filter (not flipped), every second sample, the margin cropped (upfirdn2d's
    # downsample2d with padding -2 * reach)
    crop = 2 * reach - (len(_SYM6) - 1) // 2
    return _downsample2x(images, crop, by_matrix=by_matrix).reshape(batch, channels, height, width)


def _color_matrix(params: dict[str, Tensor]) -> Tensor:
    """``(B, 4, 4)``: the color ops composed in stylegan2-ada's order, acting on ``(r, g, b, 1)``,
    from per-image parameters (identity values where an op does not apply): ``brightness`` ``b``
    (added), ``contrast`` ``c`` (multiplied), ``lumaflip`` ``i`` in {0, 1}, ``hue`` ``theta``
    (rotation about the luma axis ``v``), ``saturation`` ``s`` (scales the colour off the axis)."""
    b = params["brightness"]
    like = b
    eye4 = _batch_eye(4, b.shape[0], like)
    # v = (1, 1, 1, 0) / sqrt(3), the luma axis; constants built in place: no host-to-device copy
    vv = like.new_zeros(4, 4)
    vv[:3, :3] = 1 / 3  # v v^T: projection onto the grey axis
    corner = like.new_zeros(4, 4)
    corner[3, 3] = 1.0  # keeps the homogeneous coordinate at 1
    chroma = torch.eye(4, dtype=like.dtype, device=like.device) - vv - corner  # projection across the grey axis
    matrix = eye4.clone()
    matrix[:, :3, 3] = b[:, None]
    contrast = eye4.clone()
    contrast[:, :3, :3] *= params["contrast"][:, None, None]
    matrix = contrast @ matrix
    matrix = (eye4 - 2 * vv * params["lumaflip"][:, None, None]) @ matrix
    theta = params["hue"][:, None, None]
    cross = like.new_zeros(4, 4)  # [v]_x: cross @ c = v x c
    a = 1 / math.sqrt(3)
    cross[0, 1], cross[1, 2], cross[2, 0] = -a, -a, -a
    cross[0, 2], cross[1, 0], cross[2, 1] = a, a, a
    # Rodrigues: v v^T + (I - v v^T) cos(theta) + [v]_x sin(theta), on (r, g, b)
    matrix = (vv + chroma * torch.cos(theta) + cross * torch.sin(theta) + corner) @ matrix
    return (vv + chroma * params["saturation"][:, None, None] + corner) @ matrix


def _apply_color(x: Tensor, matrix: Tensor) -> Tensor:
    """Apply ``matrix`` ``(B, 4, 4)`` to every pixel of ``x`` ``(B, C, H, W)``, C = 3; one-channel
    images get its grey form (the mean of its r, g, b rows acting on ``(y, y, y, 1)``)."""
    batch, channels, height, width = x.shape
    flat = x.reshape(batch, channels, height * width)
    if channels == 3:
        out = matrix[:, :3, :3] @ flat + matrix[:, :3, 3:]
    else:
        grey = matrix[:, :3, :].mean(dim=1)  # (B, 4)
        out = flat * grey[:, :3].sum(dim=1)[:, None, None] + grey[:, 3, None, None]
    return out.reshape(x.shape)


class AdaptiveAugment(Recordable):
    r"""Adaptive discriminator augmentation (ADA, Karras et al. 2020): stylegan2-ada's 'bgc' pipeline.

    Each enabled operation is applied to each image independently with probability ``p``
    (rotation: before and after the anisotropic scaling, each with ``1 - sqrt(1 - p)``, so that
    one of the two happens with probability ``p``). Parameters, per image, with ``N`` a standard
    normal draw and coordinates in pixels about the image centre:

    ===============  ===========================================================================
    ``xflip``        mirror x with probability 1/2
    ``rotate90``     rotate by ``k * 90`` degrees, ``k ~ U{0, 1, 2, 3}``
    ``xint``         shift by ``round(t * side)`` px, ``t ~ U(-xint_max, xint_max)`` per axis
    ``scale``        scale both axes by ``2^(scale_std * N)``
    ``rotate``       rotate by ``theta ~ U(-pi, pi) * rotate_max``
    ``aniso``        scale x by ``s`` and y by ``1 / s``, ``s = 2^(aniso_std * N)``
    ``xfrac``        shift by ``xfrac_std * N * side`` px per axis
    ``brightness``   add ``brightness_std * N`` to every channel
    ``contrast``     multiply by ``2^(contrast_std * N)`` (about 0, mid-grey for images in [-1, 1])
    ``lumaflip``     with probability 1/2 reflect colors about the plane normal to the luma axis
                     ``v = (1, 1, 1) / sqrt(3)``: ``c -> (I - 2 v v^T) c``
    ``hue``          rotate colors about ``v`` by ``theta ~ U(-pi, pi) * hue_max``
    ``saturation``   ``c -> (v v^T + (I - v v^T) * 2^(saturation_std * N)) c``
    ===============  ===========================================================================

    The geometric operations (the first seven) are composed into one affine matrix per image and
    the image is resampled once as stylegan2-ada does: padded by reflection, upsampled 2x with the
    sym6 wavelet low-pass, sampled bilinearly, filtered and downsampled 2x again, so that sub-pixel
    moves keep the image's fine detail (an image no op moved comes back exactly); the color
    operations are composed into one 4x4 matrix per image. One-channel
    images get the grey form of the color matrix, without hue and saturation. The strengths are
    the class attributes below (stylegan2-ada's defaults); change them on a subclass.

    ``p`` adapts through :meth:`update`, called once per discriminator step with that step's
    logits on real images: every ``interval`` calls, with ``r_t`` the mean of ``sign(D(x_real))``
    over the images of those calls on all processes and ``n`` their number,

    .. math::  p \leftarrow \max\big(p + \mathrm{sign}(r_t - \mathrm{target}) \cdot
               n / (1000 \cdot \mathrm{speed\_kimg}),\ 0\big)

    so ``p`` can go from 0 to 1 in ``speed_kimg`` thousand real images; as in stylegan2-ada it may
    rise above 1, where every op applies to every image and both rotations happen. ``p``, the running sums and the
    last ``r_t`` are buffers (in ``state_dict``, hence in checkpoints; a resumed run continues
    bitwise); the position within the interval is module extra state.

    Args:
        target: the ``r_t`` that ``p`` is steered to (0.6 in the ADA paper), in ``(0, 1]``.
        interval: discriminator steps between adjustments of ``p``, an int ``>= 1``.
        speed_kimg: thousands of real images for ``p`` to travel from 0 to 1, ``> 0``.
        p: the starting (or, with ``adaptive=False``, fixed) probability, in ``[0, 1]``.
        adaptive: adapt ``p``; with ``False`` :meth:`update` only measures and reports.
        ops: the enabled operations: comma-separated names from :data:`ADA_OPS` or presets from
            :data:`ADA_PRESETS` (``"bgc"``: all twelve; ``"blit"``, ``"geom"``, ``"color"``, ``"bg"``);
            a list of names works too.

    Raises:
        ValueError: an argument out of range or an unknown operation, named in the message.
        TypeError: ``adaptive`` is not a bool.
    """

    xint_max: float = 0.125
    scale_std: float = 0.2
    rotate_max: float = 1.0
    aniso_std: float = 0.2
    xfrac_std: float = 0.125
    brightness_std: float = 0.2
    contrast_std: float = 0.5
    hue_max: float = 1.0
    saturation_std: float = 1.0

    _p: Tensor
    _r_t: Tensor
    _sign_sum: Tensor
    _count: Tensor

    def __init__(
        self,
        target: float = 0.6,
        interval: int = 4,
        speed_kimg: float = 500,
        p: float = 0.0,
        adaptive: bool = True,
        *,
        ops: str | Iterable[str] = "bgc",
    ) -> None:
        super().__init__()
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0.0 < target <= 1.0:
            raise ValueError(f"AdaptiveAugment's target must lie in (0, 1] (r_t = E[sign(D(real))]); got {target!r}")
        check_int("interval", interval, 1, owner="AdaptiveAugment")  # discriminator steps
        if (
            isinstance(speed_kimg, bool)
            or not isinstance(speed_kimg, (int, float))
            or not math.isfinite(speed_kimg)
            or speed_kimg <= 0
        ):
            raise ValueError(f"AdaptiveAugment's speed_kimg must be a finite number > 0; got {speed_kimg!r}")
        self._check_p(p)
        if not isinstance(adaptive, bool):
            raise TypeError(f"AdaptiveAugment's adaptive must be True or False; got {adaptive!r}")
        names = _split_names(ops, "AdaptiveAugment's ops")
        unknown = [name for name in names if name not in ADA_OPS and name not in ADA_PRESETS]
        if unknown:
            raise ValueError(
                f"unknown AdaptiveAugment op {', '.join(map(repr, unknown))} in ops={ops!r}; the ops are "
                f"{', '.join(ADA_OPS)} and the presets {', '.join(ADA_PRESETS)} (comma-separated)"
            )
        enabled = {op for name in names for op in ADA_PRESETS.get(name, (name,))}
        self.ops: tuple[str, ...] = tuple(op for op in ADA_OPS if op in enabled)
        self.target = float(target)
        self.interval = interval
        self.speed_kimg = float(speed_kimg)
        self.adaptive = adaptive
        self.register_buffer("_p", torch.tensor(float(p), dtype=torch.float32))
        self.register_buffer("_r_t", torch.tensor(float("nan"), dtype=torch.float32))  # none measured yet
        self.register_buffer("_sign_sum", torch.zeros((), dtype=torch.int64))  # sum of sign(D(real)) ...
        self.register_buffer("_count", torch.zeros((), dtype=torch.int64))  # ... over this many images
        self._calls = 0  # update() calls since p was last adjusted
        self._measured = False  # whether an interval has completed (r_t exists)

    # ------------------------------------------------------------------ the probability
    @staticmethod
    def _check_p(p: Any) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"AdaptiveAugment's p must lie in [0, 1]; got {p!r}")

    @property
    def p(self) -> float:
        """The current probability of each operation (reading it waits for the device)."""
        return float(self._p)

    @p.setter
    def p(self, value: float) -> None:
        self._check_p(value)
        self._p.fill_(float(value))

    @property
    def r_t(self) -> float:
        """The last measured ``r_t = E[sign(D(x_real))]``; NaN before the first interval completes."""
        return float(self._r_t)

    def get_extra_state(self) -> dict[str, Any]:
        return {"calls": self._calls, "measured": self._measured}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._calls = int(state["calls"])
        self._measured = bool(state["measured"])

    # ------------------------------------------------------------------ adaptation
    @torch.no_grad()
    def update(self, real_logits: Tensor) -> dict[str, Tensor]:
        """Count one discriminator step's logits on real images; adjust ``p`` every ``interval`` calls.

        Call it on every process once per discriminator step (it runs one all-reduce of two
        integers under ``torch.distributed``, so every process holds the same sums, ``r_t`` and ``p``,
        and rank zero's checkpoint holds the whole job's state). No host synchronization.

        Args:
            real_logits: the discriminator's raw scores on this step's real batch, ``(B,)`` (any shape
                works; every element counts as one image).

        Returns:
            ``{"train/augment_p": p}``, plus ``"train/r_t"`` (the last measured ``r_t``) once an
            interval has completed; 0-d float32 tensors on the module's device, ready for ``self.log_dict``.
        """
        logits = real_logits.detach().reshape(-1)
        signs = (logits > 0).sum() - (logits < 0).sum()  # a NaN logit counts as 0
        count = torch.full((), logits.numel(), dtype=torch.int64, device=logits.device)
        stats = torch.stack([signs, count]).to(self._count.device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(stats)
        self._sign_sum += stats[0]
        self._count += stats[1]
        self._calls += 1
        if self._calls >= self.interval:
            total = self._count.to(torch.float32)
            r_t = self._sign_sum.to(torch.float32) / total.clamp_min(1.0)
            if self.adaptive:
                step = torch.sign(r_t - self.target) * total / (self.speed_kimg * 1000.0)
                self._p.copy_((self._p + step).clamp_min(0.0))  # stylegan2-ada's: no upper bound
            self._r_t.copy_(r_t)
            self._sign_sum.zero_()
            self._count.zero_()
            self._calls = 0
            self._measured = True
        report = {"train/augment_p": self._p.clone()}
        if self._measured:
            report["train/r_t"] = self._r_t.clone()
        return report

    # ------------------------------------------------------------------ augmentation
    def forward(self, x: Tensor) -> Tensor:
        """Augment ``x`` ``(B, C, H, W)``; same shape, dtype and device.

        With ``p == 0`` the images come back exactly: the input itself when the module is on the
        CPU; elsewhere (reading ``p`` would stall the device) an exact copy. The transforms are
        computed in float32 (float64 for float64 images) with autocast off: a 16-bit matrix would
        misplace pixels and blur the whole-pixel moves.
        """
        _check_images(x, "AdaptiveAugment")
        if not self.ops or (self._p.device.type == "cpu" and float(self._p) == 0.0):
            return x
        if x.device.type == "meta":  # shapes only; autocast has no meta device
            return self._augment(x)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._augment(x)

    def _augment(self, x: Tensor) -> Tensor:
        work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # matrices and warp in fp32 or fp64
        p = self._p.to(device=x.device, dtype=work.dtype)
        if _GEOMETRIC.intersection(self.ops):
            work = self._geometric(work, p)
        if set(self.ops) - _GEOMETRIC:  # a color op is enabled
            work = self._color(work, p)
        return work.to(x.dtype)

    def _chosen(self, name: str, p: Tensor, like: Tensor) -> Tensor:
        """Per sample ``(B,)``: whether op ``name`` applies (probability ``p``; never if it is not enabled)."""
        chosen = torch.rand(like.shape[0], dtype=like.dtype, device=like.device) < p
        return chosen if name in self.ops else torch.zeros_like(chosen)

    def _geometric(self, x: Tensor, p: Tensor) -> Tensor:
        """Draw the enabled geometric ops per image, compose them into one matrix and resample once."""
        batch, _, height, width = x.shape
        params: dict[str, Tensor] = {}
        moved = torch.zeros(batch, dtype=torch.bool, device=x.device)

        def draw(name: str, value: Tensor, identity: float, chance: Tensor = p, op: str | None = None) -> None:
            nonlocal moved
            chosen = self._chosen(op or name, chance, x)
            params[name] = torch.where(chosen.reshape(-1, *[1] * (value.dim() - 1)), value, identity)
            moved = moved | chosen

        def uniform(*shape: int) -> Tensor:  # U(-1, 1)
            return torch.rand(batch, *shape, dtype=x.dtype, device=x.device) * 2 - 1

        def normal(*shape: int) -> Tensor:
            return torch.randn(batch, *shape, dtype=x.dtype, device=x.device)

        draw("xflip", torch.randint(0, 2, (batch,), device=x.device).to(x.dtype), 0.0)
        draw("rotate90", torch.randint(0, 4, (batch,), device=x.device).to(x.dtype), 0.0)
        draw("xint", uniform(2) * self.xint_max, 0.0)
        draw("scale", torch.exp2(normal() * self.scale_std), 1.0)
        p_rot = 1 - torch.sqrt((1 - p).clamp(0, 1))  # P(pre or post rotation) = p
        pre, aniso, post = uniform(), torch.exp2(normal() * self.aniso_std), uniform()  # drawn before choosing
        draw("rotate_pre", pre * math.pi * self.rotate_max, 0.0, p_rot, op="rotate")
        draw("aniso", aniso, 1.0)
        draw("rotate_post", post * math.pi * self.rotate_max, 0.0, p_rot, op="rotate")
        draw("xfrac", normal(2) * self.xfrac_std, 0.0)
        warped = _resample(x, _geometric_inverse(params, height, width))
        return torch.where(moved[:, None, None, None], warped, x)  # untouched images stay exact

    def _color(self, x: Tensor, p: Tensor) -> Tensor:
        """Draw the enabled color ops per image, compose them into one 4x4 matrix and apply it."""
        batch, channels = x.shape[:2]
        if channels not in (1, 3):
            raise ValueError(
                f"AdaptiveAugment's color ops take 1- or 3-channel images; got {channels} channels "
                f"(leave them out with ops='bg')"
            )
        params: dict[str, Tensor] = {}
        changed = torch.zeros(batch, dtype=torch.bool, device=x.device)
        normal = lambda: torch.randn(batch, dtype=x.dtype, device=x.device)
        for name, value, identity in (
            ("brightness", normal() * self.brightness_std, 0.0),
            ("contrast", torch.exp2(normal() * self.contrast_std), 1.0),
            ("lumaflip", torch.randint(0, 2, (batch,), device=x.device).to(x.dtype), 0.0),
            ("hue", (torch.rand(batch, dtype=x.dtype, device=x.device) * 2 - 1) * math.pi * self.hue_max, 0.0),
            ("saturation", torch.exp2(normal() * self.saturation_std), 1.0),
        ):
            if name in ("hue", "saturation") and channels == 1:
                params[name] = torch.full_like(value, identity)  # they do nothing to grey images
                continue
            chosen = self._chosen(name, p, x)
            params[name] = torch.where(chosen, value, identity)
            changed = changed | chosen
        out = _apply_color(x, _color_matrix(params))
        return torch.where(changed[:, None, None, None], out, x)

    def extra_repr(self) -> str:
        ops = "bgc" if self.ops == ADA_OPS else ",".join(self.ops)
        return (
            f"target={self.target}, interval={self.interval}, speed_kimg={self.speed_kimg}, "
            f"adaptive={self.adaptive}, ops={ops!r}"
        )
