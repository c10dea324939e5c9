"""The Frechet distance between two Gaussians fitted to feature sets (the distance behind FID)."""

from __future__ import annotations

import numpy as np

__all__ = ["frechet_distance", "frechet_distance_from_statistics", "gaussian_statistics"]


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N - 1) covariance of ``(N, D)`` features, in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"features of shape {x.shape}: expected (N, D) with N >= 2")
    return x.mean(0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def frechet_distance_from_statistics(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """``|mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2))``, by torch-fidelity's ``fid_statistics_to_metric``.

    ``Tr((S_a S_b)^(1/2))`` is the sum of the square roots of the eigenvalues of ``S_a S_b``
    (real and >= 0 up to rounding, as ``S_a S_b`` is similar to a positive semi-definite
    matrix); it stays finite where a matrix square root of a singular product (fewer samples
    than dimensions) does not.
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape or cov_a.shape != (len(mu_a), len(mu_a)):
        raise ValueError(
            f"statistics of shapes mu {mu_a.shape}, {mu_b.shape} and cov {cov_a.shape}, {cov_b.shape}: "
            "expected means (D,) and covariances (D, D) of the same D"
        )
    stats_a, stats_b = {"mu": mu_a, "sigma": cov_a}, {"mu": mu_b, "sigma": cov_b}
    return float(fid_statistics_to_metric(stats_a, stats_b, verbose=False)[KEY_METRIC_FID])


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two feature sets ``(N, D)`` and ``(M, D)``.

    With fewer samples than dimensions (small evaluations with 2,048-d Inception features) the
    covariances have rank below ``D`` and ``Tr((S_a S_b)^(1/2))`` is the sum of the singular values
    of ``B A^T / sqrt((N - 1)(M - 1))`` (``A``, ``B`` the centred features): an ``M x N`` problem
    instead of a ``D x D`` eigendecomposition, and the same number.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(frechet_distance(rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + 1), 1)
        2.0
    """
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"frechet_distance: shapes {a.shape} and {b.shape}; expected (N, D) and (M, D) with N, M >= 2")
    if max(len(a), len(b)) >= a.shape[1]:
        return frechet_distance_from_statistics(*gaussian_statistics(a), *gaussian_statistics(b))
    mu_a, mu_b = a.mean(0), b.mean(0)
    centred_a, centred_b = a - mu_a, b - mu_b
    scale_a, scale_b = len(a) - 1, len(b) - 1
    trace_sqrt = np.linalg.svd(centred_b @ centred_a.T, compute_uv=False).sum() / np.sqrt(scale_a * scale_b)
    diff = mu_a - mu_b
    traces = (centred_a**2).sum() / scale_a + (centred_b**2).sum() / scale_b
    return float(diff @ diff + traces - 2 * trace_sqrt)
