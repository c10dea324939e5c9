"""torchrun launches for the data-parallel tests (gloo, CPU, 2 processes)."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
# ``--standalone``: the launcher binds a free port itself (asking the OS for a free port and handing
# it to ``--master_port`` leaves a window in which another launch of the suite can take it).
LAUNCH = (TORCHRUN, "--standalone", "--nproc_per_node", "2")
# A process still running this long before the launch's timeout prints every thread's stack
# (tests/ddp/worker.py sets it up), so a hang in CI says where it hung.
STACKS_BEFORE_TIMEOUT = 30


def run_launch(command: list[str], *, cwd: Path, env: dict, timeout: int, what: str) -> subprocess.CompletedProcess:
    """``subprocess.run`` that reports a timeout with what the launch printed up to then."""
    env = {**env, "LIGHTNING_GAN_TEST_STACKS_AFTER": str(max(timeout - STACKS_BEFORE_TIMEOUT, 1))}
    # a session of its own, so that a timeout stops the launcher's worker processes too
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=PIPE, stderr=PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{what} still running after {timeout} s:\n{stdout[-3000:]}\n{stderr[-9000:]}") from None
    assert process.returncode == 0, f"{what} exited {process.returncode}:\n{stdout[-3000:]}\n{stderr[-6000:]}"
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def torchrun(*args: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(Path(__file__).parents[2])}
    return run_launch([*LAUNCH, *args], cwd=cwd, env=env, timeout=timeout, what=" ".join(args))


def dump_stacks_before_the_timeout() -> None:
    """In a launched process: print all threads' stacks if it is still running near the launch's timeout."""
    import faulthandler

    after = os.environ.get("LIGHTNING_GAN_TEST_STACKS_AFTER")
    if after:
        faulthandler.dump_traceback_later(float(after), exit=False)
