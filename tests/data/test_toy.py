import math

import pytest
import torch

from lightning_gan.data import Gaussian1DDataModule, GridDataModule, RingDataModule
from lightning_gan.metrics import mode_coverage
from lightning_gan.nets import DataStandardizer, MLPDiscriminator, MLPGenerator, Recordable, network_spec


def test_toy_data_modules_expose_their_modes_and_spread():
    grid, ring, gauss = GridDataModule(), RingDataModule(), Gaussian1DDataModule(mean=4.0, std=0.5)
    assert grid.centers.shape == (25, 2) and grid.std == 0.05
    assert set(grid.centers.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert ring.centers.shape == (8, 2) and ring.std == 0.01
    torch.testing.assert_close(ring.centers.norm(dim=1), torch.ones(8))
    assert gauss.centers.tolist() == [[4.0]] and gauss.std == 0.5 and gauss.dims == (1,)


def test_toy_batches_are_whole_shuffled_batches_of_the_mixture():
    dm = Gaussian1DDataModule(mean=4.0, std=0.5, batch_size=100, num_samples=20_000)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 200 and all(b.shape == (100, 1) for b in batches)
    data = torch.cat(batches)
    assert abs(data.mean().item() - 4.0) < 0.02 and abs(data.std().item() - 0.5) < 0.02
    grid = GridDataModule(num_samples=10_000)
    grid.setup("fit")
    coverage = mode_coverage(grid.train_data, grid.centers, grid.std)
    assert coverage["modes"] == 25 and coverage["high_quality"] > 0.98  # 3 std holds ~98.9% in 2-D


def test_log_prob_is_the_mixture_density():
    dm = Gaussian1DDataModule(mean=1.0, std=2.0)
    x = torch.tensor([[1.0], [3.0]])
    expected = torch.tensor([-math.log(2 * math.sqrt(2 * math.pi)), -0.5 - math.log(2 * math.sqrt(2 * math.pi))])
    torch.testing.assert_close(dm.log_prob(x), expected)


def test_mode_coverage_counts_modes_quality_and_balance():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.0, 0.1], [0.1, 0.0], [10.0, 0.2], [5.0, 5.0]])  # mode 3 missed, one sample off
    result = mode_coverage(samples, centers, std=0.1, threshold=3.0)
    assert result["modes"] == 2
    assert result["high_quality"] == 0.75
    # high-quality samples over modes: (2/3, 1/3, 0) against uniform (1/3, 1/3, 1/3)
    q = torch.tensor([2 / 3, 1 / 3])
    assert result["reverse_kl"] == pytest.approx(float((q * (q * 3).log()).sum()))
    assert mode_coverage(torch.tensor([[50.0, 50.0]]), centers, 0.1)["reverse_kl"] == math.inf


def test_mode_coverage_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"samples of shape \(4, 3\) and centers of shape \(2, 2\)"):
        mode_coverage(torch.zeros(4, 3), torch.zeros(2, 2), 0.1)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"num_samples": 10, "batch_size": 100}])
def test_toy_data_module_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=r"expected an int >="):
        GridDataModule(**kwargs)


def test_networks_record_their_arguments():
    g = MLPGenerator(3, 2, hidden_dim=32, num_classes=4)
    assert network_spec(g) == {
        "class_path": "lightning_gan.nets.mlp.MLPGenerator",
        "init_args": {"latent_dim": 3, "data_dim": 2, "hidden_dim": 32, "num_layers": 3, "num_classes": 4},
    }

    class Sub(MLPDiscriminator):  # a subclass records its own signature, once
        def __init__(self, width: int = 8) -> None:
            super().__init__(2, hidden_dim=width)

    assert network_spec(Sub(width=4))["init_args"] == {"width": 4}

    class TakesAModule(Recordable):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

    assert network_spec(TakesAModule(torch.nn.ReLU())) is None  # not recordable as plain values


@pytest.mark.parametrize("num_classes", [0, 3])
def test_mlp_networks_shapes_and_gradients(num_classes):
    g, d = MLPGenerator(4, 2, num_classes=num_classes), MLPDiscriminator(2, num_classes=num_classes)
    labels = torch.randint(0, 3, (5,)) if num_classes else None
    x = g(torch.randn(5, 4), labels)
    logits = d(x, labels)
    assert x.shape == (5, 2) and logits.shape == (5,)
    logits.sum().backward()
    assert all(p.grad is not None for p in list(g.parameters()) + list(d.parameters()))


def test_data_standardizer_takes_statistics_from_the_first_training_batch_only():
    layer = DataStandardizer(1)
    first = 4.0 + 0.5 * torch.randn(10_000, 1)
    out = layer(first)
    assert abs(out.mean().item()) < 1e-4 and abs(out.std().item() - 1) < 1e-3
    layer(torch.randn(100, 1) * 100)  # later batches (real or fake) do not move it
    assert abs(layer.mean.item() - 4.0) < 0.02 and abs(layer.std.item() - 0.5) < 0.02
    fresh = DataStandardizer(1).eval()
    fresh(first)  # eval mode never initializes
    assert not bool(fresh.initialized)
