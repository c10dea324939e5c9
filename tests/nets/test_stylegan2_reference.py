"""StyleGAN2Generator and StyleGAN2Discriminator against stylegan2-ada-pytorch, with its weights.

tests/golden/stylegan2_ada_networks.pt holds the reference's state dicts (random initial weights,
noise strengths and w_avg set to nonzero draws), fixed inputs and the reference's outputs (see
tests/golden/README.md). The weights are renamed into the package's networks by the pickle loader's renaming; the outputs must
agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_gan.nets import StyleGAN2Discriminator, StyleGAN2Generator
from lightning_gan.pretrained import _renamed  # the loader's renaming: one place for it

GOLDEN = torch.load(Path(__file__).parents[1] / "golden" / "stylegan2_ada_networks.pt", weights_only=True)
SIZES = {"channel_base": 64, "channel_max": 8, "mapping_layers": 2}
# measured: at most 4e-6 (G, images up to 9 in magnitude; psi 1 and 0.7, const and no noise) and 4e-8 (D)
TOLERANCE = 1e-4


@pytest.mark.parametrize("num_classes", [0, 3])
def test_the_generator_gives_the_reference_s_images(num_classes):
    golden = GOLDEN["generators"][f"c_dim={num_classes}"]
    g = StyleGAN2Generator(8, (3, 16, 16), w_dim=8, num_classes=num_classes, **SIZES).eval()
    g.load_state_dict(_renamed(golden["state_dict"], [4, 8, 16]))
    z, labels = GOLDEN["z"], GOLDEN["labels"] if num_classes else None
    with torch.no_grad():
        for psi in (1.0, 0.7):
            torch.testing.assert_close(g(z, labels, truncation_psi=psi), golden[f"psi={psi}"], rtol=0, atol=TOLERANCE)
        torch.testing.assert_close(g(z, labels, noise_mode="none"), golden["noise=none"], rtol=0, atol=TOLERANCE)
        torch.testing.assert_close(
            g.mapping(z, labels, truncation_psi=0.7), golden["ws psi=0.7"], rtol=0, atol=TOLERANCE
        )


@pytest.mark.parametrize("architecture", ["resnet", "orig", "skip"])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_the_discriminator_gives_the_reference_s_logits(num_classes, architecture):
    golden = GOLDEN["discriminators"][f"c_dim={num_classes} {architecture}"]
    d = StyleGAN2Discriminator(
        (3, 16, 16), num_classes=num_classes, mbstd_group_size=2, architecture=architecture, **SIZES
    )
    d.load_state_dict(_renamed(golden["state_dict"], [16, 8]))
    with torch.no_grad():
        logits = d(GOLDEN["images"], GOLDEN["labels"] if num_classes else None)
    torch.testing.assert_close(logits, golden["logits"].squeeze(1), rtol=0, atol=TOLERANCE)


def test_the_path_length_penalty_and_its_running_mean_are_the_reference_s(monkeypatch):
    """tests/golden/stylegan2_ada_path_length.pt: the reference's path-length pass (phase 'Greg') twice
    on its generator (noise strengths zeroed), with the image directions stored: same mean, same penalty."""
    from lightning_gan.regularizers import GeneratorPhase, PathLength

    golden = torch.load(Path(__file__).parents[1] / "golden" / "stylegan2_ada_path_length.pt", weights_only=True)
    g = StyleGAN2Generator(8, (3, 16, 16), w_dim=8, style_mixing_prob=0.0, **SIZES)
    g.load_state_dict(_renamed(GOLDEN["generators"]["c_dim=0"]["state_dict"], [4, 8, 16]))
    with torch.no_grad():
        for name, parameter in g.named_parameters():
            if name.endswith("noise_strength"):
                parameter.zero_()
    regularizer = PathLength(weight=2.0, decay=0.01, batch_shrink=2)
    randn_like = torch.randn_like
    z = golden["z"]
    for call in range(2):
        direction = golden["directions"][call]
        monkeypatch.setattr(
            torch,
            "randn_like",
            lambda t, d=direction, **kw: d.clone() if t.shape == d.shape else randn_like(t, **kw),
        )
        fake = torch.zeros(4, 1)
        penalty = regularizer.penalty(GeneratorPhase(z, None, fake, fake[:, 0], g, None, call))
        assert regularizer.mean.item() == pytest.approx(golden["pl_mean"][call].item(), rel=1e-5)
        assert penalty.item() == pytest.approx(golden["pl_penalty"][call].mean().item(), rel=1e-4)
