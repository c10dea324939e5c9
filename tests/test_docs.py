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


# `tests/metrics/test_prdc.py`, `tests/test_module.py::test_name`, or a bare `test_nets.py::test_name` in a table
TEST_REFERENCE = re.compile(r"((?:tests/)?(?:[\w]+/)*test_\w+\.py)(?:::(\w+))?")


def test_every_test_the_docs_name_exists():
    """The docs, recipes and benchmarks point readers at tests by path (and test name): each must exist."""
    tests = {path.name: path for path in (ROOT / "tests").rglob("test_*.py")}
    sources = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "recipes").rglob("*.yaml")]
    sources += [
        *(ROOT / "benchmarks").glob("*.py"),
        *(ROOT / "lightning_gan").rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
    ]
    sources.remove(Path(__file__))  # its examples above are patterns, not references
    missing, checked = [], 0
    for source in sources:
        for path, name in TEST_REFERENCE.findall(source.read_text()):
            file = ROOT / path if "/" in path else tests.get(path)
            checked += 1
            if file is None or not file.exists():
                missing.append(f"{source.relative_to(ROOT)}: {path}")
            elif name and not re.search(rf"^(?:async )?def {name}\b", file.read_text(), flags=re.MULTILINE):
                missing.append(f"{source.relative_to(ROOT)}: {path}::{name}")
    assert checked > 50, checked  # the pattern still finds the references
    assert not missing, "\n".join(missing)
