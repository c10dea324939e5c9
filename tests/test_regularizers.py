import torch

from lightning_gan.regularizers import gradient_penalty, r1_penalty


def test_gradient_penalty_of_a_linear_critic_is_its_slope_minus_one_squared():
    w = torch.tensor([3.0, 4.0])  # |w| = 5 everywhere, so the penalty is (5 - 1)^2 whatever eps
    critic = lambda x: x @ w
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(critic, real, fake).item() == 16.0


def test_r1_is_the_squared_input_gradient_norm_on_real_data():
    critic = lambda x: (x**2).sum(1)
    real = torch.randn(8, 3)
    expected = (4 * real.pow(2).sum(1)).mean()
    torch.testing.assert_close(r1_penalty(critic, real), expected)


def test_penalties_train_the_critic_and_run_in_float32_under_autocast():
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    critic = lambda x: net(x).squeeze(1)
    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(critic, real, fake)
        r1 = r1_penalty(critic, real)
    assert gp.dtype == r1.dtype == torch.float32
    torch.testing.assert_close(r1, r1_penalty(critic, real))  # same value as without autocast
    (gp + r1).backward()  # double backward reaches the critic's weights (biases do not move an input gradient)
    assert net[0].weight.grad.abs().sum() > 0 and net[2].weight.grad.abs().sum() > 0
