"""Peak host memory and time of precision/recall/density/coverage on N x N random features.

Each implementation runs in a fresh process (``--which``; without it, this script runs every one in
turn), so the peak resident memory (Linux ``VmHWM``, reset before the call through
``/proc/self/clear_refs``) is not coloured by earlier allocations in the same process. Prints one
JSON line per implementation:

    python benchmarks/prdc_memory.py --num 10000 --dim 64
    python benchmarks/prdc_memory.py --num 10000 --dim 64 --which ours --chunk-size 1024

``ours`` computes all four measures; the torch-fidelity rows compute precision and recall only
(``prc_features_to_metric``; ``save_cpu_ram=True`` is its chunked mode, ``False`` its default).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

IMPLEMENTATIONS = ("ours", "torch-fidelity-chunked", "torch-fidelity-default")


def _peak_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def _mmap_large_blocks() -> None:
    """glibc: serve every allocation of 1 MiB or more by its own mmap, given back at free, so the resident
    memory follows the live tensors (with its default, adaptive threshold, freed blocks sometimes stay in
    the heap and the peak varied between runs by up to 45 MiB)."""
    import ctypes

    M_MMAP_THRESHOLD = -3
    ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1 << 20)


def _without_lightning() -> None:
    """Make ``lightning_gan.metrics`` importable without ``lightning_gan/__init__.py``, which imports
    Lightning (about 4 s of start-up that this measurement does not need)."""
    import types
    from pathlib import Path

    package = types.ModuleType("lightning_gan")
    package.__path__ = [str(Path(__file__).resolve().parents[1] / "lightning_gan")]
    sys.modules.setdefault("lightning_gan", package)


def measure(which: str, num: int, dim: int, chunk_size: int, threads: int) -> dict:
    _mmap_large_blocks()
    _without_lightning()
    import torch

    from lightning_gan.metrics.neighbours import DEFAULT_CHUNK_SIZE
    from lightning_gan.metrics.prdc import precision_recall_density_coverage

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    real, fake = torch.randn(num, dim, generator=generator), torch.randn(num, dim, generator=generator)
    chunk_size = chunk_size or DEFAULT_CHUNK_SIZE
    if which == "ours":
        run = lambda f, r: precision_recall_density_coverage(f, r, chunk_size=chunk_size)
    else:
        from torch_fidelity.metric_prc import prc_features_to_metric

        save_cpu_ram = which == "torch-fidelity-chunked"
        run = lambda f, r: prc_features_to_metric(f, r, save_cpu_ram=save_cpu_ram, verbose=False)
    run(fake[:100], real[:100])  # first-call allocations out of the measurement
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # peak RSS := current RSS
    before = _peak_mib()
    start = time.perf_counter()
    values = run(fake, real)
    seconds = time.perf_counter() - start
    itemsize = 4
    return {
        "which": which,
        "num": num,
        "dim": dim,
        "chunk_size": chunk_size if which == "ours" else None,
        "threads": threads,
        "seconds": round(seconds, 3),
        "peak_mib": round(_peak_mib() - before, 1),
        "bound_mib": round((chunk_size**2 * (itemsize + 2) + 2 * chunk_size * (dim + 2) * itemsize) / 2**20, 1)
        if which == "ours"
        else None,
        "full_matrix_mib": round(num * num * itemsize / 2**20, 1),
        "values": {key: round(float(value), 6) for key, value in values.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=10_000, help="real and generated samples each (default 10000)")
    parser.add_argument("--dim", type=int, default=64, help="feature dimension (InceptionV3: 2048; default 64)")
    parser.add_argument("--chunk-size", type=int, default=0, help="ours: rows and columns per block (0: default)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--which", choices=IMPLEMENTATIONS, help="one implementation, in this process")
    args = parser.parse_args()
    if args.which:
        print(json.dumps(measure(args.which, args.num, args.dim, args.chunk_size, args.threads)), flush=True)
        return
    for which in IMPLEMENTATIONS:
        command = [sys.executable, __file__, "--which", which, *sys.argv[1:]]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
