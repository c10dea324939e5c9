"""``lightning-gan sample``: draw samples from a checkpoint and write them as pictures."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from lightning_gan.module import GANModule
from lightning_gan.nets._recordable import import_class
from lightning_gan.pretrained import PUBLISHED, load_stylegan2_ada

__all__ = ["load_gan", "sample_main", "save_samples"]


def load_gan(checkpoint: str | Path, map_location: str | torch.device = "cpu") -> GANModule:
    """Load a ``GANModule`` (or the subclass that wrote the checkpoint) without passing its networks.

    The subclass is imported by the name the checkpoint records: as with any checkpoint, load only
    files you trust. A stylegan2-ada-pytorch pickle (path, URL or published name) is read without
    running it (:func:`~lightning_gan.pretrained.load_stylegan2_ada`) into a ``GANModule`` whose
    EMA generator is the pickle's ``G_ema``.
    """
    path, text = Path(checkpoint), str(checkpoint)
    remote = text in PUBLISHED or text.startswith(("http://", "https://"))
    if remote or (path.is_file() and not zipfile.is_zipfile(path)):  # torch.save writes zip archives
        return _from_stylegan2_ada(checkpoint, map_location)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {text!r} does not exist; expected a checkpoint written by training (.ckpt) or a "
            f"stylegan2-ada pickle (a path, an http(s) URL or a published name: {', '.join(PUBLISHED)})"
        )
    # memory-mapped: reading the class name does not load the tensors a second time
    meta = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    cls: type[GANModule] = GANModule
    class_path = meta.get(GANModule.CHECKPOINT_CLASS_KEY)
    if class_path:
        cls = import_class(class_path, "GANModule")
        if not (isinstance(cls, type) and issubclass(cls, GANModule)):
            raise TypeError(f"the checkpoint names {class_path!r}, which is not a GANModule subclass")
    return cls.load_from_checkpoint(path, map_location=map_location, weights_only=True)  # networks are records


def _from_stylegan2_ada(source: str | Path, map_location: str | torch.device) -> GANModule:
    model = load_stylegan2_ada(source, map_location=map_location)
    if model.discriminator is None:
        raise ValueError(f"{str(source)!r} holds no discriminator (D): expected a stylegan2-ada training snapshot")
    gan = GANModule(
        model.generator,
        model.discriminator,
        latent_dim=model.generator_kwargs["latent_dim"],
        num_classes=model.generator_kwargs["num_classes"],
        ema_decay=0.999 if model.generator_ema is not None else None,  # the averaged copy is the pickle's G_ema
    )
    if model.generator_ema is not None:
        gan.generator_ema = model.generator_ema
    return gan.to(map_location).eval()


def save_samples(samples: Tensor, out: str | Path, *, nrow: int | None = None) -> list[Path]:
    """Write images ``(N, C, H, W)`` in [-1, 1] as one grid PNG (``out`` ending in .png) or N PNGs
    in the folder ``out``; 1-D or 2-D samples ``(N, D)`` as a histogram or scatter plot PNG."""
    out = Path(out)
    samples = samples.detach().float().cpu()
    if samples.dim() == 4:
        from torchvision.utils import save_image

        images = (samples.clamp(-1, 1) + 1) / 2
        if out.suffix.lower() == ".png":
            out.parent.mkdir(parents=True, exist_ok=True)
            save_image(images, out, nrow=nrow or max(1, round(len(images) ** 0.5)))
            return [out]
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{i:06d}.png" for i in range(len(images))]
        for image, path in zip(images, paths):
            save_image(image, path)
        return paths
    if samples.dim() == 2 and samples.shape[1] in (1, 2) and out.suffix.lower() == ".png":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 5))
        if samples.shape[1] == 1:
            ax.hist(samples[:, 0].numpy(), bins=100, density=True)
        else:
            ax.scatter(samples[:, 0].numpy(), samples[:, 1].numpy(), s=2, alpha=0.5)
            ax.set_aspect("equal")
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100)
        plt.close(fig)
        return [out]
    raise ValueError(
        f"samples of shape {tuple(samples.shape)} with --out {str(out)!r}: expected images (N, C, H, W) "
        "with a .png file or a folder, or 1-D/2-D samples with a .png file"
    )


def sample_main(argv: list[str]) -> list[Path]:
    """``lightning-gan sample CKPT --num N --out FILE.png|DIR [--seed S] [--device D]``."""
    parser = argparse.ArgumentParser(prog="lightning-gan sample", description=sample_main.__doc__)
    parser.add_argument(
        "checkpoint",
        help="a checkpoint written by training (e.g. .../last.ckpt), or a stylegan2-ada pickle: a path, URL or "
        "published name (lightning_gan.pretrained.PUBLISHED)",
    )
    parser.add_argument("--num", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--out", required=True, help="a .png file (one grid or plot) or a folder (one PNG per image)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples (default 0)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--nrow", type=int, default=None, help="images per grid row (default: a square grid)")
    parser.add_argument(
        "--truncation-psi",
        type=float,
        default=1.0,
        help="truncation trick toward the average w (StyleGAN2; default 1: off)",
    )
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error(f"--num {args.num}: expected at least 1")
    gan = load_gan(args.checkpoint, map_location=args.device)
    samples = gan.generate(args.num, seed=args.seed, truncation_psi=args.truncation_psi)
    paths = save_samples(samples, args.out, nrow=args.nrow)
    print(f"wrote {len(paths)} file(s): {paths[0] if len(paths) == 1 else paths[0].parent}")
    return paths
