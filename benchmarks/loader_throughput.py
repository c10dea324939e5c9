"""Does the input pipeline keep training fed? Loader images/s vs the images/s training consumes.

    python benchmarks/loader_throughput.py [--num-images 4096] [--batch-size 64] [--workers 0 2 8]
                                           [--iterations 20] [--cifar10-root DIR] [--image-folder DIR]

Two data modules, the two kinds this package has:

- ``CIFAR10DataModule``: the whole set in memory (uint8), whole batches by index in the training
  process; on a GPU also with ``on_device=True`` (the set held on the GPU);
- ``ImageFolderDataModule`` at 64 px (what ``CelebADataModule`` does: decode, crop, resize per
  image in worker processes), for each ``--workers`` count.

For each: the loader's images/s, batches moved to the training device included (the time a
training loop would wait for data if it did nothing else), and, with ``--iterations``, the images/s
a DCGAN of the matching size consumes when its batches come from that loader vs from a tensor
already on the device (``fed`` = loader-fed / device-fed iteration rate: 1.0 means the loader
keeps up). Without ``--cifar10-root`` / ``--image-folder`` stand-in files are written to a
temporary folder (random smooth images; JPEG decoding of real photos costs about the same).
One JSON line per configuration.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image
from step_time import Batches, IterationClock  # benchmarks/ is on the path when run as a script
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from lightning_gan import GANModule
from lightning_gan.data import CIFAR10DataModule, ImageFolderDataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator


def _smooth_images(rng: np.random.Generator, num: int, height: int, width: int) -> np.ndarray:
    """``num`` uint8 RGB images of low-frequency noise (photo-like for a JPEG codec)."""
    small = rng.integers(0, 256, size=(num, 3, height // 8, width // 8), dtype=np.uint8)
    images = torch.nn.functional.interpolate(torch.from_numpy(small).float(), size=(height, width), mode="bilinear")
    return images.clamp(0, 255).to(torch.uint8).numpy()


def write_cifar10_stand_in(root: Path, num_images: int) -> Path:
    """CIFAR-10's python pickles with ``num_images`` random images in all."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(1, 6):
        count = num_images // 5
        data = _smooth_images(rng, count, 32, 32).reshape(count, -1)
        entry = {b"data": data, b"labels": rng.integers(0, 10, size=count).tolist()}
        (folder / f"data_batch_{index}").write_bytes(pickle.dumps(entry))
    return root


def write_face_folder_stand_in(root: Path, num_images: int) -> Path:
    """``num_images`` JPEGs at CelebA's aligned size (178x218), quality 95 like the originals."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for start in range(0, num_images, 256):
        chunk = _smooth_images(rng, min(256, num_images - start), 218, 178)
        for offset, image in enumerate(chunk):
            Image.fromarray(image.transpose(1, 2, 0)).save(root / f"{start + offset:06d}.jpg", quality=95)
    return root


def loader_images_per_second(loader: DataLoader, device: torch.device, batches: int) -> float:
    """Images/s of iterating ``loader`` and moving each batch to ``device`` (after one warm-up batch)."""
    iterator = iter(loader)
    next(iterator)  # worker start-up and the first batch are not the steady state
    count, start = 0, time.perf_counter()
    for _ in range(batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        images = images.to(device, non_blocking=True)
        count += images.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return count / (time.perf_counter() - start)


def training_images_per_second(
    dims: tuple[int, int, int], data: Any, device: torch.device, iterations: int, batch_size: int
) -> float:
    """Real images/s a DCGAN for ``dims`` consumes (one D step per iteration) with ``data``
    (a data module, or a tensor already on the device, in batches of ``batch_size``)."""
    torch.manual_seed(0)
    gan = GANModule(DCGANGenerator(128, dims), DCGANDiscriminator(dims), latent_dim=128)
    clock = IterationClock(warmup=3)
    trainer = L.Trainer(
        max_steps=iterations + 4, accelerator=device.type, devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock], max_epochs=-1,
    )  # fmt: skip
    if isinstance(data, torch.Tensor):
        sampler = BatchSampler(RandomSampler(data), batch_size, drop_last=True)
        trainer.fit(gan, DataLoader(Batches(data), batch_size=None, sampler=sampler))
    else:
        trainer.fit(gan, datamodule=data)
    return batch_size / (statistics.median(clock.times) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-images", type=int, default=4096, help="stand-in set size")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40, help="batches timed per loader")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 8], help="worker counts for image files")
    parser.add_argument("--iterations", type=int, default=0, help="also time training this many iterations")
    parser.add_argument("--cifar10-root", type=Path, default=None)
    parser.add_argument("--image-folder", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    where = f"{torch.cuda.get_device_name(device)}" if device.type == "cuda" else f"cpu x{torch.get_num_threads()}"
    with tempfile.TemporaryDirectory() as tmp:
        cifar_root = args.cifar10_root or write_cifar10_stand_in(Path(tmp) / "cifar", args.num_images)
        faces = args.image_folder or write_face_folder_stand_in(Path(tmp) / "faces", args.num_images)
        configs: list[tuple[str, Any]] = [
            ("cifar10 in memory", lambda: CIFAR10DataModule(cifar_root, batch_size=args.batch_size, download=False))
        ]
        if device.type == "cuda":
            configs.append(
                (
                    "cifar10 on_device",
                    lambda: CIFAR10DataModule(cifar_root, batch_size=args.batch_size, download=False, on_device=True),
                )
            )
        for workers in args.workers:
            configs.append(
                (
                    f"image folder 64px, {workers} workers",
                    lambda w=workers: ImageFolderDataModule(faces, size=64, batch_size=args.batch_size, num_workers=w),
                )
            )
        for name, make in configs:
            module = make()
            module.setup("fit")
            if getattr(module, "on_device", False):  # where a trainer would put the set
                module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=device))
            loader = module.train_dataloader()
            result: dict[str, Any] = {
                "data": name,
                "device": where,
                "loader_images_per_s": round(loader_images_per_second(loader, device, args.batches), 1),
            }
            if args.iterations:
                fresh = make()
                fed = training_images_per_second(fresh.dims, fresh, device, args.iterations, args.batch_size)
                items = [module.train_dataset[i] for i in range(256)]
                images = torch.stack([item[0] if isinstance(item, tuple) else item for item in items]).to(device)
                on_device = training_images_per_second(fresh.dims, images, device, args.iterations, args.batch_size)
                result.update(
                    training_images_per_s_loader=round(fed, 1),
                    training_images_per_s_device_data=round(on_device, 1),
                    fed=round(fed / on_device, 3),
                )
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
