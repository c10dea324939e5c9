"""stylegan2-ada-pytorch snapshot pickles read without NVIDIA's code and without running what is in them.

tests/golden/stylegan2_ada_snapshot_*.pkl were written by the reference's code as its training loop
writes snapshots (small random networks; the embedded source text replaced by a placeholder), and
tests/golden/stylegan2_ada_snapshots.pt holds the reference's outputs on fixed inputs (see
tests/golden/README.md).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from lightning_gan.nets import StyleGAN2Discriminator, StyleGAN2Generator
from lightning_gan.pretrained import (
    PersistentRecord,
    generator_kwargs,
    load_stylegan2_ada,
    read_stylegan2_ada_pickle,
    resolve_model_file,
)

GOLDEN_DIR = Path(__file__).parents[1] / "golden"
GOLDEN = torch.load(GOLDEN_DIR / "stylegan2_ada_snapshots.pt", weights_only=True)
# measured: at most 7.6e-6 (G, psi 1 and 0.7, constant and no noise) and 3e-7 (D); also on 64 px
# snapshots (a skip D with 5 classes, an orig D without conv_clamp and 8 mapping layers) in the session
TOLERANCE = 1e-4


@pytest.mark.parametrize("case", ["uncond32_resnet", "cond32_orig"])
def test_a_snapshot_gives_the_reference_s_images_and_logits(case):
    golden = GOLDEN[case]
    path = GOLDEN_DIR / f"stylegan2_ada_snapshot_{case}.pkl"
    assert b"the reference's source text was here" in path.read_bytes()  # the loader never needs the source
    model = load_stylegan2_ada(path)
    assert isinstance(model.generator, StyleGAN2Generator) and isinstance(model.discriminator, StyleGAN2Discriminator)
    config = golden["config"]
    assert model.generator_kwargs["num_classes"] == config["c_dim"]
    assert model.generator_kwargs["mapping_layers"] == config["map"]
    assert model.discriminator_kwargs["architecture"] == config["architecture"]
    assert model.discriminator_kwargs["mbstd_group_size"] == config["mbstd"]
    assert model.augment_p == pytest.approx(0.23)
    assert model.training_set["resolution"] == 32
    z, labels = golden["z"], golden["labels"]
    with torch.no_grad():
        for role, net in (("G", model.generator), ("G_ema", model.generator_ema)):
            for psi in (1.0, 0.7):
                images = net(z, labels, truncation_psi=psi, noise_mode="const")
                torch.testing.assert_close(images, golden[f"{role} psi={psi}"], rtol=0, atol=TOLERANCE)
            torch.testing.assert_close(
                net(z, labels, noise_mode="none"), golden[f"{role} noise=none"], rtol=0, atol=TOLERANCE
            )
        logits = model.discriminator(golden["images"], labels)
        torch.testing.assert_close(logits, golden["D"], rtol=0, atol=TOLERANCE)
        # G and G_ema are different networks in the file, and each was loaded as itself
        assert (model.generator(z, labels) - model.generator_ema(z, labels)).abs().max() > 1e-2


def test_conv_clamp_is_read_and_bites_where_the_reference_s_does():
    """cond32_orig was written with conv_clamp=0.75, small enough to change the images: without the
    clamp the package's generator does not give the reference's images."""
    golden = GOLDEN["cond32_orig"]
    model = load_stylegan2_ada(GOLDEN_DIR / "stylegan2_ada_snapshot_cond32_orig.pkl")
    assert model.generator_kwargs["conv_clamp"] == 0.75
    unclamped = StyleGAN2Generator(**{**model.generator_kwargs, "conv_clamp": None}).eval()
    unclamped.load_state_dict(model.generator.state_dict())
    with torch.no_grad():
        images = unclamped(golden["z"], golden["labels"], noise_mode="const")
    assert (images - golden["G psi=1.0"]).abs().max() > 1e-2


class _Runs:
    """Pickles as a call of ``os.system``: what a malicious 'model file' would hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_pickle_that_asks_for_another_global_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G": _Runs(f"touch {marker}")}))
    with pytest.raises(pickle.UnpicklingError, match=r"the global (posix|os|nt)\.system.*refused"):
        read_stylegan2_ada_pickle(path)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        load_stylegan2_ada(path)
    assert not marker.exists()


def test_a_tensorflow_pickle_is_refused_with_the_conversion_named(tmp_path):
    path = tmp_path / "tf.pkl"
    # the opcodes of a pickled dnnlib.tflib network: GLOBAL 'dnnlib.tflib.network Network', then STOP
    path.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\n.")
    with pytest.raises(pickle.UnpicklingError, match="legacy.py"):
        read_stylegan2_ada_pickle(path)


def test_what_is_not_a_snapshot_gets_a_clear_error(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(ValueError, match="not a stylegan2-ada-pytorch snapshot: expected keys G, D, G_ema"):
        read_stylegan2_ada_pickle(path)
    with pytest.raises(FileNotFoundError, match="ffhq256"):
        resolve_model_file(tmp_path / "missing.pkl")


def test_a_setting_the_package_does_not_build_is_named():
    record = PersistentRecord(
        "Generator",
        {
            "_init_kwargs": {
                "z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
                "mapping_kwargs": {}, "synthesis_kwargs": {"architecture": "resnet"},
            }
        },
    )  # fmt: skip
    with pytest.raises(ValueError, match="architecture='resnet' is not supported"):
        generator_kwargs(record)


def test_a_url_already_in_the_cache_is_not_downloaded_again(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = tmp_path / "lightning_gan" / "ffhq.pkl"
    cached.parent.mkdir()
    cached.write_bytes(b"x")

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded a file that was in the cache")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    assert resolve_model_file("ffhq") == cached
