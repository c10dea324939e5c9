"""Feature extraction for FID/IS/KID: from a generator, a data set or a folder, on one process or many.

Work is laid out in global batches of ``batch_size`` (batch ``j`` goes to rank ``j % world``) and
gathered back into the global order: exactly ``num_samples`` generated images in total and every
real image once, never the padding a distributed sampler adds. Generated batch ``j`` draws its noise
from seed ``(seed, j)``, so any process count measures the same images (while ``num_samples`` is at
least ``batch_size`` per process; below that the batches shrink so every process gets one).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from lightning_gan.metrics.frechet import gaussian_statistics

__all__ = [
    "Features",
    "ImageFolder",
    "RealFeatureCache",
    "dataset_features",
    "default_cache_dir",
    "describe_real",
    "generator_features",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class Features:
    """Features ``(N, D)`` (and logits ``(N, classes)`` or None) of one image set, on the CPU."""

    def __init__(self, features: Tensor, logits: Tensor | None = None) -> None:
        self.features, self.logits = features, logits
        self._statistics: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.features)

    @property
    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance (float64), computed once."""
        if self._statistics is None:
            self._statistics = gaussian_statistics(self.features.double().numpy())
        return self._statistics


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _batches(count: int, batch_size: int) -> list[range]:
    """Global batches of at most ``batch_size`` items, at least one per rank."""
    world = _world()[1]
    if count < world:
        raise ValueError(f"{count} images cannot be shared among {world} processes: expected at least one each")
    size = min(batch_size, -(-count // world))
    return [range(start, min(count, start + size)) for start in range(0, count, size)]


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=not enabled or _world()[0] != 0)


def _run(
    extractor: nn.Module,
    batches: list[range],
    load: Callable[[list[tuple[int, range]]], Any],
    device: torch.device,
    desc: str,
    progress: bool,
) -> Features:
    """Features of this rank's share of ``batches`` (``load`` yields their images), gathered in order."""
    rank, world = _world()
    mine = [(j, batches[j]) for j in range(rank, len(batches), world)]
    features: list[Tensor] = []
    logits: list[Tensor] = []
    with _progress(sum(len(b) for b in batches), desc, progress) as bar, torch.no_grad():
        for images in load(mine):
            f, lg = extractor(images.to(device, non_blocking=True))
            features.append(f.float())
            if lg is not None:
                logits.append(lg.float())
            bar.update(len(images) * world)
    local_f = torch.cat(features)  # every rank has at least one batch (see _batches)
    local_l = torch.cat(logits) if logits else None
    out_f = _gather_in_order(local_f, batches, rank, world)
    out_l = None if local_l is None else _gather_in_order(local_l, batches, rank, world)
    return Features(out_f.cpu(), None if out_l is None else out_l.cpu())


def _gather_in_order(local: Tensor, batches: list[range], rank: int, world: int) -> Tensor:
    """All ranks' rows, in global batch order (batch ``j`` came from rank ``j % world``)."""
    if world == 1:
        return local
    from torchmetrics.utilities.distributed import gather_all_tensors

    parts = gather_all_tensors(local.contiguous())  # pads and trims unequal first dimensions
    pieces = [list(part.split([len(b) for b in batches[r::world]])) for r, part in enumerate(parts)]
    return torch.cat([pieces[j % world][j // world] for j in range(len(batches))])


def generator_features(
    generate: Callable[[int, int], Tensor],
    extractor: nn.Module,
    num_samples: int,
    *,
    batch_size: int = 100,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> Features:
    """Features of ``num_samples`` images made by ``generate(count, seed)``, across all ranks."""
    batches = _batches(num_samples, batch_size)

    def load(mine: list[tuple[int, range]]) -> Any:
        for j, batch in mine:
            yield generate(len(batch), (seed << 32) + j)

    return _run(extractor, batches, load, torch.device(device), "generated images", progress)


def _images_only(batch: Any) -> Tensor:
    """Collate a batch of images, or of ``(image, label)`` pairs, to the images alone."""
    if isinstance(batch, Tensor):  # a whole batch made by the data set's __getitems__
        return batch
    if isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], Tensor) and batch[0].dim() == 4:
        return batch[0]
    return torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in batch])


def dataset_features(
    dataset: Dataset,
    extractor: nn.Module,
    *,
    batch_size: int = 100,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> Features:
    """Features of every item of ``dataset`` (images in [-1, 1], or ``(image, label)`` pairs), once each."""
    batches = _batches(len(dataset), batch_size)  # type: ignore[arg-type]

    def load(mine: list[tuple[int, range]]) -> Any:
        return DataLoader(
            dataset,
            batch_sampler=[list(b) for _, b in mine],
            collate_fn=_images_only,
            num_workers=num_workers,
            pin_memory=torch.device(device).type == "cuda",
            generator=torch.Generator(),  # its workers' seed comes from here, not from the run's random state
        )

    return _run(extractor, batches, load, torch.device(device), "real images", progress)


class ImageFolder(Dataset):
    """Every image file under ``root`` (recursively, sorted), read with PIL as RGB, in [-1, 1]."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {str(self.root)!r} does not exist")
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise FileNotFoundError(
                f"image folder {str(self.root)!r} holds no images (looked for {', '.join(IMAGE_SUFFIXES)})"
            )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor:
        from PIL import Image

        with Image.open(self.files[index]) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
        return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)

    def identity(self) -> dict[str, Any]:
        """What the real-feature cache keys on: the folder and its files' names, sizes and times."""
        digest = hashlib.sha1()
        for path in self.files:
            stat = path.stat()
            digest.update(f"{path.relative_to(self.root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return {"folder": str(self.root.resolve()), "files": digest.hexdigest()}


def default_cache_dir() -> Path:
    """``$LIGHTNING_GAN_CACHE``, else ``$XDG_CACHE_HOME/lightning_gan`` (``~/.cache/lightning_gan``)."""
    if os.environ.get("LIGHTNING_GAN_CACHE"):
        return Path(os.environ["LIGHTNING_GAN_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "lightning_gan"


class RealFeatureCache:
    """Real-set features on disk, one file per (data set, split, size, extractor, ...) description.

    A second run or a second evaluation of the same real set with the same metric network reads
    the file instead of running the network over the real images again.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else default_cache_dir()

    def path(self, description: dict[str, Any]) -> Path:
        """The file for ``description`` (a JSON-able dict; its first value names the file)."""
        text = json.dumps(description, sort_keys=True, default=str)
        slug = "".join(c if c.isalnum() else "-" for c in str(next(iter(description.values()))))[-40:].strip("-")
        return self.folder / "real_features" / f"{slug}-{hashlib.sha1(text.encode()).hexdigest()[:16]}.pt"

    def get(self, description: dict[str, Any], compute: Callable[[], Features]) -> Features:
        """The cached features for ``description``, computed by ``compute`` (on every rank) when
        any rank lacks the file; rank zero writes it."""
        path = self.path(description)
        rank, world = _world()
        present = torch.tensor([int(path.is_file())])
        if world > 1:
            present = present.to(_collective_device())
            dist.all_reduce(present, op=dist.ReduceOp.MIN)
        if int(present):
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return Features(stored["features"])
        features = compute()
        if rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.partial")
            torch.save({"features": features.features, "description": json.dumps(description, default=str)}, partial)
            os.replace(partial, path)  # never a half-written cache file
        if world > 1:
            dist.barrier()
        return features


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def describe_real(datamodule: Any, dataset: Sequence[Any]) -> dict[str, Any]:
    """The cache description of a data module's training set."""
    return {
        "data": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}",
        "root": str(Path(datamodule.root).expanduser().resolve()) if hasattr(datamodule, "root") else None,
        "split": getattr(datamodule, "split", "train"),
        "dims": list(getattr(datamodule, "dims", []) or []),
        "count": len(dataset),
        # a limited-data run measures against its subset: which images, not only how many
        "subset": [getattr(datamodule, "subset", None), getattr(datamodule, "subset_seed", None)],
        # how images of another aspect ratio were made the size (absent for "crop", as before it was a choice)
        **({"fit": datamodule.fit} if getattr(datamodule, "fit", "crop") != "crop" else {}),
    }
