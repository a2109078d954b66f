"""The folder is the stage: each package's ``__all__`` is sorted and importable, and no stage
imports a later one (data moves one way: sources → intel → enrich → detect → findings → store)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "keibi"
STAGES = ["sources", "intel", "enrich", "detect", "findings", "store"]
PACKAGES = ["keibi." + s for s in STAGES]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_key), (
        f"{package}.__all__ is not sorted (constants, classes, functions)"
    )
    for name in names:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which it does not define"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_imports_a_later_one(stage: str) -> None:
    later = {f"keibi.{s}" for s in STAGES[STAGES.index(stage) + 1 :]} | {"keibi.pipeline", "keibi.cli"}
    offenders = []
    for path in sorted((ROOT / stage).rglob("*.py")):
        for name in _imports(path):
            if any(name == p or name.startswith(p + ".") for p in later):
                offenders.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert offenders == []


def test_detectors_have_no_per_record_python() -> None:
    banned = ("iter_rows", "map_elements", "map_rows", "to_dicts", "apply(")
    offenders = [
        f"{path.relative_to(ROOT.parent)}: {word}"
        for path in sorted((ROOT / "detect").rglob("*.py"))
        for word in banned
        if word in path.read_text()
    ]
    assert offenders == []
