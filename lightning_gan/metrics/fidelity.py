"""FID, Inception Score, KID, precision/recall and density/coverage from features, in torch-fidelity's protocol.

The protocol details that decide a published number are torch-fidelity's defaults: FID from
the mean and unbiased covariance of 2048-d pool features; IS from the ``logits_unbiased`` head
over 10 splits of the samples shuffled with ``numpy.random.RandomState(2020)``; KID as the
unbiased MMD^2 with the cubic polynomial kernel ``(x.y / D + 1)^3``, averaged over 100 random
subsets of 1,000 samples from each set, drawn with the same seeded generator. IS and the
Frechet distance from statistics are torch-fidelity's own functions; precision, recall,
density and coverage are in :mod:`lightning_gan.metrics.prdc`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from lightning_gan.metrics.features import Features
from lightning_gan.metrics.frechet import frechet_distance, frechet_distance_from_statistics
from lightning_gan.metrics.prdc import PRDC_METRICS, precision_recall_density_coverage

__all__ = [
    "METRICS",
    "check_statistics_suffice",
    "fidelity_metrics",
    "inception_score",
    "kernel_inception_distance",
    "parse_metrics",
]

METRICS = ("fid", "is", "kid", "pr", "dc")
SEED = 2020  # torch-fidelity's rng_seed


def parse_metrics(metrics: str | Iterable[str]) -> tuple[str, ...]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> ``("fid", "kid")``, checked against :data:`METRICS`."""
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f"metrics {list(names)!r}: expected one or more of {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))  # in the order given, without repeats


def inception_score(logits: Tensor, *, splits: int = 10, seed: int = SEED) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` of ``exp(E_x KL(p(y|x) || p(y)))``.

    ``logits`` are ``(N, classes)`` (torch-fidelity's ``logits_unbiased``); the samples are shuffled
    with ``RandomState(seed)`` before splitting. torch-fidelity's ``isc_features_to_metric`` computes it.
    """
    from torch_fidelity.metric_isc import isc_features_to_metric

    if logits.dim() != 2 or len(logits) < splits:
        raise ValueError(f"logits of shape {tuple(logits.shape)}: expected (N, classes) with N >= splits={splits}")
    out = isc_features_to_metric(logits.cpu(), splits=splits, shuffle=True, rng_seed=seed)
    return out["inception_score_mean"], out["inception_score_std"]


def _unbiased_mmd2(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 between equal-sized sets under the kernel ``(x.y / D + 1)^3``."""
    m, dim = x.shape
    k_xx = (x @ x.T / dim + 1) ** 3
    k_yy = (y @ y.T / dim + 1) ** 3
    k_xy = (x @ y.T / dim + 1) ** 3
    off_diagonal_xx = k_xx.sum(dtype=torch.float64) - k_xx.diagonal().sum(dtype=torch.float64)
    off_diagonal_yy = k_yy.sum(dtype=torch.float64) - k_yy.diagonal().sum(dtype=torch.float64)
    return (off_diagonal_xx + off_diagonal_yy) / (m * (m - 1)) - 2 * k_xy.sum(dtype=torch.float64) / (m * m)


def kernel_inception_distance(
    features_a: Tensor, features_b: Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = SEED
) -> tuple[float, float]:
    """Mean and standard deviation of the unbiased MMD^2 over ``subsets`` random subsets.

    Each subset takes ``subset_size`` samples without replacement from each set (torch-fidelity's
    order of draws from ``RandomState(seed)``). Kernels are computed in float32 on the features'
    device and summed in float64.
    """
    if features_a.dim() != 2 or features_b.dim() != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"features of shapes {tuple(features_a.shape)} and {tuple(features_b.shape)}: expected (N, D) and (M, D)"
        )
    if min(len(features_a), len(features_b)) < subset_size:
        raise ValueError(
            f"KID subset_size={subset_size} is larger than a set ({len(features_a)} and {len(features_b)} samples): "
            "lower kid_subset_size or use more samples"
        )
    rng = np.random.RandomState(seed)
    a, b = features_a.float(), features_b.float()
    values = []
    for _ in range(subsets):
        index_a = torch.from_numpy(rng.choice(len(a), subset_size, replace=False)).to(a.device)
        index_b = torch.from_numpy(rng.choice(len(b), subset_size, replace=False)).to(b.device)
        values.append(float(_unbiased_mmd2(a[index_a], b[index_b])))
    return float(np.mean(values)), float(np.std(values))


def check_statistics_suffice(metrics: Iterable[str]) -> None:
    """Raise unless every metric in ``metrics`` can be computed with only the real set's mean and
    covariance: FID (and IS, which needs no real set)."""
    needs_features = [name for name in parse_metrics(metrics) if name not in ("fid", "is")]
    if needs_features:
        raise ValueError(
            f"{', '.join(needs_features)} compare(s) the real images' features, not only their mean and covariance: "
            "a statistics file gives FID alone. Give the real images instead (or ask for fid only)"
        )


def kid_subset_for(num_fake: int, num_real: int, kid_subset_size: int) -> int:
    """KID's subset size for sets this large: ``kid_subset_size``, or the smaller set's size (with a
    warning naming both numbers) when a set is smaller, as a folder of a few hundred images is."""
    smaller = min(num_fake, num_real)
    if smaller >= kid_subset_size:
        return kid_subset_size
    which = "real" if num_real <= num_fake else "generated"
    warnings.warn(
        f"KID: the {which} set has {smaller} images, fewer than kid_subset_size={kid_subset_size}; "
        f"KID uses subsets of {smaller} images instead (more images, or kid_subset_size={smaller}, silence this)",
        stacklevel=3,
    )
    return smaller


def fidelity_metrics(
    metrics: Iterable[str],
    fake: Features,
    real: Features | None = None,
    *,
    isc_splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    dc_k: int = 5,
    device: torch.device | str | None = None,
    real_statistics: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """The asked-for metrics: ``fid``; ``is_mean``, ``is_std``; ``kid_mean``, ``kid_std``; ``precision``,
    ``recall`` (``"pr"``); ``density``, ``coverage`` (``"dc"``).

    IS needs only ``fake``'s logits; the others compare ``fake`` with ``real``. FID uses each set's
    mean and covariance (computed once per :class:`Features`), or the features themselves when there
    are fewer samples than dimensions. KID's kernels and the distances of ``"pr"`` and ``"dc"``
    (``pr_k`` and ``dc_k`` nearest neighbours; both in one pass when both are asked for) are computed
    on ``device`` (default: where the features are; a GPU makes them quick).

    ``real_statistics``: the real set's ``(mu, sigma)`` instead of its features (a published
    statistics file): FID only, from ``fake``'s statistics; the other comparisons need features.
    """
    names = parse_metrics(metrics)
    if real_statistics is not None:
        check_statistics_suffice(names)
        if real is not None:
            raise ValueError("give the real features or the real statistics, not both")
    out: dict[str, float] = {}  # in the order asked for
    neighbourhoods: dict[str, float] | None = None
    for name in names:
        if name in PRDC_METRICS:
            if real is None:
                raise ValueError(f"{name} compares two sets: pass the real features too")
            if neighbourhoods is None:  # "pr" and "dc" share their distance passes
                asked = [m for m in names if m in PRDC_METRICS]
                fake_features = fake.features.to(device or fake.features.device)  # the distances are computed there
                neighbourhoods = precision_recall_density_coverage(
                    fake_features, real.features, metrics=asked, pr_k=pr_k, dc_k=dc_k
                )
            keys = ("precision", "recall") if name == "pr" else ("density", "coverage")
            out.update({key: neighbourhoods[key] for key in keys})
            continue
        if name == "is":
            if fake.logits is None:
                raise ValueError("the Inception Score needs class logits: use a feature extractor that returns them")
            out["is_mean"], out["is_std"] = inception_score(fake.logits, splits=isc_splits)
            continue
        if name == "fid" and real_statistics is not None:
            mu, sigma = real_statistics
            if len(mu) != fake.features.shape[1]:
                raise ValueError(
                    f"the real statistics are of {len(mu)}-d features and the generated images' of "
                    f"{fake.features.shape[1]}-d: expected statistics measured with the same feature extractor"
                )
            out["fid"] = frechet_distance_from_statistics(*fake.statistics, mu, sigma)
            continue
        if real is None:
            raise ValueError(f"{name.upper()} compares two sets: pass the real features too")
        if name == "fid":
            if max(len(fake), len(real)) < fake.features.shape[1]:  # fewer samples than dimensions
                out["fid"] = frechet_distance(fake.features.double().numpy(), real.features.double().numpy())
            else:
                out["fid"] = frechet_distance_from_statistics(*fake.statistics, *real.statistics)
        else:
            out["kid_mean"], out["kid_std"] = kernel_inception_distance(
                fake.features.to(device or fake.features.device),
                real.features.to(device or real.features.device),
                subsets=kid_subsets,
                subset_size=kid_subset_for(len(fake), len(real), kid_subset_size),
            )
    return out
