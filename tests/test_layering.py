"""Data flows one way through the modules: none imports a module listed after it.

The order is the one ``movierec/__init__.py`` documents. Imports inside
functions count too (they hide a dependency, they do not remove it).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    "movierec", "movierec.startup", "movierec.files", "movierec.data", "movierec.features", "movierec.split",
    "movierec.prepared", "movierec.history", "movierec.interactions", "movierec.baselines", "movierec.prior",
    "movierec.negatives", "movierec.pipeline", "movierec.objectives",
    "autoint", "autointp", "movierec.models", "movierec.distillation", "movierec.training", "movierec.artifacts",
    "movierec.ranking", "movierec.metrics", "movierec.scoring", "movierec.evaluation", "movierec.newuser",
    "movierec.experiment",
    "movierec.protocols", "movierec.tuning", "movierec.recommend", "movierec.app", "movierec.server", "movierec.cli",
]  # fmt: skip
# Modules that share a layer with the one they are named after.
SAME_LAYER = {
    "movierec.cli.train": "movierec.cli", "movierec.cli.evaluate": "movierec.cli", "movierec.cli.tune": "movierec.cli",
    "movierec.cli.recommend": "movierec.cli",
    "movierec.train": "movierec.cli", "movierec.evaluate": "movierec.cli", "movierec.tune": "movierec.cli",
}  # fmt: skip


def project_modules() -> dict[str, Path]:
    found = {path.stem: path for path in (ROOT / "autoint.py", ROOT / "autointp.py")}
    for path in sorted((ROOT / "movierec").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer(module: str) -> int:
    return LAYERS.index(SAME_LAYER.get(module, module))


def is_main_block(node: ast.AST) -> bool:
    """``if __name__ == "__main__":``: a module's entry point, which may call a tool above it (not a dependency)."""
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
        and test.left.id == "__name__" and [getattr(c, "value", None) for c in test.comparators] == ["__main__"]
    )  # fmt: skip


def imported(path: Path) -> set[str]:
    names = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tree.body = [node for node in tree.body if not is_main_block(node)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # from movierec import data
    return names


MODULES = project_modules()


def test_every_module_has_a_place_in_the_order():
    assert set(MODULES) == set(LAYERS) | set(SAME_LAYER)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_one_above_it(module):
    own = layer(module)
    upward = sorted(name for name in imported(MODULES[module]) if name in MODULES and layer(name) > own)
    assert not upward, f"{module} imports {upward}, which come after it"


def test_the_package_docstring_lists_the_same_order():
    doc = (ROOT / "movierec" / "__init__.py").read_text(encoding="utf-8").split("flows one way")[1]
    positions = [doc.index(f"``{name.removeprefix('movierec.')}``") for name in LAYERS[1:]]
    assert positions == sorted(positions)
