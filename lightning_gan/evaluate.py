"""``lightning-gan evaluate``: FID / IS / KID / precision-recall / density-coverage between two image folders,
or of a checkpoint against its data set (or FID against a statistics file); ``lightning-gan stats``: a real
set's statistics file; ``lightning-gan neighbours``: a checkpoint's samples beside their nearest training images."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lightning_gan._generator import metric_noise_mode
from lightning_gan._validate import check_int
from lightning_gan.metrics.features import (
    Features,
    ImageFolder,
    RealFeatureCache,
    dataset_features,
    describe_real,
    generator_features,
)
from lightning_gan.metrics.fidelity import check_statistics_suffice, fidelity_metrics, parse_metrics
from lightning_gan.metrics.inception import FeatureExtractor, InceptionV3, extractor_fingerprint
from lightning_gan.metrics.neighbours import Neighbours, PixelFeatures, _image, find_neighbours
from lightning_gan.metrics.statistics import ReferenceStatistics, load_statistics, save_statistics

__all__ = [
    "checkpoint_neighbours",
    "evaluate_checkpoint",
    "evaluate_folders",
    "evaluate_main",
    "format_table",
    "neighbours_main",
    "stats_main",
    "write_statistics",
]


def _extractor(weights: str | os.PathLike[str] | None, feature_extractor: nn.Module | None, device: str) -> nn.Module:
    net = InceptionV3(weights) if feature_extractor is None else FeatureExtractor(feature_extractor)
    return net.to(device)


def evaluate_folders(
    real: str | os.PathLike[str] | None,
    fake: str | os.PathLike[str],
    metrics: str | Iterable[str] = ("fid",),
    *,
    weights: str | os.PathLike[str] | None = None,
    feature_extractor: nn.Module | None = None,
    batch_size: int = 100,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    dc_k: int = 5,
    progress: bool = False,
    real_stats: str | os.PathLike[str] | None = None,
) -> dict[str, float]:
    """Metrics of the images in ``fake`` against those in ``real`` (IS is of ``fake`` alone), or FID
    against the statistics file ``real_stats`` (``lightning-gan stats``'s, pytorch-fid's or clean-fid's).

    Both folders are read recursively as RGB; the real folder's features are cached. ``pr_k`` and
    ``dc_k`` are the nearest neighbours of precision/recall and density/coverage.
    """
    names = parse_metrics(metrics)
    statistics = _statistics_for(names, real, real_stats)
    fake_set = ImageFolder(fake)
    net = _extractor(weights, feature_extractor, device)
    options: dict[str, Any] = {"batch_size": batch_size, "device": device, "progress": progress}
    if statistics is not None:
        _check_statistics_fit(statistics, net, lambda: _image(fake_set[0])[None].to(device))
        real_features = None
    else:
        real_set = ImageFolder(real)  # type: ignore[arg-type]
        real_features = _real_features(real_set, real_set.identity(), net, cache_dir, options)
    fake_features = dataset_features(fake_set, net, **options)
    return fidelity_metrics(
        names,
        fake_features,
        real_features,
        kid_subset_size=kid_subset_size,
        pr_k=pr_k,
        dc_k=dc_k,
        device=device,
        real_statistics=None if statistics is None else statistics.moments,
    )


def _statistics_for(
    names: tuple[str, ...], real: str | os.PathLike[str] | None, real_stats: str | os.PathLike[str] | None
) -> ReferenceStatistics | None:
    """The statistics file to compare with (checked before any compute), or None to compare with ``real``."""
    if real_stats is None:
        return None
    if real is not None:
        raise ValueError("give the real images or a statistics file (real_stats), not both")
    check_statistics_suffice(names)
    return load_statistics(real_stats)


def _check_statistics_fit(statistics: ReferenceStatistics, net: nn.Module, probe: Callable[[], torch.Tensor]) -> None:
    """Fail before the evaluation when the file's features are not the extractor's (another dimension);
    warn when the file names another extractor than ``net``."""
    with torch.no_grad():
        dims = net(probe().float())[0].shape[1]
    where = statistics.path
    if dims != statistics.dims:
        raise ValueError(
            f"{where} holds statistics of {statistics.dims}-d features, but the feature extractor "
            f"({extractor_fingerprint(net)}) makes {dims}-d ones: expected a file measured with the same extractor"
        )
    recorded = (statistics.protocol or {}).get("extractor")
    if recorded is not None and recorded != extractor_fingerprint(net):
        warnings.warn(
            f"{where} was measured with the feature extractor {recorded}, this evaluation uses "
            f"{extractor_fingerprint(net)}: the FID compares different feature spaces",
            stacklevel=3,
        )


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    num_samples: int,
    metrics: str | Iterable[str] = ("fid",),
    *,
    real: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    feature_extractor: nn.Module | None = None,
    batch_size: int = 100,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    dc_k: int = 5,
    seed: int = 0,
    progress: bool = False,
    real_stats: str | os.PathLike[str] | None = None,
) -> dict[str, float]:
    """Metrics of ``num_samples`` images generated by a checkpoint against its data set (the
    training split of the data module recorded in the checkpoint), against the folder ``real``, or
    (FID) against the statistics file ``real_stats``.

    The images are those ``FidelityMetrics(seed=seed, batch_size=batch_size)`` measures during training
    (generated batch ``j`` draws its noise from ``(seed, j)``, so the batch size is part of the noise;
    StyleGAN2's per-layer noise is drawn fresh for every image from the same seeds).
    """
    from lightning_gan.sampling import load_gan

    names = parse_metrics(metrics)
    check_int("num_samples", num_samples, 2)
    statistics = _statistics_for(names, real, real_stats)
    gan = load_gan(checkpoint, map_location=device)
    net = _extractor(weights, feature_extractor, device)
    options: dict[str, Any] = {"batch_size": batch_size, "device": device, "progress": progress}
    noise_mode = metric_noise_mode(gan.sampling_generator)  # fresh per-layer noise (StyleGAN2), as in training
    if statistics is not None:
        _check_statistics_fit(statistics, net, lambda: gan.generate(1, seed=seed))
        real_features = None
    else:
        real_set, description = _real_set(checkpoint, real)
        real_features = _real_features(real_set, description, net, cache_dir, options)
    fake_features = generator_features(
        lambda count, s: gan.generate(count, seed=s, noise_mode=noise_mode), net, num_samples, seed=seed, **options
    )
    return fidelity_metrics(
        names,
        fake_features,
        real_features,
        kid_subset_size=kid_subset_size,
        pr_k=pr_k,
        dc_k=dc_k,
        device=device,
        real_statistics=None if statistics is None else statistics.moments,
    )


def _real_set(checkpoint: str | os.PathLike[str], real: str | os.PathLike[str] | None) -> tuple[Any, dict[str, Any]]:
    """The real images to compare a checkpoint with (the folder ``real``, else the training split of
    the data module recorded in the checkpoint) and their cache description."""
    if real is not None:
        folder = ImageFolder(real)
        return folder, folder.identity()
    datamodule = _datamodule_of(checkpoint)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule.train_dataset, describe_real(datamodule, datamodule.train_dataset)


def _real_features(
    real_set: Any, description: dict[str, Any], net: nn.Module, cache_dir: Any, options: dict[str, Any]
) -> Features:
    """The real set's features, from the cache when an earlier evaluation stored them."""
    return RealFeatureCache(cache_dir).get(
        {**description, "extractor": extractor_fingerprint(net)}, lambda: dataset_features(real_set, net, **options)
    )


def _datamodule_of(checkpoint: str | os.PathLike[str]) -> Any:
    """The data module a checkpoint was trained on, rebuilt from the record GANModule keeps."""
    from lightning_gan.module import GANModule
    from lightning_gan.nets._recordable import import_class

    meta = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    spec = meta.get(GANModule.CHECKPOINT_DATA_KEY)
    if not spec:
        raise ValueError(
            f"{checkpoint} does not record its data set (trained with a data module outside lightning_gan.data, "
            "or before this record existed): compare against a folder of real images with --real DIR"
        )
    cls = import_class(spec["class_path"], "data module")
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in spec["init_args"].items() if k in accepted})


def write_statistics(
    out: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    real: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    feature_extractor: nn.Module | None = None,
    batch_size: int = 100,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> ReferenceStatistics:
    """The feature mean and covariance of a real set (the folder ``real``, or the data set recorded in
    ``checkpoint``), written to ``out`` (``.npz``: ``mu``, ``sigma``, ``protocol``) and returned.

    The ``protocol`` says how they were measured: the feature extractor, the real set (its description,
    as the feature cache keys it) and its image count, and the torch-fidelity and lightning-gan versions.
    """
    import torch_fidelity

    from lightning_gan import __version__

    if (checkpoint is None) == (real is None):
        raise ValueError(
            "write_statistics: give the folder real or a checkpoint whose data set to measure, one of them"
        )
    if Path(out).suffix != ".npz":
        raise ValueError(f"out={str(out)!r}: expected a .npz path (pytorch-fid's and clean-fid's format)")
    if checkpoint is None:
        folder = ImageFolder(real)  # type: ignore[arg-type]
        real_set, description = folder, folder.identity()
    else:
        real_set, description = _real_set(checkpoint, real)
    net = _extractor(weights, feature_extractor, device)
    features = _real_features(
        real_set, description, net, cache_dir, {"batch_size": batch_size, "device": device, "progress": progress}
    )
    mu, sigma = features.statistics
    protocol = {
        "extractor": extractor_fingerprint(net),
        "dims": int(features.features.shape[1]),
        "count": len(features),
        "real": description,
        "torch_fidelity": torch_fidelity.__version__,
        "lightning_gan": __version__,
    }
    return load_statistics(save_statistics(out, mu, sigma, protocol))


def stats_main(argv: list[str]) -> ReferenceStatistics:
    """``lightning-gan stats (CKPT | --real DIR) --out FILE.npz``."""
    parser = argparse.ArgumentParser(
        prog="lightning-gan stats",
        description="A real set's InceptionV3 feature mean and covariance as a .npz file (keys mu and sigma, float64: "
        "the layout of pytorch-fid and clean-fid) with the protocol beside them; evaluate --real-stats reads it.",
    )
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint: measure the data set it was trained on")
    parser.add_argument("--real", help="a folder of real images (instead of a checkpoint's data set)")
    parser.add_argument("--out", required=True, help="the statistics file to write, a .npz file")
    _add_feature_options(parser)
    args = parser.parse_args(argv)
    if (args.checkpoint is None) == (args.real is None):
        parser.error("give a checkpoint (its data set) or --real DIR, one of them")
    if Path(args.out).suffix != ".npz":
        parser.error(f"--out {args.out!r}: expected a .npz file")
    statistics = write_statistics(
        args.out,
        checkpoint=args.checkpoint,
        real=args.real,
        weights=args.weights,
        batch_size=args.batch_size,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=True,
    )
    protocol = statistics.protocol or {}
    print(f"wrote {statistics.path}: mu ({statistics.dims},), sigma ({statistics.dims}, {statistics.dims}) "
          f"of {protocol.get('count')} images, {protocol.get('extractor')}")  # fmt: skip
    return statistics


def _add_feature_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that runs the metric network: --weights, --batch-size, --cache-dir, --device."""
    parser.add_argument("--weights", help="local InceptionV3 weights file in torch-fidelity's format (no download)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per forward pass (default 100)")
    parser.add_argument("--cache-dir", help="where real features are cached (default ~/.cache/lightning_gan)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def format_table(values: dict[str, float]) -> str:
    """A two-column text table of metric values."""
    width = max(len("metric"), *(len(k) for k in values))
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
    lines += [f"{name:<{width}}  {value:.6g}" for name, value in values.items()]
    return "\n".join(lines)


def evaluate_main(argv: list[str]) -> dict[str, float]:
    """``lightning-gan evaluate (--real DIR --fake DIR | CKPT --num-samples N) --metrics fid,is,kid,pr,dc``."""
    parser = argparse.ArgumentParser(
        prog="lightning-gan evaluate",
        description="FID / IS / KID / precision-recall / density-coverage with torch-fidelity's InceptionV3 and "
        "protocol: two image folders, or a checkpoint against the data set it was trained on.",
    )
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint written by training (instead of --fake)")
    parser.add_argument("--real", help="folder of real images (with a checkpoint: instead of its data set)")
    parser.add_argument("--fake", help="folder of generated images")
    parser.add_argument(
        "--real-stats",
        help="FID against this statistics file instead of real images "
        "(.npz with mu and sigma: lightning-gan stats', pytorch-fid's, clean-fid's)",
    )
    parser.add_argument(
        "--num-samples", type=int, help="images to generate from the checkpoint (50000: paper protocol)"
    )
    parser.add_argument("--metrics", default="fid", help="comma-separated: fid, is, kid, pr, dc (default fid)")
    parser.add_argument("--json", dest="json_out", help="write the numbers to this JSON file")
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--pr-k", type=int, default=3, help="nearest neighbours of precision/recall (default 3)")
    parser.add_argument("--dc-k", type=int, default=5, help="nearest neighbours of density/coverage (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed for the checkpoint's samples (default 0)")
    _add_feature_options(parser)
    args = parser.parse_args(argv)
    try:
        names = parse_metrics(args.metrics)
    except ValueError as err:
        parser.error(f"--metrics {args.metrics!r}: {err}")
    for option, value in (("--pr-k", args.pr_k), ("--dc-k", args.dc_k)):
        if value < 1:
            parser.error(f"{option} {value}: expected at least 1")
    if args.real_stats is not None:
        if args.real:
            parser.error("give --real DIR or --real-stats FILE.npz, not both")
        try:
            check_statistics_suffice(names)
        except ValueError as err:
            parser.error(f"--metrics {args.metrics!r} with --real-stats: {err}")
    if args.checkpoint is None:
        if not ((args.real or args.real_stats) and args.fake):
            parser.error(
                "give --real DIR (or --real-stats FILE.npz) and --fake DIR, or a checkpoint with --num-samples N"
            )
        if args.num_samples is not None:
            parser.error("--num-samples goes with a checkpoint, not with --fake")
    else:
        if args.fake:
            parser.error("give a checkpoint or --fake DIR, not both")
        if args.num_samples is None or args.num_samples < 2:
            parser.error(f"--num-samples {args.num_samples}: a checkpoint needs --num-samples N (N >= 2)")
    common: dict[str, Any] = {
        "weights": args.weights,
        "batch_size": args.batch_size,
        "device": args.device,
        "cache_dir": args.cache_dir,
        "kid_subset_size": args.kid_subset_size,
        "pr_k": args.pr_k,
        "dc_k": args.dc_k,
        "progress": True,
        "real_stats": args.real_stats,
    }
    if args.checkpoint is None:
        values = evaluate_folders(args.real, args.fake, names, **common)
    else:
        values = evaluate_checkpoint(args.checkpoint, args.num_samples, names, real=args.real, seed=args.seed, **common)
    print(format_table(values))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(values, indent=2) + "\n")
    return values


def checkpoint_neighbours(
    checkpoint: str | os.PathLike[str],
    num_samples: int = 8,
    k: int = 5,
    *,
    space: str = "features",
    real: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    feature_extractor: nn.Module | None = None,
    batch_size: int = 100,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Neighbours:
    """``num_samples`` images of a checkpoint (``generate(num_samples, seed=seed)``) and their ``k`` nearest
    training images (the data module recorded in the checkpoint, or the folder ``real``).

    ``space="features"`` searches in the metric network's features (InceptionV3 from ``weights``, or
    ``feature_extractor``), with the real features cached as ``evaluate`` caches them;
    ``space="pixels"`` in root-mean-square pixel distance (:class:`~lightning_gan.metrics.neighbours.PixelFeatures`).
    """
    from lightning_gan.sampling import load_gan

    if space not in ("features", "pixels"):
        raise ValueError(f"space={space!r}: expected 'features' or 'pixels'")
    if space == "pixels" and (weights is not None or feature_extractor is not None):
        raise ValueError("space='pixels' compares pixels: weights and feature_extractor are for space='features'")
    for name, value in (("num_samples", num_samples), ("k", k)):
        check_int(name, value, 1)
    gan = load_gan(checkpoint, map_location=device)
    samples = gan.generate(num_samples, seed=seed).float()
    if samples.dim() != 4:
        raise ValueError(f"the checkpoint makes samples of shape {tuple(samples.shape[1:])}: neighbours needs images")
    real_set, description = _real_set(checkpoint, real)
    options: dict[str, Any] = {"batch_size": batch_size, "device": device, "progress": progress}
    if space == "pixels":
        channels = max(samples.shape[1], _image(real_set[0]).shape[0])  # grey samples against an RGB folder
        net: nn.Module = FeatureExtractor(PixelFeatures(channels)).to(device)
        real_features = dataset_features(real_set, net, **options)  # not cached: it is the images themselves
    else:
        net = _extractor(weights, feature_extractor, device)
        real_features = _real_features(real_set, description, net, cache_dir, options)
    with torch.no_grad():
        sample_features = net(samples)[0]
    return find_neighbours(samples, sample_features, real_features.features.to(device), real_set, k)


def neighbours_main(argv: list[str]) -> Neighbours:
    """``lightning-gan neighbours CKPT --num N --k K --out FILE.png [--space features|pixels]``."""
    parser = argparse.ArgumentParser(
        prog="lightning-gan neighbours",
        description="Generated samples beside their K nearest training images, with the distances: "
        "is the generator copying its training images?",
    )
    parser.add_argument("checkpoint", help="a checkpoint written by training")
    parser.add_argument("--num", type=int, default=8, help="generated samples, one row each (default 8)")
    parser.add_argument("--k", type=int, default=5, help="nearest training images per sample (default 5)")
    parser.add_argument("--out", required=True, help="the picture, a .png file")
    parser.add_argument(
        "--space",
        choices=("features", "pixels"),
        default="features",
        help="distances between InceptionV3 features (default) or between pixels (root-mean-square, [-1, 1] scale)",
    )
    parser.add_argument("--real", help="folder of real images to search instead of the checkpoint's data set")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the samples (default 0)")
    _add_feature_options(parser)
    args = parser.parse_args(argv)
    for option, value in (("--num", args.num), ("--k", args.k)):
        if value < 1:
            parser.error(f"{option} {value}: expected at least 1")
    if Path(args.out).suffix.lower() != ".png":
        parser.error(f"--out {args.out!r}: expected a .png file")
    if args.space == "pixels" and args.weights:
        parser.error("--weights is the metric network of --space features, not of --space pixels")
    result = checkpoint_neighbours(
        args.checkpoint,
        args.num,
        args.k,
        space=args.space,
        real=args.real,
        weights=args.weights,
        batch_size=args.batch_size,
        device=args.device,
        cache_dir=args.cache_dir,
        seed=args.seed,
        progress=True,
    )
    print(result.table())
    print(f"wrote {result.picture(args.out)}")
    return result
