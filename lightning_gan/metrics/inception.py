"""Feature extractors for FID, IS and KID: torch-fidelity's InceptionV3, or any ``nn.Module``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["FeatureExtractor", "InceptionV3", "extractor_fingerprint", "random_inception_weights", "to_uint8"]

INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] to uint8 in [0, 255], rounded as a PNG writer rounds them (torchvision's
    ``save_image``): measuring generated images directly gives what measuring their PNGs gives."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8)


class _AlwaysEval(nn.Module):
    """A module that never leaves eval mode and never takes gradients."""

    def train(self, mode: bool = True) -> _AlwaysEval:
        return super().train(False)


class InceptionV3(_AlwaysEval):
    """torch-fidelity's InceptionV3 (the TensorFlow FID network, ported), with its input pipeline.

    Takes images ``(N, C, H, W)`` in [-1, 1] with 1 or 3 channels (1 is repeated to 3, as PIL's
    ``convert("RGB")`` does) and returns ``(pool features (N, 2048), logits_unbiased (N, 1008))``:
    the features of FID and KID and the logits of the Inception Score, exactly as torch-fidelity
    computes them (uint8 rounding, its bilinear resize to 299 px, float32, no autocast).

    Args:
        weights: a local weights file in torch-fidelity's format (the file at :data:`INCEPTION_URL`),
            for machines without network. ``None``: the file named by the environment variable
            ``LIGHTNING_GAN_INCEPTION_WEIGHTS`` when it is set (handy for recipes on an offline
            cluster), else downloaded once into torch's hub cache.
    """

    def __init__(self, weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        features = ["2048", "logits_unbiased"]
        weights = weights if weights is not None else os.environ.get("LIGHTNING_GAN_INCEPTION_WEIGHTS") or None
        if weights is not None:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"InceptionV3 weights file {str(path)!r} does not exist")
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", features, feature_extractor_weights_path=path)
            self.weights_name = f"{path.name}-{_file_digest(path)}"
        else:
            try:
                self.net = FeatureExtractorInceptionV3("inception-v3-compat", features)
            except Exception as err:  # URLError, HTTPError, socket errors: anything the download raises
                raise RuntimeError(
                    f"could not download the InceptionV3 weights from {INCEPTION_URL} ({type(err).__name__}: {err}). "
                    "On a machine without network, copy that file over and pass it as weights=FILE "
                    "(--weights FILE on the command line), or set LIGHTNING_GAN_INCEPTION_WEIGHTS=FILE."
                ) from err
            self.weights_name = Path(INCEPTION_URL).name
        self.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images of shape {tuple(images.shape)}: expected (N, 1 or 3, H, W) in [-1, 1]")
        x = to_uint8(images)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        with torch.autocast(device_type=x.device.type, enabled=False):
            features, logits = self.net(x.contiguous())
        return features, logits


class FeatureExtractor(_AlwaysEval):
    """Any ``nn.Module`` as a metric network: images in [-1, 1] in, ``(features, logits or None)`` out.

    ``module`` returns either features ``(N, D)`` or a tuple ``(features, logits)``; logits are needed
    for the Inception Score only. It runs in eval mode, in float32, without autocast or gradients
    (a domain classifier, for instance, in place of InceptionV3).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"feature_extractor={module!r}: expected a torch.nn.Module")
        self.module = module.requires_grad_(False)
        self.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        with torch.autocast(device_type=images.device.type, enabled=False):
            out = self.module(images.float())
        features, logits = out if isinstance(out, (tuple, list)) else (out, None)
        if not (isinstance(features, Tensor) and features.dim() == 2 and len(features) == len(images)):
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
            raise ValueError(
                f"{type(self.module).__name__} returned features of shape {shape} for {len(images)} images: "
                "expected (N, D), or a tuple (features (N, D), logits (N, classes))"
            )
        return features.float(), None if logits is None else logits.float()


def extractor_fingerprint(extractor: nn.Module) -> str:
    """A short name that changes when the metric network changes (its class or its weights)."""
    if isinstance(extractor, InceptionV3):
        return f"inception-{extractor.weights_name}"
    module = extractor.module if isinstance(extractor, FeatureExtractor) else extractor
    digest = hashlib.sha1(type(module).__qualname__.encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return f"{type(module).__name__}-{digest.hexdigest()[:12]}"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def random_inception_weights(path: str | os.PathLike[str], images: Tensor, *, seed: int = 0) -> Path:
    """Write an InceptionV3 weights file in torch-fidelity's format with random weights whose
    batch-norm statistics are estimated on ``images`` (in [-1, 1]), so its features are not degenerate.

    For tests and offline demos only: its numbers are not comparable with published ones.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Unloaded(FeatureExtractorInceptionV3):  # the same network, left at its random initialisation
        def load_state_dict(self, *args: object, **kwargs: object) -> None:
            pass

    path = Path(path)
    empty = path.with_suffix(".empty")
    torch.save({}, empty)  # the constructor insists on loading a file
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=empty)
    empty.unlink()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the calibration batches
            module.train()
    with torch.no_grad():
        x = to_uint8(images)
        net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
    torch.save(net.state_dict(), path)
    return path
