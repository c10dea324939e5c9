import math

import pytest
import torch

from lightning_gan import LOSSES, get_loss
from lightning_gan.losses import (
    d_hinge,
    d_least_squares,
    d_logistic,
    d_wasserstein,
    g_hinge,
    g_least_squares,
    g_minimax,
    g_nonsaturating,
    g_wasserstein,
)

REAL = torch.tensor([2.0, -1.0, 0.5, 3.0])
FAKE = torch.tensor([-2.0, 0.25, 1.5, -0.5])


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(values):
    return sum(values) / len(values)


def test_discriminator_losses_match_their_formulas():
    r, f = REAL.tolist(), FAKE.tolist()
    expected = {
        d_logistic: -mean([math.log(sig(x)) for x in r]) - mean([math.log(1 - sig(x)) for x in f]),
        d_wasserstein: mean(f) - mean(r),
        d_hinge: mean([max(0, 1 - x) for x in r]) + mean([max(0, 1 + x) for x in f]),
        d_least_squares: 0.5 * mean([(x - 1) ** 2 for x in r]) + 0.5 * mean([x**2 for x in f]),
    }
    for fn, value in expected.items():
        assert fn(REAL, FAKE).item() == pytest.approx(value, rel=1e-6), fn.__name__


def test_generator_losses_match_their_formulas():
    f = FAKE.tolist()
    expected = {
        g_minimax: mean([math.log(1 - sig(x)) for x in f]),
        g_nonsaturating: -mean([math.log(sig(x)) for x in f]),
        g_wasserstein: -mean(f),
        g_hinge: -mean(f),
        g_least_squares: 0.5 * mean([(x - 1) ** 2 for x in f]),
    }
    for fn, value in expected.items():
        assert fn(FAKE).item() == pytest.approx(value, rel=1e-6), fn.__name__


def test_minimax_generator_gradient_is_that_of_log_one_minus_d():
    logits = torch.linspace(-8, 8, 33, dtype=torch.float64, requires_grad=True)
    (ours,) = torch.autograd.grad(g_minimax(logits), logits)
    reference_logits = logits.detach().clone().requires_grad_(True)
    reference = torch.log(1 - torch.sigmoid(reference_logits)).mean()
    (expected,) = torch.autograd.grad(reference, reference_logits)
    torch.testing.assert_close(ours, expected)
    # and it saturates: where D confidently rejects G(z) the gradient vanishes, unlike the non-saturating loss
    (ns,) = torch.autograd.grad(g_nonsaturating(logits), logits)
    assert ours[0].abs() < 1e-3 * ns[0].abs()


def test_discriminator_loss_is_gradient_ascent_on_the_value_function():
    real = REAL.clone().requires_grad_(True)
    value = torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(FAKE)).mean()
    torch.testing.assert_close(d_logistic(real, FAKE), -value)


def test_every_contract_name_is_registered():
    assert set(LOSSES) == {"minimax", "nonsaturating", "wasserstein", "hinge", "least_squares"}
    assert get_loss("minimax").generator is g_minimax


def test_unknown_loss_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"loss='hinj' is not a known loss; expected one of \['hinge'"):
        get_loss("hinj")
