"""One network's update under a non-finite guard: backward, gradient averaging, optimizer step.

A NaN or infinite loss on any process either stops the run with an error naming the iteration
and the network, or (``nonfinite="skip"``) skips that network's update on every process and
counts it. With an optimizer that can skip an update on the device (the ``found_inf`` protocol
of torch's fused optimizers, as GradScaler uses it), the check costs no host synchronization:
the device keeps a tally that the host reads every ``log_every_n_steps`` iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from lightning_gan._internals import clear_found_inf, set_found_inf, skips_nonfinite_on_device
from lightning_gan._parallel import DataParallel

__all__ = ["NONFINITE_POLICIES", "DeviceTally", "NonFiniteGuard"]

NONFINITE_POLICIES = ("error", "skip")


class NonFiniteGuard:
    """The ``nonfinite`` policy of a :class:`~lightning_gan.GANModule` and its counts of skipped updates."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.skipped_steps = {"discriminator": 0, "generator": 0}  # updates skipped for a non-finite loss
        self._unread = DeviceTally()  # skipped on the device, not yet read by the host

    def update(
        self,
        loss: Tensor,
        role: str,
        optimizer: Any,
        step: Callable[[], Any],
        *,
        iteration: int,
        backward: Callable[..., None],
        parallel: DataParallel,
        scaler: Any = None,
        inputs: list[Tensor] | None = None,
    ) -> None:
        """Backpropagate ``loss`` (with ``backward(loss, inputs=...)``) and run ``step``
        (``optimizer``'s step), unless the loss is non-finite on some rank (then as the policy says).

        ``iteration`` is the generator iteration (for messages), ``parallel`` the run's gradient
        averaging, ``scaler`` the precision plugin's GradScaler if any (it skips non-finite steps
        itself). With an optimizer that skips an update on the device when told of a non-finite
        value, nothing waits for the device here; otherwise the host reads the loss's finiteness
        first (one sync).
        """
        torch_optimizer = getattr(optimizer, "optimizer", optimizer)  # a LightningOptimizer wraps it
        skips_on_device = skips_nonfinite_on_device(torch_optimizer) and scaler is None
        nonfinite = parallel.any_rank(~torch.isfinite(loss.detach()))
        if not skips_on_device and bool(nonfinite):
            self.found(role, loss, iteration)
            return
        optimizer.zero_grad(set_to_none=True)
        backward(loss, **({} if inputs is None else {"inputs": inputs}))
        parallel.average_gradients(torch_optimizer)
        if not skips_on_device:
            step()
            return
        self._unread.add(role, nonfinite, loss, iteration)
        set_found_inf(torch_optimizer, nonfinite.float())  # read by the fused kernel: no update when nonzero
        try:
            step()
        finally:
            clear_found_inf(torch_optimizer)

    def found(
        self, role: str, loss: Tensor | float, iteration: int, count: int = 1, *, read_at: int | None = None
    ) -> None:
        """A non-finite ``role`` loss at generator ``iteration``: raise, or count ``count`` skipped updates.

        ``read_at``: how many generator iterations had run when the host read it, when the device
        skipped the update.
        """
        if self.policy == "error":
            stopped = (
                f"stopped before the {role}'s update"
                if read_at is None
                else f"that update and any later non-finite one were skipped on the device, and the run stopped "
                f"when the host next read the tally, after {read_at} generator iterations"
            )
            raise FloatingPointError(
                f"the {role} loss is {float(loss)} at generator iteration {iteration} (on some rank); "
                f"{stopped}. Lower the learning rate, add a gradient penalty or "
                f"clipping ({role[0]}_clip_norm), or pass nonfinite='skip' to skip such updates and count them"
            )
        self.skipped_steps[role] += count

    def read_logs(self, global_step: int) -> dict[str, float]:
        """Read the device tally; the skip counts to log under ``"skip"``."""
        self.read_tally(global_step)
        if self.policy != "skip":
            return {}
        return {
            "train/skipped_d_steps": float(self.skipped_steps["discriminator"]),
            "train/skipped_g_steps": float(self.skipped_steps["generator"]),
        }

    def read_tally(self, global_step: int) -> None:
        """Act on the non-finite losses whose updates were skipped on the device (one host sync)."""
        for role, (count, iteration, value) in self._unread.read().items():
            self.found(role, value, iteration, count, read_at=global_step)


class DeviceTally:
    """Non-finite losses per network, kept on the device: count, first iteration, first value."""

    def __init__(self) -> None:
        self._tallies: dict[str, tuple[Tensor, Tensor, Tensor]] = {}

    def add(self, role: str, nonfinite: Tensor, loss: Tensor, iteration: int) -> None:
        """Count ``nonfinite`` (a boolean scalar tensor) for ``role``; no host sync."""
        if role not in self._tallies:
            zero = torch.zeros((), dtype=torch.int64, device=loss.device)
            self._tallies[role] = (zero, zero.clone(), torch.zeros((), dtype=torch.float32, device=loss.device))
        count, first_iteration, first_value = self._tallies[role]
        first = nonfinite & (count == 0)
        first_iteration.masked_fill_(first, iteration)  # in place: no new tensors per update
        first_value.masked_fill_(first, loss.detach().float())
        count.add_(nonfinite)

    def read(self) -> dict[str, tuple[int, int, float]]:
        """``{role: (count, first iteration, first value)}`` for the networks with a count, then reset."""
        found = {}
        for role, (count, first_iteration, first_value) in self._tallies.items():
            if int(count):
                found[role] = (int(count), int(first_iteration), float(first_value))
        self._tallies.clear()
        return found
