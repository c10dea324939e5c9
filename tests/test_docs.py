import re
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).parents[1]


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_readme_subclassing_example_runs(tmp_path, monkeypatch):
    (example,) = python_blocks((ROOT / "README.md").read_text())
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    samples, gan = namespace["samples"], namespace["gan"]
    assert samples.shape == (1000, 2) and torch.isfinite(samples).all()
    assert gan.global_step == 200 and type(gan).__name__ == "UniformHingeGAN"
    assert list(tmp_path.iterdir()) == []  # logger and checkpoints off: nothing written


def test_docs_build_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "guide" / "index.html").exists()
