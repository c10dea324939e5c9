"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

The generator maps z through a mapping network to an intermediate latent w, then a synthesis
network grows an image from a learned constant, each layer a convolution *modulated* by a style
taken from w, *demodulated* so its output has unit variance, with per-pixel noise added; every
resolution adds its own RGB output to the up-sampled image of the one before (the "skip"
architecture). The discriminator is residual, with a minibatch standard deviation feature at the
end. Both use the equalized learning rate: weights are stored N(0, 1) and scaled by
``1 / sqrt(fan_in)`` at run time. Resampling uses the [1, 3, 3, 1] low-pass filter.

Facts and formulas follow NVlabs' stylegan2-ada-pytorch (``training/networks.py``,
``training/loss.py``); the code here is written from them in plain PyTorch (no custom CUDA ops),
so every operation supports double backward (R1, path-length regularization).

Images may be non-square: ``(C, H, W)`` with H and W powers of two (>= 4) and an aspect ratio up to
4. The constant is ``4 x 4r`` (or ``4r x 4``), r the aspect ratio, and every resolution keeps it.
Channel widths follow the short side, ``min(channel_base // short_side, channel_max)``, so a
``32 x 64`` network has the widths of a ``32 x 32`` one.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gan._validate import check, check_choice, check_int, check_number
from lightning_gan.nets._layers import needs_labels
from lightning_gan.nets._recordable import Recordable

__all__ = [
    "EqualizedConv2d",
    "EqualizedLinear",
    "MappingNetwork",
    "ModulatedConv2d",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "check_stylegan2_shape",
    "lowpass_filter",
    "minibatch_stddev",
    "modulated_conv2d",
]

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # keeps the second moment of a leaky-ReLU layer's output at that of its input
FILTER_TAPS = (1.0, 3.0, 3.0, 1.0)
MAX_ASPECT = 4


# ---------------------------------------------------------------------------------------- shapes
def check_stylegan2_shape(image_shape: tuple[int, int, int], role: str) -> tuple[tuple[int, int], int]:
    """Validate ``(C, H, W)``; return the constant's size ``(h0, w0)`` and the number of doublings.

    H and W are powers of two, at least 4, with ``max(H, W) / min(H, W) <= 4``. The short side of
    the constant is 4 and it has the image's aspect ratio: ``H = h0 * 2**n``, ``W = w0 * 2**n``.
    """
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else image_shape
    expected = (
        "expected (C, H, W) with H and W powers of two >= 4 and an aspect ratio up to 4, "
        "e.g. (3, 32, 32), (3, 32, 64), (1, 64, 16)"
    )
    if not (
        isinstance(shape, tuple)
        and len(shape) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
    ):
        raise ValueError(f"{role}: image_shape={shape!r}; {expected}")
    _, height, width = shape
    powers = all(v >= 4 and v & (v - 1) == 0 for v in (height, width))
    if not powers or max(height, width) > MAX_ASPECT * min(height, width):
        raise ValueError(f"{role}: image_shape={shape!r}; {expected}")
    short = min(height, width)
    doublings = int(math.log2(short)) - 2
    return (height >> doublings, width >> doublings), doublings


def _channels(short_side: int, channel_base: int, channel_max: int) -> int:
    """Width at a resolution: ``min(channel_base // short_side, channel_max)`` (at least 1)."""
    return max(1, min(channel_base // short_side, channel_max))


# ------------------------------------------------------------------------------------ resampling
def lowpass_filter(taps: tuple[float, ...] = FILTER_TAPS) -> Tensor:
    """The separable 2-D low-pass filter ``f f^T / sum(f f^T)`` of 1-D ``taps``: ``(4, 4)``, sums to 1."""
    f = torch.tensor(taps, dtype=torch.float32)
    f2 = torch.outer(f, f)
    return f2 / f2.sum()


def _depthwise(f: Tensor, channels: int, dtype: torch.dtype, gain: float = 1.0) -> Tensor:
    return (f * gain).to(dtype)[None, None].expand(channels, 1, *f.shape)  # (C, 1, 4, 4)


def blur(x: Tensor, f: Tensor, pad: int, gain: float = 1.0) -> Tensor:
    """Filter each channel with ``gain * f`` after zero-padding ``pad`` pixels on every side.

    ``(B, C, H, W) -> (B, C, H + 2 pad - 3, W + 2 pad - 3)`` for the 4-tap filter.
    """
    x = F.pad(x, [pad, pad, pad, pad])
    return F.conv2d(x, _depthwise(f, x.shape[1], x.dtype, gain), groups=x.shape[1])


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """2x up-sampling: zero insertion then the low-pass filter with gain 4, ``(B, C, H, W) -> (B, C, 2H, 2W)``.

    One strided transposed depthwise convolution does both (output pixel ``o = 2 i + k - 1``).
    """
    return F.conv_transpose2d(x, _depthwise(f, x.shape[1], x.dtype, 4.0), stride=2, padding=1, groups=x.shape[1])


# ------------------------------------------------------------------------ equalized learning rate
class EqualizedLinear(nn.Module):
    """A linear layer with the equalized learning rate (Karras et al. 2018).

    ``y = act(x (g W)^T + m b)`` with ``g = m / sqrt(in_features)``, m the learning-rate multiplier;
    W is stored as ``N(0, 1) / m`` and b as ``bias_init / m``, so every stored weight sees updates of
    the same scale whatever its fan-in. ``act`` is the identity or leaky ReLU (slope 0.2) times
    ``sqrt(2)``.

    Args:
        in_features: input size.
        out_features: output size.
        bias: add a bias.
        bias_init: the bias at initialization (1 for the style affines: styles start near 1).
        lr_multiplier: m (0.01 in the mapping network).
        activation: ``"linear"`` or ``"lrelu"``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"EqualizedLinear: activation={activation!r}; expected 'linear' or 'lrelu'")
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:  # (B, in) -> (B, out)
        bias = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, bias)
        return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN if self.activation == "lrelu" else x

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"{inp}, {out}, activation={self.activation}, weight_gain={self.weight_gain:.4g}"


class EqualizedConv2d(nn.Module):
    """A convolution with the equalized learning rate, optionally followed by 2x down-sampling.

    ``y = gain * act(conv(x, g W) + b)``, ``g = 1 / sqrt(in_channels * k^2)``, W stored N(0, 1).
    With ``down=True`` the input is low-pass filtered first and the convolution has stride 2
    (``(B, C, H, W) -> (B, C', H/2, W/2)``); otherwise the padding keeps the size.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd kernel size (1 or 3).
        bias: add a bias.
        activation: ``"linear"`` or ``"lrelu"`` (times ``sqrt(2)``).
        down: halve the resolution.
        conv_clamp: clamp the output to ``[-c * gain, c * gain]`` (stylegan2-ada's ``conv_clamp``,
            256 in its published models, against float16 overflow); ``None``: no clamp.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool = True,
        activation: str = "linear",
        down: bool = False,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"EqualizedConv2d: activation={activation!r}; expected 'linear' or 'lrelu'")
        self.activation, self.down, self.kernel_size = activation, down, kernel_size
        self.conv_clamp = conv_clamp
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:  # (B, in, H, W) -> (B, out, H', W')
        weight = self.weight * self.weight_gain
        if self.down:
            # blur to H + 1 (k = 3) or H - 1 (k = 1), then a stride-2 convolution: H / 2 either way
            x = blur(x, self.filter, pad=(self.kernel_size + 1) // 2)
            x = F.conv2d(x, weight, self.bias, stride=2)
        else:
            x = F.conv2d(x, weight, self.bias, padding=self.kernel_size // 2)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        x = x * gain if gain != 1.0 else x
        return clamp(x, self.conv_clamp, gain)

    def extra_repr(self) -> str:
        out, inp, k, _ = self.weight.shape
        return f"{inp}, {out}, kernel_size={k}, activation={self.activation}, down={self.down}"


def clamp(x: Tensor, conv_clamp: float | None, gain: float = 1.0) -> Tensor:
    """``x`` clamped to ``[-conv_clamp * gain, conv_clamp * gain]``; ``x`` itself for ``conv_clamp=None``."""
    return x if conv_clamp is None else x.clamp(-conv_clamp * gain, conv_clamp * gain)


# --------------------------------------------------------------------------- modulated convolution
def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    *,
    demodulate: bool = True,
    up: bool = False,
    resample_filter: Tensor | None = None,
) -> Tensor:
    """A convolution whose weights are scaled per sample by a style, then renormalized.

    Modulation and demodulation (StyleGAN2, section 2.2), for sample b, output channel o, input
    channel i and kernel tap k:

        w'_{b,o,i,k}  = s_{b,i} * w_{o,i,k}
        w''_{b,o,i,k} = w'_{b,o,i,k} / sqrt(sum_{i,k} w'_{b,o,i,k}^2 + 1e-8)

    If the input features are independent with unit variance, the output of ``conv(x, w'')`` has
    variance ``sum_{i,k} w''^2 = 1`` for every style. It is computed without per-sample weights
    as ``d_{b,o} * conv(s_b * x, w)``, ``d_{b,o} = 1 / sqrt(sum_i s_{b,i}^2 sum_k w_{o,i,k}^2)``,
    the same numbers.

    Args:
        x: ``(B, I, H, W)``.
        weight: ``(O, I, k, k)``, k odd.
        styles: ``(B, I)``.
        demodulate: divide by the norm above (False for the RGB layers).
        up: 2x up-sampling: a stride-2 transposed convolution then the low-pass filter (gain 4),
            ``(B, I, H, W) -> (B, O, 2H, 2W)``; otherwise the size is kept.
        resample_filter: the ``(4, 4)`` low-pass filter, needed when ``up``.

    Returns:
        ``(B, O, H, W)`` (or ``(B, O, 2H, 2W)``).
    """
    batch, in_channels = styles.shape
    if x.shape[:2] != (batch, in_channels) or weight.shape[1] != in_channels:
        raise ValueError(
            f"modulated_conv2d: x {tuple(x.shape)}, weight {tuple(weight.shape)} and styles {tuple(styles.shape)} "
            "disagree: expected x (B, I, H, W), weight (O, I, k, k), styles (B, I)"
        )
    x = x * styles.reshape(batch, in_channels, 1, 1)  # modulation, moved onto the activations
    if up:
        if resample_filter is None:
            raise ValueError("modulated_conv2d(up=True) needs the resample_filter")
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)  # (B, O, 2H + 1, 2W + 1) for k = 3
        x = blur(x, resample_filter, pad=(weight.shape[-1] - 1) // 2, gain=4.0)  # (B, O, 2H, 2W)
    else:
        x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    if demodulate:
        # sum_{i,k} (s_i w_oik)^2 = sum_i s_i^2 (sum_k w_oik^2): (B, I) @ (I, O) -> (B, O)
        coefficients = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()
        x = x * coefficients.reshape(batch, -1, 1, 1)
    return x


class ModulatedConv2d(nn.Module):
    """One synthesis layer: modulated 3x3 convolution, noise, bias, leaky ReLU.

    ``y = sqrt(2) * lrelu(modconv(x, w, s) + strength * noise + b)``, with the style
    ``s = A(w)`` from a learned affine layer (bias initialized to 1) and one noise image per
    sample, ``noise ~ N(0, 1)`` of shape ``(B, 1, H, W)``, broadcast over the channels and scaled by a
    learned ``strength`` (initialized to 0). ``noise_mode="const"`` uses a fixed noise image drawn
    at construction (a buffer, saved in checkpoints) instead.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        w_dim: size of w.
        resolution: ``(H, W)`` of the output.
        up: 2x up-sampling before the convolution (the first layer of a block).
        conv_clamp: clamp the output to ``[-conv_clamp, conv_clamp]`` (``None``: no clamp).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: tuple[int, int],
        *,
        up: bool = False,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.up, self.conv_clamp = up, conv_clamp
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))  # N(0, 1); demodulation scales it
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, *resolution))
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random") -> Tensor:  # x: (B, I, h, w), w: (B, w_dim)
        styles = self.affine(w)  # (B, I)
        x = modulated_conv2d(x, self.weight, styles, up=self.up, resample_filter=self.filter)  # (B, O, H, W)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        x = x + self.bias.reshape(1, -1, 1, 1)
        return clamp(F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN, self.conv_clamp)


class ToRGB(nn.Module):
    """Features to image: a modulated 1x1 convolution without demodulation, plus a bias.

    ``rgb = modconv(x, W, A(w) / sqrt(in_channels)) + b`` (the equalized-learning-rate gain goes
    into the style, as there is no demodulation to normalize the weights).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # (B, I, H, W) -> (B, C, H, W)
        styles = self.affine(w) * self.weight_gain
        rgb = modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.reshape(1, -1, 1, 1)
        return clamp(rgb, self.conv_clamp)


# --------------------------------------------------------------------------------- mapping network
def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """``x / sqrt(mean(x^2) + eps)`` over the feature dimension: each row gets unit second moment."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (and a class) to w: normalize, concatenate, ``num_layers`` fully connected leaky-ReLU layers.

    ``x = [normalize(z), normalize(E onehot(y))]``, then ``w = fc_L(... fc_1(x))`` with a
    learning-rate multiplier of 0.01 on the fully connected layers (StyleGAN's choice: the mapping
    learns slowly). ``E`` is an equalized linear label embedding of size ``out_dim``. With
    ``z_dim=0`` only the label is mapped (the discriminator's conditioning).

    Args:
        z_dim: size of z (0: none).
        num_classes: number of classes (0: unconditional).
        out_dim: size of w (and of every hidden layer).
        num_layers: fully connected layers (8 in StyleGAN2).
        lr_multiplier: learning-rate multiplier of those layers.
    """

    def __init__(
        self, z_dim: int, num_classes: int, out_dim: int, *, num_layers: int = 8, lr_multiplier: float = 0.01
    ) -> None:
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.embed = EqualizedLinear(num_classes, out_dim) if num_classes > 0 else None
        in_dim = z_dim + (out_dim if num_classes > 0 else 0)
        dims = [in_dim] + [out_dim] * num_layers
        self.layers = nn.Sequential(
            *[
                EqualizedLinear(a, b, lr_multiplier=lr_multiplier, activation="lrelu")
                for a, b in itertools.pairwise(dims)
            ]
        )

    def forward(self, z: Tensor | None, labels: Tensor | None) -> Tensor:  # -> (B, out_dim)
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z))
        if self.embed is not None:
            onehot = F.one_hot(labels.long(), self.num_classes).to(self.embed.weight.dtype)
            parts.append(normalize_2nd_moment(self.embed(onehot)))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return self.layers(x)


# --------------------------------------------------------------------------------------- generator
class _SynthesisBlock(nn.Module):
    """One resolution: (up-sampling conv,) conv, toRGB; the image path ``img = up(img) + toRGB(x)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: tuple[int, int],
        image_channels: int,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.first = in_channels == 0
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, *resolution))  # the learned constant input
            self.conv0 = None
        else:
            self.conv0 = ModulatedConv2d(in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
        self.conv1 = ModulatedConv2d(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, image_channels, w_dim, conv_clamp)
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: str) -> tuple[Tensor, Tensor]:
        # ws: (B, 3, w_dim) (conv0, conv1, toRGB), or (B, 2, w_dim) for the first block (conv1, toRGB)
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)  # (B, C, h0, w0)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)  # (B, C, H, W) from (B, C_prev, H/2, W/2)
            x = self.conv1(x, ws[:, 1], noise_mode)
        rgb = self.torgb(x, ws[:, -1])
        img = rgb if img is None else upsample2d(img, self.filter) + rgb
        return x, img


class StyleGAN2Generator(Recordable):
    """StyleGAN2's generator: ``(B, latent_dim)`` (and labels) to images ``(B, C, H, W)``.

    ``G(z) = synthesis(mapping(z))``. The mapping network (``mapping_layers`` fully connected
    layers) turns the normalized z into w; w is broadcast to ``num_ws`` per-layer latents
    ``ws (B, num_ws, w_dim)``, one per modulated convolution and one per RGB layer (a block's toRGB
    shares its w with the next block's first convolution). The synthesis network starts from a
    learned ``(C, h0, w0)`` constant; each block doubles the resolution with a modulated
    up-sampling convolution, adds a modulated convolution, and adds its toRGB output to the
    up-sampled image so far. By default there is no tanh, as in the paper: images are not
    squashed into [-1, 1] but learn to lie there; ``output="tanh"`` squashes them, for data whose
    pixels sit at the ends of the range (the digits' flat black background).

    Training mode:

    - style mixing: with probability ``style_mixing_prob`` a second latent z2 is mapped too and
      the layers from a random cut-off ``c ~ U{1, ..., num_ws - 1}`` on take its w
      (``ws[:, c:] = w(z2)``), so neighbouring styles do not learn to depend on each other;
    - the average ``w_avg`` (a buffer) follows the batch mean of w:
      ``w_avg <- mean(w) + beta (w_avg - mean(w))``, ``beta = w_avg_beta``; one average over all
      classes (stylegan2-ada's), or one per class with ``truncation_center="class"``;
    - each layer adds fresh noise.

    Eval mode uses each layer's fixed noise image (``noise_mode="const"``), so
    ``GANModule.generate(seed=...)`` is repeatable, and never mixes styles.

    Truncation (``truncation_psi`` = psi): ``w <- w_avg + psi (w - w_avg)``; psi = 1 changes
    nothing, psi = 0 gives the average image. For a conditional generator stylegan2-ada pulls every
    class to the one global average (so psi = 0 is one image for all classes);
    ``truncation_center="class"`` pulls each sample to its class's average instead.

    Args:
        latent_dim: size of z.
        image_shape: ``(C, H, W)``, H and W powers of two (>= 4), aspect ratio up to 4.
        w_dim: size of w (512 in the paper).
        mapping_layers: layers of the mapping network (8 in the paper).
        mapping_lr_multiplier: learning-rate multiplier of the mapping network (0.01).
        channel_base: widths are ``min(channel_base // res, channel_max)`` at resolution ``res``
            (the short side): 32768 and 512 in the paper (512 channels up to 64 px); for 16 px on
            a CPU, e.g. 512 and 64.
        channel_max: see ``channel_base``.
        num_classes: more than 0: class-conditional, a label embedding concatenated to z before
            the mapping network; ``forward(z, labels)``.
        style_mixing_prob: probability of style mixing per batch in training mode (0.9).
        w_avg_beta: decay of the running average of w (0.995).
        output: ``"linear"`` (the paper's) or ``"tanh"``: ``img = tanh(synthesis)``. On the
            16 px digits tanh reached in 400 iterations the Frechet distance the linear output
            had not reached in 800 (docs/recipes.md).
        truncation_center: ``"global"`` (stylegan2-ada's) or ``"class"`` (conditional only: an
            average w per class, ``w_avg`` of shape ``(num_classes, w_dim)``).
        conv_clamp: clamp each synthesis layer's and toRGB's output to ``[-conv_clamp, conv_clamp]``
            (stylegan2-ada's published models: 256, against float16 overflow); ``None``: no clamp.

    Attributes:
        supports_truncation: True: ``GANModule.generate(truncation_psi=...)`` works with it.
        noise_modes: what ``forward(..., noise_mode=...)`` and ``GANModule.generate(noise_mode=...)`` take.
        num_ws: number of per-layer latents.
        w_avg: the tracked average w, ``(w_dim,)``, or ``(num_classes, w_dim)`` per class.
    """

    supports_truncation = True
    noise_modes = ("random", "const", "none")

    def __init__(
        self,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        *,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_classes: int = 0,
        style_mixing_prob: float = 0.9,
        w_avg_beta: float = 0.995,
        output: str = "linear",
        truncation_center: str = "global",
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        role = "StyleGAN2Generator"
        base, doublings = check_stylegan2_shape(image_shape, role)
        for name, value in (
            ("latent_dim", latent_dim),
            ("w_dim", w_dim),
            ("mapping_layers", mapping_layers),
            ("channel_base", channel_base),
            ("channel_max", channel_max),
        ):
            check_int(name, value, 1, owner=role)
        check_int("num_classes", num_classes, 0, owner=role)
        check_number("conv_clamp", conv_clamp, low=0, low_open=True, owner=role, optional=True)
        if not (isinstance(style_mixing_prob, (int, float)) and 0.0 <= style_mixing_prob <= 1.0):
            raise ValueError(f"{role}: style_mixing_prob={style_mixing_prob!r}; expected a number in [0, 1]")
        if not (isinstance(w_avg_beta, (int, float)) and 0.0 <= w_avg_beta <= 1.0):
            raise ValueError(f"{role}: w_avg_beta={w_avg_beta!r}; expected a number in [0, 1]")
        if output not in ("linear", "tanh"):
            raise ValueError(f"{role}: output={output!r}; expected 'linear' or 'tanh'")
        check_choice("truncation_center", truncation_center, ("global", "class"), owner=role)
        check(
            truncation_center == "global" or num_classes > 0,
            f"{role}(truncation_center='class'): expected a conditional generator (num_classes > 0)",
        )
        if not (isinstance(mapping_lr_multiplier, (int, float)) and mapping_lr_multiplier > 0):
            raise ValueError(f"{role}: mapping_lr_multiplier={mapping_lr_multiplier!r}; expected a number > 0")
        self.latent_dim, self.image_shape, self.num_classes = latent_dim, tuple(image_shape), num_classes
        self.w_dim, self.style_mixing_prob, self.w_avg_beta = w_dim, float(style_mixing_prob), float(w_avg_beta)
        self.output = output

        self.mapping_network = MappingNetwork(
            latent_dim, num_classes, w_dim, num_layers=mapping_layers, lr_multiplier=mapping_lr_multiplier
        )
        blocks, in_channels = [], 0
        for level in range(doublings + 1):
            resolution = (base[0] << level, base[1] << level)
            out_channels = _channels(min(resolution), channel_base, channel_max)
            blocks.append(_SynthesisBlock(in_channels, out_channels, w_dim, resolution, image_shape[0], conv_clamp))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = 2 * len(blocks)  # conv1 + toRGB of the first block, then conv0 + conv1 per block (+ last toRGB)
        self.truncation_center = truncation_center
        per_class = truncation_center == "class"
        self.register_buffer("w_avg", torch.zeros((num_classes, w_dim) if per_class else (w_dim,)))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        stored = state_dict.get(prefix + "w_avg")
        if stored is not None and stored.shape != self.w_avg.shape:
            raise ValueError(
                f"StyleGAN2Generator: the checkpoint's w_avg has shape {tuple(stored.shape)} where this generator's has "
                f"{tuple(self.w_avg.shape)}; a (num_classes, w_dim) average comes from per-class truncation centres "
                f"(the default before stylegan2-ada's global one): build it with truncation_center='class'"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ mapping
    def mapping(
        self, z: Tensor, labels: Tensor | None = None, truncation_psi: float = 1.0, *, update_w_avg: bool = True
    ) -> Tensor:
        """``ws (B, num_ws, w_dim)``: w broadcast to every layer, truncated toward ``w_avg``.

        In training mode (and with ``update_w_avg``) the batch also moves ``w_avg``. Truncation:
        ``ws = w_avg + psi (ws - w_avg)``, with the average of each sample's class for
        ``truncation_center="class"``.
        """
        needs_labels(self.num_classes, labels, "generator")
        w = self.mapping_network(z, labels)  # (B, w_dim)
        if self.training and update_w_avg and self.w_avg_beta < 1.0:
            self._update_w_avg(w.detach(), labels)
        if truncation_psi != 1:
            center = self.w_avg if self.w_avg.dim() == 1 else self.w_avg[labels.long()]  # (w_dim,) or (B, w_dim)
            w = center + truncation_psi * (w - center)
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    @torch.no_grad()
    def _update_w_avg(self, w: Tensor, labels: Tensor | None) -> None:
        """``w_avg <- lerp(mean(w), w_avg, beta)``; per class present in the batch for ``truncation_center="class"``."""
        if self.w_avg.dim() == 1:
            self.w_avg.copy_(torch.lerp(w.mean(dim=0), self.w_avg, self.w_avg_beta))
            return
        onehot = F.one_hot(labels.long(), self.num_classes).to(w.dtype)  # (B, K)
        counts = onehot.sum(dim=0)  # (K,)
        means = (onehot.t() @ w) / counts.clamp_min(1.0).unsqueeze(1)  # (K, w_dim)
        updated = torch.lerp(means, self.w_avg, self.w_avg_beta)
        self.w_avg.copy_(torch.where(counts.unsqueeze(1) > 0, updated, self.w_avg))

    def mix_styles(self, ws: Tensor, z: Tensor, labels: Tensor | None, truncation_psi: float = 1.0) -> Tensor:
        """With probability ``style_mixing_prob``, layers from a random cut-off on take the w of a fresh z.

        One cut-off per batch, drawn on the device (no host sync): ``c ~ U{1, ..., num_ws - 1}``,
        or ``c = num_ws`` (no mixing) with probability ``1 - style_mixing_prob``.
        """
        cutoff = torch.randint(1, self.num_ws, (), device=ws.device)
        mixed = torch.rand((), device=ws.device) < self.style_mixing_prob
        cutoff = torch.where(mixed, cutoff, torch.full_like(cutoff, self.num_ws))
        ws2 = self.mapping(torch.randn_like(z), labels, truncation_psi, update_w_avg=False)
        later = (torch.arange(self.num_ws, device=ws.device) >= cutoff).reshape(1, -1, 1)  # (1, num_ws, 1)
        return torch.where(later, ws2, ws)

    # ------------------------------------------------------------------ synthesis
    def synthesis(self, ws: Tensor, *, noise_mode: str | None = None) -> Tensor:
        """Images ``(B, C, H, W)`` from per-layer latents ``ws (B, num_ws, w_dim)``.

        ``noise_mode``: ``"random"`` (fresh noise), ``"const"`` (each layer's fixed noise image) or
        ``"none"``; by default random in training mode and const in eval mode.
        """
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"synthesis: ws has shape {tuple(ws.shape)}; expected (B, {self.num_ws}, {self.w_dim})")
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"synthesis: noise_mode={noise_mode!r}; expected 'random', 'const' or 'none'")
        x = img = None
        for index, block in enumerate(self.blocks):
            # the first block reads ws[0:2]; block i >= 1 reads ws[2i-1 : 2i+2] (its toRGB's w is the next conv0's)
            start = 0 if index == 0 else 2 * index - 1
            x, img = block(x, img, ws[:, start : 2 * index + 2], noise_mode)
        return torch.tanh(img) if self.output == "tanh" else img

    def forward(
        self, z: Tensor, labels: Tensor | None = None, *, truncation_psi: float = 1.0, noise_mode: str | None = None
    ) -> Tensor:  # z: (B, latent_dim) -> (B, C, H, W)
        ws = self.mapping(z, labels, truncation_psi)  # (B, num_ws, w_dim)
        if self.training and self.style_mixing_prob > 0:
            ws = self.mix_styles(ws, z, labels, truncation_psi)
        return self.synthesis(ws, noise_mode=noise_mode)


# ----------------------------------------------------------------------------------- discriminator
def minibatch_stddev(x: Tensor, group_size: int, num_channels: int = 1) -> Tensor:
    """Append the minibatch standard deviation as ``num_channels`` more feature maps.

    The batch is split into groups of G samples (G the largest divisor of B up to
    ``group_size``) and the channels into ``num_channels`` groups; for each, the standard
    deviation over the G samples, ``sqrt(mean_g (x - mean_g x)^2 + 1e-8)``, is averaged over
    channels and pixels and broadcast as a constant map to the group's samples. Lets the
    discriminator see the variety of a batch. ``(B, C, H, W) -> (B, C + num_channels, H, W)``.
    """
    batch, channels, height, width = x.shape
    group = next(g for g in range(min(group_size, batch), 0, -1) if batch % g == 0)
    y = x.reshape(group, -1, num_channels, channels // num_channels, height, width)  # (G, n, F, c, H, W)
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (n, F, c, H, W)
    y = y.mean(dim=(2, 3, 4)).reshape(-1, num_channels, 1, 1)  # (n, F, 1, 1)
    y = y.repeat(group, 1, height, width)  # (B, F, H, W); sample g * n + j gets group j's value
    return torch.cat([x, y], dim=1)


class _DiscriminatorBlock(nn.Module):
    """Down-sampling block, ``(H, W) -> (H/2, W/2)``: conv0 a 3x3 convolution, conv1 a 3x3 convolution
    with down-sampling, both leaky ReLU.

    ``architecture``: ``"resnet"`` adds a skip, a 1x1 down-sampling convolution without bias or
    activation: ``(skip(x) + conv1(conv0(x))) / sqrt(2)``; ``"orig"`` is ``conv1(conv0(x))``;
    ``"skip"`` is that too, and every block also reads the image, down-sampled to its resolution,
    through its own 1x1 fromRGB (added to ``x``). In the other two only the first block reads the
    image (through fromRGB).
    """

    def __init__(
        self,
        channels: int,
        out_channels: int,
        image_channels: int,
        *,
        first: bool,
        architecture: str = "resnet",
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.architecture = architecture
        reads_image = first or architecture == "skip"
        lrelu = {"activation": "lrelu", "conv_clamp": conv_clamp}
        self.fromrgb = EqualizedConv2d(image_channels, channels, 1, **lrelu) if reads_image else None
        self.conv0 = EqualizedConv2d(channels, channels, 3, **lrelu)
        self.conv1 = EqualizedConv2d(channels, out_channels, 3, down=True, **lrelu)
        self.skip = (
            EqualizedConv2d(channels, out_channels, 1, bias=False, down=True) if architecture == "resnet" else None
        )
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor | None, image: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """``(x, image)`` -> the features and (``"skip"``) the image at half the resolution."""
        if self.fromrgb is not None:
            y = self.fromrgb(image)
            x = y if x is None else x + y
            image = blur(image, self.filter, pad=1)[:, :, ::2, ::2] if self.architecture == "skip" else None
        if self.skip is None:
            return self.conv1(self.conv0(x)), image
        gain = math.sqrt(0.5)
        return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain), image


class StyleGAN2Discriminator(Recordable):
    """StyleGAN2's discriminator: images ``(B, C, H, W)`` to logits ``(B,)``.

    fromRGB, then blocks halve the resolution down to the ``(h0, w0)`` of the generator's
    constant (short side 4); the epilogue appends the minibatch standard deviation, applies a 3x3
    convolution, a fully connected layer and the output layer. Every layer has the equalized
    learning rate; leaky ReLU 0.2 times ``sqrt(2)``. The blocks are residual by default
    (``architecture="resnet"``, StyleGAN2's config F); ``"orig"`` drops the residual skips (the
    stylegan2-ada 'cifar' config's choice), ``"skip"`` feeds the down-sampled image to every block
    and to the epilogue through 1x1 fromRGB layers (as stylegan2-ada's ``architecture`` option).

    Conditional (``num_classes > 0``), as stylegan2-ada's: a mapping network (label embedding and
    ``mapping_layers`` fully connected layers, no z) maps the class to ``cmap (B, cmap_dim)``, the
    output layer has ``cmap_dim`` outputs ``o``, and the logit is the projection
    ``<o, cmap> / sqrt(cmap_dim)``.

    No operation is in place, so R1 (double backward through the discriminator) works.

    Args:
        image_shape: ``(C, H, W)`` as for :class:`StyleGAN2Generator`.
        channel_base: widths ``min(channel_base // res, channel_max)``, res the short side.
        channel_max: see ``channel_base``.
        num_classes: more than 0: class-conditional (projection), ``forward(x, labels)``.
        mbstd_group_size: samples per minibatch-standard-deviation group (4).
        mbstd_channels: feature maps it adds (1).
        cmap_dim: size of the class projection (default: the width at the last resolution).
        mapping_layers: layers of the class mapping network (8).
        architecture: ``"resnet"``, ``"orig"`` or ``"skip"``.
        conv_clamp: clamp each 3x3 and fromRGB convolution's output to ``[-c * g, c * g]``, g its
            gain (stylegan2-ada's published models: 256); ``None``: no clamp.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        *,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_classes: int = 0,
        mbstd_group_size: int = 4,
        mbstd_channels: int = 1,
        cmap_dim: int | None = None,
        mapping_layers: int = 8,
        architecture: str = "resnet",
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        role = "StyleGAN2Discriminator"
        check_choice("architecture", architecture, ("resnet", "orig", "skip"), owner=role)
        self.architecture = architecture
        base, doublings = check_stylegan2_shape(image_shape, role)
        for name, value in (
            ("channel_base", channel_base),
            ("channel_max", channel_max),
            ("mbstd_group_size", mbstd_group_size),
            ("mapping_layers", mapping_layers),
        ):
            check_int(name, value, 1, owner=role)
        check_int("num_classes", num_classes, 0, owner=role)
        check_number("conv_clamp", conv_clamp, low=0, low_open=True, owner=role, optional=True)
        final_channels = _channels(min(base), channel_base, channel_max)
        if not (
            isinstance(mbstd_channels, int)
            and mbstd_channels >= 0
            and (mbstd_channels == 0 or final_channels % mbstd_channels == 0)
        ):
            raise ValueError(
                f"{role}: mbstd_channels={mbstd_channels!r}; expected an int >= 0 dividing the last width {final_channels}"
            )
        if cmap_dim is not None:
            check_int("cmap_dim", cmap_dim, 1, owner=role)
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        self.mbstd_group_size, self.mbstd_channels = mbstd_group_size, mbstd_channels

        blocks = []
        for level in range(doublings, 0, -1):  # from the image's resolution down to twice the base
            short = min(base) << level
            blocks.append(
                _DiscriminatorBlock(
                    _channels(short, channel_base, channel_max),
                    _channels(short // 2, channel_base, channel_max),
                    image_shape[0],
                    first=level == doublings,
                    architecture=architecture,
                    conv_clamp=conv_clamp,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        # a 4 x 4 image (no blocks) reads its pixels through fromRGB at the epilogue, and so does "skip"
        reads_image = not blocks or architecture == "skip"
        lrelu = {"activation": "lrelu", "conv_clamp": conv_clamp}
        self.fromrgb = EqualizedConv2d(image_shape[0], final_channels, 1, **lrelu) if reads_image else None
        self.conv = EqualizedConv2d(final_channels + mbstd_channels, final_channels, 3, **lrelu)
        self.fc = EqualizedLinear(final_channels * base[0] * base[1], final_channels, activation="lrelu")
        self.cmap_dim = (cmap_dim or final_channels) if num_classes else 0
        self.out = EqualizedLinear(final_channels, self.cmap_dim or 1)
        self.mapping_network = (
            MappingNetwork(0, num_classes, self.cmap_dim, num_layers=mapping_layers) if num_classes else None
        )

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:  # x: (B, C, H, W) -> (B,)
        needs_labels(self.num_classes, labels, "discriminator")
        features, image = None, x
        for block in self.blocks:
            features, image = block(features, image)  # down to (B, C4, h0, w0)
        if self.fromrgb is not None:
            y = self.fromrgb(image)
            features = y if features is None else features + y
        x = features
        if self.mbstd_channels:
            x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_channels)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1)))  # (B, 1) or (B, cmap_dim)
        if self.mapping_network is None:
            return x.squeeze(1)
        cmap = self.mapping_network(None, labels)  # (B, cmap_dim)
        return (x * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)
