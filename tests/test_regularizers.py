import re
from pathlib import Path

import lightning as L
import pytest
import torch

from lightning_gan import GANModule
from lightning_gan.regularizers import (
    R1,
    DiscriminatorPhase,
    GradientPenalty,
    LeCam,
    Regularizer,
    gradient_penalty,
    lazy_optimizer_ratio,
    r1_penalty,
)
from tests.helpers import RealLogitEMA, loader, tiny_gan, trainer

GUIDE = Path(__file__).parents[1] / "docs" / "guide.md"


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


def linear_phase(step: int = 0) -> DiscriminatorPhase:
    """A phase whose discriminator is x @ (3, 4): its input gradient has norm 5 everywhere."""
    w = torch.tensor([3.0, 4.0])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    return DiscriminatorPhase(real, None, fake, None, real @ w, fake @ w, lambda x, labels: x @ w, step)


def test_r1_and_gradient_penalty_objects_give_the_weighted_penalties_of_the_old_keywords():
    # before the redesign: r1_gamma / 2 * r1_interval * E||grad||^2 and gp_weight * E[(||grad|| - 1)^2]
    term, logs = R1(gamma=2.0, interval=4)(linear_phase())
    assert term.item() == 0.5 * 2.0 * 4 * 25.0 and logs == {"train/r1": torch.tensor(25.0)}
    term, logs = GradientPenalty(weight=10.0)(linear_phase())
    assert term.item() == 10.0 * 16.0 and logs == {"train/gradient_penalty": torch.tensor(16.0)}


def test_lazy_regularizers_are_due_every_interval_steps_of_their_network():
    assert [step for step in range(12) if R1(1.0, interval=4).is_due(step)] == [0, 4, 8]
    assert all(GradientPenalty().is_due(step) for step in range(5))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: R1(-1.0), r"R1\(gamma=-1.0\): expected a number >= 0"),
        (lambda: R1(1.0, interval=0), r"R1\(interval=0\): expected an int >= 1"),
        (lambda: GradientPenalty(weight="10"), r"GradientPenalty\(weight='10'\): expected a number >= 0"),
    ],
)
def test_bad_regularizer_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "old, replacement", [("gp_weight", "GradientPenalty"), ("r1_gamma", "R1"), ("r1_interval", "R1")]
)
def test_the_removed_keywords_name_their_replacement(old, replacement):
    with pytest.raises(
        TypeError, match=rf"no longer takes '{old}'.*d_regularizers=\[lightning_gan.regularizers.{replacement}"
    ):
        tiny_gan(**{old: 1.0})


def test_a_discriminator_regularizer_list_refuses_other_modules():
    with pytest.raises(
        ValueError, match=r"d_regularizers\[0\]=Linear: expected a lightning_gan.regularizers.Regularizer"
    ):
        tiny_gan(d_regularizers=[torch.nn.Linear(2, 2)])


def guide_regularizer() -> type[Regularizer]:
    """The user-written regularizer of docs/guide.md, run as written there."""
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL) if "(Regularizer)" in b]
    assert len(block.strip().splitlines()) < 20
    namespace: dict = {}
    exec(compile(block, str(GUIDE), "exec"), namespace)
    return namespace["FakeGradientPenalty"]


def test_the_guides_own_regularizer_runs_at_its_interval_and_its_gradient_reaches_the_discriminator(tmp_path):
    penalty_class = guide_regularizer()
    calls = []

    class Counted(penalty_class):
        def penalty(self, phase):
            calls.append(phase.step)
            return super().penalty(phase)

    trainer(tmp_path, max_steps=6).fit(
        tiny_gan(d_steps=2, d_regularizers=[Counted(0.1, interval=4)]), loader(torch.randn(256, 2))
    )
    assert calls == [0, 4, 8]  # D steps 0..11

    gan = tiny_gan(d_regularizers=[penalty_class(1.0)])
    real, fake = torch.randn(8, 2), gan.generator(torch.randn(8, 2)).detach()
    logits = gan.discriminator(real).flatten(), gan.discriminator(fake).flatten()
    phase = DiscriminatorPhase(real, None, fake, None, *logits, gan._discriminate, 0)
    term, logs = gan.d_regularizers[0](phase)
    term.backward()
    assert term > 0 and set(logs) == {"train/fake_gradient_penalty"}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.discriminator.parameters() if p.dim() > 1)
    assert all(p.grad is None for p in gan.generator.parameters())


def test_regularizers_are_recorded_and_rebuilt_from_a_checkpoint(tmp_path):
    gan = tiny_gan(d_regularizers=[R1(0.5, interval=2), RealLogitEMA(decay=0.5)])
    fit = trainer(tmp_path, max_steps=3, enable_checkpointing=True)
    fit.fit(gan, loader(torch.randn(64, 2)))
    path = tmp_path / "gan.ckpt"
    fit.save_checkpoint(path)
    loaded = GANModule.load_from_checkpoint(path)
    assert [type(r).__name__ for r in loaded.d_regularizers] == ["R1", "RealLogitEMA"]
    assert loaded.d_regularizers[0].gamma == 0.5 and loaded.d_regularizers[0].interval == 2
    assert torch.equal(loaded.d_regularizers[1].ema, gan.d_regularizers[1].ema) and gan.d_regularizers[1].ema != 0


def test_lecam_is_its_definition_with_running_means_of_the_logits():
    lecam = LeCam(weight=0.5, decay=0.9, start=1)
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    phase = DiscriminatorPhase(torch.zeros(2, 2), None, torch.zeros(2, 2), None, real, fake, None, step=0)
    term, logs = lecam(phase)
    assert term.item() == 0.0  # before `start` D steps: the averages move, the penalty is off
    torch.testing.assert_close(lecam.ema_real, torch.tensor(0.1 * 1.0))  # 0.9 * 0 + 0.1 * mean(real)
    torch.testing.assert_close(lecam.ema_fake, torch.tensor(0.0))
    phase.step = 1
    term, logs = lecam(phase)
    a_real, a_fake = 0.9 * 0.1 + 0.1 * 1.0, 0.0
    expected = (torch.relu(real - a_fake) ** 2).mean() + (torch.relu(a_real - fake) ** 2).mean()
    torch.testing.assert_close(term, 0.5 * expected)
    assert set(logs) == {"train/lecam", "train/lecam_ema_real", "train/lecam_ema_fake"}
    with pytest.raises(ValueError, match=r"LeCam\(decay=1.0\): expected a number >= 0 and < 1"):
        LeCam(1.0, decay=1.0)


def test_lecam_gives_the_reference_s_penalties_and_averages_step_by_step():
    """tests/golden/lecam_gan.pt: google/lecam-gan's lecam_reg and ema_losses on 8 steps of fixed
    logits (decay 0.9, start 3): the averages follow the means during the warm-up, then decay."""
    golden = torch.load(Path(__file__).parent / "golden" / "lecam_gan.pt", weights_only=True)
    lecam = LeCam(weight=1.0, decay=golden["decay"], start=golden["start"])
    for step, (real, fake) in enumerate(zip(golden["real_logits"], golden["fake_logits"])):
        phase = DiscriminatorPhase(torch.zeros(6, 2), None, torch.zeros(6, 2), None, real, fake, None, step=step)
        term, _ = lecam(phase)
        assert term.item() == pytest.approx(golden["penalty"][step].item(), rel=1e-5, abs=1e-6), step
        assert lecam.ema_real.item() == pytest.approx(golden["ema_real"][step].item(), rel=1e-6), step
        assert lecam.ema_fake.item() == pytest.approx(golden["ema_fake"][step].item(), rel=1e-6), step


class _LogsEveryStep(L.Callback):
    def __init__(self, name: str) -> None:
        self.name, self.values = name, []

    def on_train_batch_end(self, trainer, *args) -> None:
        self.values.append(float(trainer.callback_metrics[self.name]))


def test_lecam_trains_and_its_averages_survive_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    gan = tiny_gan(d_regularizers=[LeCam(0.3, start=2)])
    lecam = _LogsEveryStep("train/lecam")
    fit = trainer(tmp_path, max_steps=6, log_every_n_steps=1, callbacks=[lecam])
    fit.fit(gan, loader(torch.randn(64, 2)))
    # off for the first 2 D steps; then a hinge of logits against the averages, 0 at some steps (the
    # averages follow the logits' means until start, so a step can sit inside both margins)
    assert lecam.values[:2] == [0.0, 0.0] and max(lecam.values[2:]) > 0, lecam.values
    assert gan.d_regularizers[0].ema_real != 0
    fit.save_checkpoint(tmp_path / "gan.ckpt")
    loaded = GANModule.load_from_checkpoint(tmp_path / "gan.ckpt").d_regularizers[0]
    assert torch.equal(loaded.ema_real, gan.d_regularizers[0].ema_real) and loaded.start == 2


# ------------------------------------------------------------ lazy regularization's optimizer settings


def _groups(module: GANModule) -> tuple[dict, dict]:
    g, d = module.optimizers()
    return g.optimizer.param_groups[0], d.optimizer.param_groups[0]


def test_a_lazy_regularizer_trains_its_network_with_stylegan2_ada_s_lr_and_betas(tmp_path, caplog):
    """stylegan2-ada's training_loop.py: lr * c and betas ** c, c = k / (k + 1), for D (R1, k = 16) and G (k = 4)."""
    from lightning_gan.regularizers import PathLength

    adam = lambda params: torch.optim.Adam(params, lr=0.0025, betas=(0.0, 0.99))
    gan = tiny_gan(d_regularizers=[R1(0.01, interval=16)], g_optimizer=adam, d_optimizer=adam)
    with caplog.at_level("INFO"):
        trainer(tmp_path, max_steps=1).fit(gan, loader(torch.randn(64, 2)))
    g, d = _groups(gan)
    assert g["lr"] == 0.0025 and g["betas"] == (0.0, 0.99)  # no lazy regularizer on G
    assert d["lr"] == pytest.approx(0.0025 * 16 / 17) and d["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert d["betas"][1] == pytest.approx(0.99058, abs=1e-5)
    said = [r.getMessage() for r in caplog.records if "is lazy" in r.getMessage()]
    assert len(said) == 1 and "R1(interval=16)" in said[0] and "discriminator" in said[0], said
    # a regularizer's own part: the maths, and the flag that switches it off
    path_length = PathLength(interval=4)
    assert lazy_optimizer_ratio([path_length]) == (0.8, path_length)
    assert lazy_optimizer_ratio([R1(1.0, interval=16, adjust_optimizer=False), R1(1.0)]) == (1.0, None)
    off = tiny_gan(d_regularizers=[R1(0.01, interval=16, adjust_optimizer=False)], d_optimizer=adam)
    trainer(tmp_path, max_steps=1).fit(off, loader(torch.randn(64, 2)))
    assert _groups(off)[1]["lr"] == 0.0025 and _groups(off)[1]["betas"] == (0.0, 0.99)


def test_the_adjustment_is_made_once_schedulers_start_from_it_and_a_resumed_run_keeps_it(tmp_path):
    sgd = lambda params: torch.optim.SGD(params, lr=0.1)
    constant = lambda optimizer: torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    make = lambda: tiny_gan(d_regularizers=[R1(1.0, interval=3)], d_optimizer=sgd, d_lr_scheduler=constant)
    first = make()
    fit = trainer(
        tmp_path,
        max_steps=2,
        enable_checkpointing=True,
        callbacks=[L.pytorch.callbacks.ModelCheckpoint(tmp_path, save_last=True)],
    )
    fit.fit(first, loader(torch.randn(64, 2)))
    assert _groups(first)[1]["lr"] == pytest.approx(0.075) and _groups(first)[1]["initial_lr"] == pytest.approx(0.075)
    resumed = make()
    trainer(tmp_path, max_steps=4).fit(resumed, loader(torch.randn(64, 2)), ckpt_path=tmp_path / "last.ckpt")
    assert _groups(resumed)[1]["lr"] == pytest.approx(0.075)  # not 0.075 * 3 / 4


def test_two_lazy_intervals_for_one_optimizer_are_refused_at_construction():
    with pytest.raises(ValueError, match=r"R1\(interval=16\), R1\(interval=4\) adjust one optimizer"):
        tiny_gan(d_regularizers=[R1(1.0, interval=16), R1(1.0, interval=4)])
    with pytest.raises(ValueError, match=r"R1\(adjust_optimizer=1\)"):
        R1(1.0, interval=16, adjust_optimizer=1)


def test_adaptive_augmentation_counts_the_real_logits_of_r1_s_own_pass():
    """stylegan2-ada reports sign(D(real)) in its R1 pass too (loss.py, Dreg): on a step with R1 the
    augmentation's r_t counts the batch twice, the main pass's logits and R1's."""

    class Counting(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def forward(self, x):
            return x

        def update(self, real_logits):
            self.sizes.append(real_logits.numel())
            return {}

    augment = Counting()
    gan = tiny_gan(d_regularizers=[R1(1.0, interval=2)], augment=augment, d_steps=2)
    trainer(None, max_steps=2).fit(gan, loader(torch.randn(64, 2)))
    assert augment.sizes == [16, 8, 16, 8]  # D steps 0 and 2 run R1: batch 8, seen twice
