"""How grader's modules import each other: no circles, and the trusted side apart from the child's.

Read from the source (every ``import``, also those inside functions), so a
circle hidden behind a lazy import counts as much as one at the top.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

GRADER = Path(__file__).resolve().parents[2] / "grader"


def _module_of(path: Path) -> str:
    parts = path.relative_to(GRADER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_of(path): path for path in GRADER.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Name the grader modules ``path`` imports (``from grader import x`` names module x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                found.add(inner if inner in MODULES else node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_no_modules_import_each_other_round_a_circle() -> None:
    # course <-> judge (finding an exercise imported the judge to count its points) and
    # batch <-> cluster (a Dask worker asked the batch module for the sandbox gate).
    try:
        tuple(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as circle:
        raise AssertionError(f"an import circle: {' -> '.join(circle.args[1])}") from None


def test_the_trusted_side_imports_nothing_from_the_childs_confinement() -> None:
    # The judge's processes name themselves and die with their parent through
    # grader.run.process; the child's confinement code is the child's alone.
    trusted = [name for name in GRAPH if not name.startswith("grader.child")]
    assert [name for name in trusted if "grader.child.confine" in GRAPH[name]] == []


def test_every_driver_passes_the_one_sandbox_gate() -> None:
    drivers = ("grader.drivers.student", "grader.drivers.batch.dispatch", "grader.drivers.cluster")
    assert [name for name in drivers if "grader.run.gate" not in GRAPH[name]] == []
