"""The Frechet distance between two Gaussians fitted to feature sets (the distance behind FID)."""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["frechet_distance"]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between Gaussians fitted to two sets.

    Args:
        features_a: ``(N, D)`` features of one set (N >= 2).
        features_b: ``(M, D)`` features of the other.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(frechet_distance(rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + 1), 1)
        2.0
    """
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"frechet_distance: shapes {a.shape} and {b.shape}; expected (N, D) and (M, D) with N, M >= 2")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False).reshape(a.shape[1], -1), np.cov(b, rowvar=False).reshape(b.shape[1], -1)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(covmean):  # numerical noise can give tiny imaginary parts
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))
