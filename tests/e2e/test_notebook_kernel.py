"""``check("03")`` in a real Jupyter kernel (nbclient + ipykernel) grades like ``grade 03``.

The kernel is started from a kernel spec written under tmp_path that runs
this very interpreter (``sys.executable``), found through JUPYTER_PATH, so
nothing is installed into the user's Jupyter and the kernel has the tests'
torch and grader.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

COURSE = Path(__file__).resolve().parents[2]
SOLUTION = COURSE / "solutions" / "03_multi_input_grads"
KERNEL = "grade-tests-python"


@pytest.fixture
def run_notebook(tmp_path: Path, course_copy, monkeypatch: pytest.MonkeyPatch):
    """Return ``run(*cells) -> (outputs of the last cell as text, html)`` in a real kernel."""
    course = course_copy()  # the notebook's working folder
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The kernel's own runtime files (connection files) stay under tmp_path too.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))

    def run(*cells: str) -> tuple[str, str]:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        client = nbclient.NotebookClient(
            notebook,
            kernel_name=KERNEL,
            timeout=300,
            allow_errors=True,  # a cell that raises is part of one test; the last must not
            resources={"metadata": {"path": str(course)}},
        )
        client.execute()
        outputs = notebook.cells[-1].outputs
        text = "\n".join(
            str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
        )
        page = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
        assert not any(o.get("output_type") == "error" for o in outputs), outputs
        return text, page

    return run


def _solution_cells(path: Path) -> list[str]:
    """Split a solution file into notebook cells: the imports, then one cell per function."""
    source = path.read_text(encoding="utf-8")
    return [chunk for chunk in re.split(r"\n(?=def )", source) if chunk.strip()]


def test_a_correct_notebook_scores_full_marks(run_notebook) -> None:
    cells = ["%matplotlib inline", *_solution_cells(SOLUTION / "solution.py")]
    text, page = run_notebook(
        "from grader.notebook import check",
        *cells,
        "!echo shell lines are ignored",
        'result = check("03", seed=1)\nassert result.score == result.max_score == 10\nresult',
    )
    assert re.search(r"^total\s+10/10$", text, flags=re.M), text
    assert "10/10" in page and "✓" in page and "✗" not in page


def test_a_known_mistake_shows_its_hint(run_notebook) -> None:
    cells = _solution_cells(SOLUTION / "mistakes" / "mean_instead_of_sum.py")
    text, page = run_notebook("from grader.notebook import check", *cells, 'check("03", seed=1)')
    assert re.search(r"^total\s+7/10$", text, flags=re.M), text
    assert "you reduced with mean()" in page
    assert "you reduced with mean()" in text


def test_patched_torch_and_builtins_in_the_kernel_do_not_reach_the_grading(run_notebook) -> None:
    # Each patch would make an in-kernel grader pass wrong code: every value
    # compares equal, every difference is zero, a list passes for a tuple.
    patches = """
import builtins, torch
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
builtins.abs = lambda x: 0
_isinstance = builtins.isinstance
builtins.isinstance = lambda obj, cls: (cls is tuple and type(obj) is list) or _isinstance(obj, cls)
"""
    cells = _solution_cells(SOLUTION / "mistakes" / "mean_instead_of_sum.py")
    text, _ = run_notebook(
        "from grader.notebook import check", *cells, patches, 'check("03", seed=1)'
    )
    assert re.search(r"^total\s+7/10$", text, flags=re.M), text


def test_a_cell_that_raised_is_left_out_and_check_without_a_name_finds_the_exercise(
    run_notebook,
) -> None:
    cells = _solution_cells(SOLUTION / "solution.py")
    text, _ = run_notebook(
        "from grader.notebook import check",
        "try:\n    scalar_pair_grads(  # a typo the student fixed in the next cell\nexcept: pass",
        *cells,
        "check(seed=1)",
    )
    assert re.search(r"^total\s+10/10$", text, flags=re.M), text
    assert "03_multi_input_grads" in text


def test_cells_are_run_again_as_the_kernel_ran_them_even_those_that_raised(run_notebook) -> None:
    # The usual notebook: mistakes made and fixed before `check` was ever imported,
    # and a cell whose function is right but whose try-out line below it raises.
    imports, first, *others = _solution_cells(SOLUTION / "solution.py")
    text, _ = run_notebook(
        imports,
        "x = torch.ones(2, requires_grad=True)\n(x * 2).backward()  # not a scalar: raises",
        first + "\nscalar_pair_grads(1.0)  # called with one argument: raises",
        *others,
        "from grader.notebook import check",
        "print(undefined_name)",
        'check("03", seed=1)',
    )
    assert re.search(r"^total\s+10/10$", text, flags=re.M), text


def test_an_unknown_exercise_is_one_line_not_a_traceback(run_notebook) -> None:
    text, page = run_notebook("from grader.notebook import check", 'check("99")')
    assert text.strip().startswith("check: unknown exercise '99'"), text
    assert len(text.strip().splitlines()) == 1
    assert "Traceback" not in text and "unknown exercise" in page
