"""Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020), from features.

FID mixes fidelity (are the samples like real ones?) and diversity (do they cover the real set?)
in one number; these measures keep them apart. Each estimates a set's manifold as the union of
balls around its samples, ball ``B(x, NND_k(x))`` with ``NND_k(x)`` the distance from ``x`` to its
k-th nearest neighbour in its own set (not counting ``x`` itself). With generated features
``Y_1..Y_N`` and real features ``X_1..X_M``:

- precision ``= 1/N sum_j 1[exists i: |Y_j - X_i| <= NND_k(X_i)]``: the share of samples inside the real manifold;
- recall ``= 1/M sum_i 1[exists j: |X_i - Y_j| <= NND_k(Y_j)]``: the share of real images inside the generated one;
- density ``= 1/(k N) sum_j sum_i 1[|Y_j - X_i| < NND_k(X_i)]``: how many real balls hold a sample, on
  average, over k (about 1 when the two sets come from one distribution; above 1 when samples crowd
  where real images are dense);
- coverage ``= 1/M sum_i 1[min_j |X_i - Y_j| < NND_k(X_i)]``: the share of real balls that hold a sample.

Precision and recall count a point on a ball's boundary as inside (``<=``, as torch-fidelity's
``prc`` and the authors' code do), density and coverage as outside (``<``, as the authors'
``prdc`` package does); the two only differ when a distance equals a radius exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from lightning_gan._validate import check_int
from lightning_gan.metrics.neighbours import DEFAULT_CHUNK_SIZE, _check_features, distance_blocks, nearest_neighbours

__all__ = ["PRDC_METRICS", "precision_recall_density_coverage"]

PRDC_METRICS = ("pr", "dc")
_NAMES = {"pr": "precision/recall", "dc": "density/coverage"}


def _radii(features: Tensor, ks: Iterable[int], chunk_size: int) -> dict[int, Tensor]:
    """``{k: NND_k}``: each sample's distance to its k-th nearest other sample, for every k at once."""
    ks = sorted(set(ks))
    distances, _ = nearest_neighbours(features, features, ks[-1] + 1, chunk_size=chunk_size)  # column 0: itself
    return {k: distances[:, k] for k in ks}


def _balls_holding(block: Tensor, radii: Tensor) -> Tensor:
    """Per column ``c``: the number of rows ``r`` with ``block[r, c] < radii[r]``.

    Summed in strips of an eighth of the rows: a bool sum makes an int64 copy of its input, so
    each strip's copy is at most ``chunk_size^2`` bytes.
    """
    step = max(1, -(-len(block) // 8))
    counts = torch.zeros(block.shape[1], dtype=torch.long, device=block.device)
    for s in range(0, len(block), step):
        counts += (block[s : s + step] < radii[s : s + step, None]).sum(0)
    return counts


def precision_recall_density_coverage(
    fake: Tensor,
    real: Tensor,
    *,
    metrics: Iterable[str] = PRDC_METRICS,
    pr_k: int = 3,
    dc_k: int = 5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, float]:
    """``{"precision", "recall"}`` for ``"pr"`` and ``{"density", "coverage"}`` for ``"dc"``, fake against real.

    Args:
        fake: generated features ``(N, D)``; the computation runs on its device, in the wider of
            the two dtypes (float64 features give distances exact to about 1e-15).
        real: real features ``(M, D)``.
        metrics: any of ``"pr"``, ``"dc"``.
        pr_k: k of precision and recall (3: Kynkaanniemi et al., torch-fidelity, stylegan2-ada's ``pr50k3``).
        dc_k: k of density and coverage (5: Naeem et al., StudioGAN).
        chunk_size: rows and columns of one block of distances. Memory beyond the features is at
            most ``chunk_size^2 * (itemsize + 2)`` bytes (a block, a comparison mask and the int64
            copy a bool sum makes of a strip of it) plus cdist's ``2 * chunk_size * (D + 2) * itemsize``
            and ``O((N + M) * k)``, whatever ``N`` and ``M`` are: 160 MiB at the default 4096 with
            2,048-d float32 features (50,000 x 50,000 included; the features themselves take 2 x 391 MiB).

    Cost: three passes of distances (real-real, fake-fake for ``"pr"``, real-fake): ``M^2 + N^2 + M N``
    distances, ``2 D`` flops each. Both metrics together share every pass.
    """
    names = [m.strip().lower() for m in ([metrics] if isinstance(metrics, str) else metrics)]
    unknown = [m for m in names if m not in PRDC_METRICS]
    if unknown or not names:
        raise ValueError(f"metrics {names!r}: expected one or more of {', '.join(PRDC_METRICS)}")
    for name, value in (("pr_k", pr_k), ("dc_k", dc_k)):
        check_int(name, value, 1)
    _check_features("fake features", fake)
    _check_features("real features", real)
    if fake.shape[1] != real.shape[1]:
        raise ValueError(f"fake features {tuple(fake.shape)} and real {tuple(real.shape)}: expected the same D")
    k_of = {"pr": pr_k, "dc": dc_k}
    for name in names:  # every sample needs k other samples in its own set
        sets = [("real", real), ("generated", fake)] if name == "pr" else [("real", real)]
        for what, features in sets:
            if len(features) < k_of[name] + 1:
                raise ValueError(
                    f"{_NAMES[name]} with k={k_of[name]} needs at least {k_of[name] + 1} {what} samples "
                    f"(each sample's k-th nearest other sample); got {len(features)}"
                )
    dtype = torch.promote_types(fake.dtype, real.dtype)
    fake, real = fake.to(dtype), real.to(fake.device, dtype)
    real_radii = _radii(real, [k_of[name] for name in names], chunk_size)
    fake_radius = _radii(fake, [pr_k], chunk_size)[pr_k] if "pr" in names else None
    n, m = len(fake), len(real)
    fake_in_real = torch.zeros(n, dtype=torch.bool, device=fake.device)  # precision
    real_in_fake = torch.zeros(m, dtype=torch.bool, device=fake.device)  # recall
    balls_holding = torch.zeros(n, dtype=torch.long, device=fake.device)  # density
    nearest_fake = torch.full((m,), float("inf"), dtype=dtype, device=fake.device)  # coverage
    for i, j, block in distance_blocks(real, fake, chunk_size):  # block[r, c] = |X_(i+r) - Y_(j+c)|
        rows, columns = slice(i, i + block.shape[0]), slice(j, j + block.shape[1])
        if fake_radius is not None:
            fake_in_real[columns] |= (block <= real_radii[pr_k][rows, None]).any(0)
            real_in_fake[rows] |= (block <= fake_radius[None, columns]).any(1)
        if "dc" in names:
            balls_holding[columns] += _balls_holding(block, real_radii[dc_k][rows])
            nearest_fake[rows] = torch.minimum(nearest_fake[rows], block.min(1).values)
        del block  # before the next block is computed: one block alive at a time
    out: dict[str, float] = {}
    if "pr" in names:
        out["precision"] = fake_in_real.double().mean().item()
        out["recall"] = real_in_fake.double().mean().item()
    if "dc" in names:
        out["density"] = balls_holding.sum().item() / (dc_k * n)
        out["coverage"] = (nearest_fake < real_radii[dc_k]).double().mean().item()
    return out
