"""The package's shape: every import follows the layers of docs/architecture.md, and none forms a cycle.

An AST walk over every file of ``lightning_gan`` (imports inside functions and ``TYPE_CHECKING``
blocks count: they are dependencies all the same).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "lightning_gan"


def layers() -> dict[str, int]:
    """``{component: layer}`` from the table under "## Layers" in docs/architecture.md (row 0 at the bottom)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert rows, "no layer table under '## Layers' in docs/architecture.md"
    return {name: index for index, row in enumerate(rows) for name in re.findall(r"`([\w.]+)`", row.split("|")[2])}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """``{module: the package's modules it imports}`` for every file of the package."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for candidate in candidates:
                while candidate and candidate not in modules:
                    candidate = candidate.rpartition(".")[0]
                if candidate and candidate != name:
                    targets.add(candidate)
                    break
        graph[name] = targets
    return graph


def component(module: str) -> str:
    """``lightning_gan.nets.dcgan`` -> ``nets``; the package root is ``lightning_gan``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_module_is_placed_in_a_layer():
    table = layers()
    unplaced = sorted({component(m) for m in imports()} - table.keys())
    assert not unplaced, f"not in the layer table of docs/architecture.md: {unplaced}"


def test_no_import_points_from_a_lower_layer_to_a_higher_one():
    table = layers()
    upward = [
        f"{source} ({component(source)}, layer {table[component(source)]}) imports {target} "
        f"({component(target)}, layer {table[component(target)]})"
        for source, targets in imports().items()
        for target in targets
        if table[component(target)] > table[component(source)]
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = imports()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the walk's path, "done" once explored

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_walk_sees_the_imports_it_judges():
    graph = imports()
    # a top-level import, a function-level one, a relative one and a submodule
    assert "lightning_gan._checks" in graph["lightning_gan.module"]
    assert "lightning_gan.sampling" in graph["lightning_gan.evaluate"]  # imported inside a function
    assert "lightning_gan.nets._recordable" in graph["lightning_gan.nets.dcgan"]
    assert layers()["module"] > layers()["_checks"] > layers()["nets"] > layers()["_validate"]


def test_importing_the_package_installs_no_warning_filter():
    code = (
        "import warnings, lightning, torch, torchvision, wandb, torch_fidelity, matplotlib;"
        "before = list(warnings.filters); import lightning_gan, lightning_gan.callbacks, lightning_gan.cli;"
        "print([f for f in warnings.filters if f not in before])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stdout
