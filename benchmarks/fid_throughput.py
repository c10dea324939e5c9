"""Images per second of our FID/IS feature pass vs torch-fidelity's, on the same images and weights.

    python benchmarks/fid_throughput.py [--num 64] [--batch-size 32] [--repeats 3] [--weights FILE]

Both sides take the same in-memory uint8 images (32 px RGB, the CIFAR-10 case), run the same
InceptionV3 over them (resize to 299 px inside the network) and compute the Inception Score from
the logits: ours through ``lightning_gan.metrics`` (the path of ``FidelityMetrics`` and
``lightning-gan evaluate``), theirs through ``torch_fidelity.calculate_metrics(isc=True)`` with
its cache off. Runs alternate in one process (ours, theirs, ours, ...); the JSON line holds the
median images/s of each and the ratio ours / theirs (the goal: >= 1.0). Without ``--weights``
(no network here) a random-weight InceptionV3 with calibrated batch norm is written to a temporary
file: the speed is the same as with the real weights. The GPU is used when present.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset

from lightning_gan.metrics import InceptionV3, inception_score, random_inception_weights
from lightning_gan.metrics.features import dataset_features


class _UInt8Images(Dataset):
    """What torch-fidelity reads: one uint8 (3, H, W) tensor per item."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


class _Floats(_UInt8Images):
    """What our pipeline reads: images in [-1, 1], whole batches at once."""

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        return self.images[indices].float().div_(127.5).sub_(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=64, help="images per run (10000 on a GPU)")
    parser.add_argument("--batch-size", type=int, default=32, help="the same for both sides")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", help="torch-fidelity InceptionV3 weights file (default: random, calibrated)")
    args = parser.parse_args()
    import torch_fidelity

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    images = torch.randint(0, 256, (args.num, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as folder:
        weights = args.weights or random_inception_weights(
            Path(folder) / "inception.pth", images[:8].float() / 127.5 - 1
        )
        net = InceptionV3(weights).to(device)

        def ours() -> float:
            features = dataset_features(_Floats(images), net, batch_size=args.batch_size, device=device)
            return inception_score(features.logits)[0]

        def theirs() -> float:
            out = torch_fidelity.calculate_metrics(
                input1=_UInt8Images(images), isc=True, cuda=cuda, batch_size=args.batch_size, cache=False,
                feature_extractor_weights_path=str(weights), verbose=False,
            )  # fmt: skip
            return out["inception_score_mean"]

        ours(), theirs()  # warm-up (cuDNN autotuning, first allocations)
        rates: dict[str, list[float]] = {"ours": [], "torch_fidelity": []}
        scores = {}
        for _ in range(args.repeats):
            for name, run in (("ours", ours), ("torch_fidelity", theirs)):
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                scores[name] = run()
                if cuda:
                    torch.cuda.synchronize()
                rates[name].append(args.num / (time.perf_counter() - start))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name() if cuda else "cpu",
                "threads": torch.get_num_threads(),
                "images": args.num,
                "batch_size": args.batch_size,
                "images_per_s": {k: round(v, 2) for k, v in medians.items()},
                "ratio_ours_over_torch_fidelity": round(medians["ours"] / medians["torch_fidelity"], 3),
                "inception_score": scores,  # the same images and weights: the same number
            }
        )
    )


if __name__ == "__main__":
    main()
