"""Fingerprint the weights that fixed seeds give, to show a refactor changes no result.

Trains every CPU recipe (and models the recipes do not cover: WGAN-GP with 3 D steps, hinge loss
with spectral norm and lazy R1, the digits with DiffAugment and with ADA at p 0.5) for a few generator iterations through the
``lightning-gan fit`` command, and prints a SHA-256 of the networks' weights in ``last.ckpt``.
Run it on two checkouts and compare the lines::

    git worktree add /tmp/before <commit before the change>
    python benchmarks/same_weights.py --root /tmp/before > before.txt
    python benchmarks/same_weights.py --root . > after.txt
    diff before.txt after.txt && echo bitwise the same

``--root`` is the checkout whose package and recipes are used. It understands both the
regularizer keywords of before the phase redesign (``gp_weight``, ``r1_gamma``) and the
regularizer objects after it, so the same models are built on either side.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CPU_RECIPES = ("gaussian1d", "ring8", "grid25", "digits_dcgan", "digits_cgan")
NETWORK_PREFIXES = ("generator.", "discriminator.", "generator_ema.")


def _models(old_api: bool) -> dict[str, list[str]]:
    """Extra models as overrides of the digits recipe, in the keywords the checkout understands."""
    init = "--model.init_args."
    if old_api:
        gp = [f"{init}gp_weight=10.0"]
        lazy_r1 = [f"{init}r1_gamma=1.0", f"{init}r1_interval=4"]
    else:
        gp = [
            f"{init}d_regularizers=[{{class_path: lightning_gan.regularizers.GradientPenalty, init_args: {{weight: 10.0}}}}]"
        ]
        lazy_r1 = [
            f"{init}d_regularizers=[{{class_path: lightning_gan.regularizers.R1, init_args: {{gamma: 1.0, interval: 4}}}}]"
        ]
    resnet = [
        f"{init}generator=lightning_gan.nets.ResNetGenerator",
        f"{init}generator.init_args.latent_dim=64",
        f"{init}generator.init_args.image_shape=[1, 16, 16]",
        f"{init}generator.init_args.width=32",
        f"{init}discriminator=lightning_gan.nets.ResNetDiscriminator",
        f"{init}discriminator.init_args.image_shape=[1, 16, 16]",
        f"{init}discriminator.init_args.width=32",
    ]
    augment = f"{init}augment="
    return {
        "digits_wgan_gp_3d": ["digits_dcgan", f"{init}loss=wasserstein", f"{init}d_steps=3", *gp],
        "digits_hinge_sn_lazy_r1": ["digits_dcgan", f"{init}loss=hinge", *resnet, *lazy_r1],
        "digits_diffaugment": [
            "digits_dcgan",
            f'{augment}{{class_path: lightning_gan.augment.DiffAugment, init_args: {{policy: "translation,cutout"}}}}',
        ],
        "digits_ada_p0.5": [
            "digits_dcgan",
            f"{augment}{{class_path: lightning_gan.augment.AdaptiveAugment, init_args: {{p: 0.5}}}}",
        ],
    }


def fingerprint(checkpoint: str) -> str:
    """SHA-256 over the networks' tensors in ``checkpoint``, in key order."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    digest = hashlib.sha256()
    for key in sorted(k for k in state if k.startswith(NETWORK_PREFIXES)):
        digest.update(key.encode())
        digest.update(state[key].contiguous().numpy().tobytes())
    return digest.hexdigest()


def train(root: Path, recipe: str, overrides: list[str], steps: int, out: Path) -> str:
    command = [
        sys.executable, "-c", "import sys; from lightning_gan.cli import main; sys.argv[0] = 'lightning-gan'; main()",
        "fit", "--config", str(root / "recipes" / f"{recipe}.yaml"),
        f"--trainer.max_steps={steps}", f"--trainer.default_root_dir={out}", "--trainer.logger=false",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", *overrides,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root), "WANDB_MODE": "disabled"}
    subprocess.run(command, check=True, env=env, cwd=out, stdout=subprocess.DEVNULL)
    (checkpoint,) = glob.glob(str(out / "**" / "last.ckpt"), recursive=True)
    return fingerprint(checkpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="checkout to run")
    parser.add_argument("--steps", type=int, default=40, help="generator iterations per run")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these (default: all)")
    args = parser.parse_args()
    root = args.root.resolve()
    old_api = "class R1" not in (root / "lightning_gan" / "regularizers.py").read_text()
    runs = {name: [name] for name in CPU_RECIPES} | _models(old_api)
    runs = {name: run for name, run in runs.items() if not args.only or name in args.only}
    for name, (recipe, *overrides) in runs.items():
        with tempfile.TemporaryDirectory() as out:
            print(name, train(root, recipe, overrides, args.steps, Path(out)), flush=True)


if __name__ == "__main__":
    main()
