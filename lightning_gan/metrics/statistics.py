"""Reference statistics in and out: a set's feature mean and covariance as a ``.npz`` file in the layout
pytorch-fid and clean-fid use (keys ``mu`` and ``sigma``, float64), with how they were measured beside them."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ReferenceStatistics", "load_statistics", "save_statistics"]


@dataclass(frozen=True)
class ReferenceStatistics:
    """A real set's feature mean ``mu`` ``(D,)`` and covariance ``sigma`` ``(D, D)`` (float64), and the
    ``protocol`` they were measured with (``None`` for a file written by another tool)."""

    mu: np.ndarray
    sigma: np.ndarray
    protocol: dict[str, Any] | None
    path: Path

    @property
    def dims(self) -> int:
        return len(self.mu)

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)``, as :func:`~lightning_gan.metrics.fidelity.fidelity_metrics` takes them."""
        return self.mu, self.sigma


def save_statistics(path: str | os.PathLike[str], mu: np.ndarray, sigma: np.ndarray, protocol: dict[str, Any]) -> Path:
    """Write ``mu``, ``sigma`` (float64) and ``protocol`` (as a JSON string under the key ``protocol``)
    to ``path`` (``.npz``, uncompressed): pytorch-fid's ``np.load(path)['mu']`` and clean-fid read it."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"statistics file {str(path)!r}: expected a .npz path (pytorch-fid's and clean-fid's format)")
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    _check_shapes(mu, sigma, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:  # np.savez would append .npz to a name without it; the name is checked above
        np.savez(file, mu=mu, sigma=sigma, protocol=np.array(json.dumps(protocol, sort_keys=True, default=str)))
    return path


def load_statistics(path: str | os.PathLike[str]) -> ReferenceStatistics:
    """Read a ``.npz`` file with ``mu`` and ``sigma`` (ours, pytorch-fid's ``fid_stats_*.npz``, clean-fid's),
    without unpickling anything; ``protocol`` is ``None`` when the file has none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no statistics file {path}: expected a .npz file with mu and sigma (lightning-gan stats)"
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .npz file (not a zip archive): expected mu and sigma saved with numpy.savez")
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in ("mu", "sigma") if key not in data.files]
        if missing:
            raise ValueError(
                f"{path} has the keys {sorted(data.files)}, not {' and '.join(missing)}: expected a statistics "
                "file with mu (D,) and sigma (D, D), as lightning-gan stats, pytorch-fid and clean-fid write"
            )
        mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
        protocol = json.loads(str(data["protocol"])) if "protocol" in data.files else None
    _check_shapes(mu, sigma, path)
    return ReferenceStatistics(mu, sigma, protocol, path)


def _check_shapes(mu: np.ndarray, sigma: np.ndarray, path: Path) -> None:
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise ValueError(f"{path}: mu of shape {mu.shape} and sigma of shape {sigma.shape}; expected (D,) and (D, D)")
