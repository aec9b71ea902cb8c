"""Drive ``grade verify`` on the real course and on broken copies of it.

Each broken copy holds exercise 01 alone (fast, and independent of the
exercises still being written) with one defect a self-test must report.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXERCISE = "01_leaf_tensors"
SOUND = "grade verify: the course is sound"


def verify(course: Path, seed: int = 1) -> subprocess.CompletedProcess[str]:
    grade = (
        [shutil.which("grade") or ""]
        if shutil.which("grade")
        else [sys.executable, "-c", "from grader.cli import main; main()"]
    )
    return subprocess.run(
        [*grade, "verify", "--course", str(course), "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=course,
    )


def copy_course(tmp_path: Path, keep: str = EXERCISE) -> Path:
    """Copy the course to ``tmp_path``, keeping exercise ``keep`` only."""
    root = tmp_path / "course"
    shutil.copytree(
        REPO,
        root,
        ignore=shutil.ignore_patterns(
            ".git",
            "reports",
            "__pycache__",
            "*.egg-info",
            ".pytest_cache",
            ".ruff_cache",
            ".mypy_cache",
            "tests",
            "benchmarks",
        ),
    )
    for kind in ("exercises", "checks", "solutions"):
        for folder in (root / kind).iterdir():
            if folder.is_dir() and folder.name != keep:
                shutil.rmtree(folder)
    # The hints of the exercises left out go too: a catalog of no exercise is a slip.
    for catalog in (root / "templates" / "locale").glob("*/[0-9]*_*.toml"):
        if catalog.stem != keep:
            catalog.unlink()
    return root


def rewrite_check(checks_file: Path, check: str, body: str) -> None:
    """Replace the body of ``check`` (keeping its docstring) with ``body``."""
    source = checks_file.read_text(encoding="utf-8")
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == check)
    lines = source.splitlines(keepends=True)
    first = node.body[1] if ast.get_docstring(node) and len(node.body) > 1 else node.body[0]
    start, end = first.lineno - 1, node.body[-1].end_lineno
    indented = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    checks_file.write_text(
        "".join(lines[:start]) + indented + "".join(lines[end:]), encoding="utf-8"
    )


def caught_by(mistake: Path) -> str:
    for line in mistake.read_text(encoding="utf-8").splitlines():
        if line.startswith("# caught-by:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{mistake} has no caught-by header")


def test_real_course_is_sound() -> None:
    done = verify(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert SOUND in done.stdout
    assert done.stdout.count("mistakes caught") >= 1


def test_exercise_01_alone_is_sound(tmp_path: Path) -> None:
    done = verify(copy_course(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert SOUND in done.stdout
    assert f"{EXERCISE}: solution 10/10, stub 0/10" in done.stdout


def test_bug_in_solution_is_reported(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    solution = course / "solutions" / EXERCISE / "solution.py"
    text = solution.read_text(encoding="utf-8")
    assert "[t.is_leaf for t in tensors]" in text
    solution.write_text(
        text.replace("[t.is_leaf for t in tensors]", "[t.requires_grad for t in tensors]"),
        encoding="utf-8",
    )
    done = verify(course)
    assert done.returncode == 1
    assert f"solutions/{EXERCISE}/solution.py (seed 1) fails test_leaf_flags" in done.stderr
    assert SOUND not in done.stdout


def test_check_accepting_a_mistake_is_reported(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    mistake = course / "solutions" / EXERCISE / "mistakes" / "forgot_requires_grad.py"
    check = caught_by(mistake)
    rewrite_check(course / "checks" / EXERCISE / "test_leaf_tensors.py", check, "pass")
    done = verify(course)
    assert done.returncode == 1
    assert (
        f"{EXERCISE}: solutions/{EXERCISE}/mistakes/forgot_requires_grad.py passes {check}, "
        "the check its caught-by header names"
    ) in done.stderr
    # An accept-everything check also hands the stub points.
    assert f"the stub exercises/{EXERCISE}/exercise.py passes {check}" in done.stderr


def test_check_drawing_inputs_from_the_global_random_is_nondeterministic(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    checks = course / "checks" / EXERCISE / "test_leaf_tensors.py"
    # The check author's slip: the global, unseeded random instead of the rng fixture.
    rewrite_check(
        checks,
        "test_square_and_sum_values",
        """
import random
values = [round(random.uniform(-3, 3), 3) for _ in range(4)]
result = submission.call("square_and_sum", tensor(values, requires_grad=True))
y, z = result.pair()
z = result.tensor(z, "z")
expect_close(z, sum(v * v for v in values), "square_and_sum_z")
""",
    )
    done = verify(course)
    assert done.returncode == 1
    assert f"{EXERCISE}: check test_square_and_sum_values is nondeterministic" in done.stderr


def test_check_whose_verdict_changes_between_runs_is_nondeterministic(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    checks = course / "checks" / EXERCISE / "test_leaf_tensors.py"
    # Passes the first time only: state kept between runs (here, a file beside the check).
    rewrite_check(
        checks,
        "test_leaf_flags_graph",
        """
from pathlib import Path
runs = Path(__file__).with_name("runs.txt")
count = int(runs.read_text()) if runs.exists() else 0
runs.write_text(str(count + 1))
expect(count == 0, "leaf_flags_graph", got=count)
""",
    )
    done = verify(course)
    assert done.returncode == 1
    assert (
        f"{EXERCISE}: check test_leaf_flags_graph is nondeterministic: "
        f"solutions/{EXERCISE}/solution.py with seed 1 gave [passed"
    ) in done.stderr


def test_too_few_mistakes_are_reported(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    mistakes = sorted((course / "solutions" / EXERCISE / "mistakes").glob("*.py"))
    for path in mistakes[3:]:
        path.unlink()
    done = verify(course)
    assert done.returncode == 1
    assert (
        f"{EXERCISE}: solutions/{EXERCISE}/mistakes holds 3 mistake(s), at least 4 are needed"
    ) in done.stderr


def test_mistake_headers_are_checked(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    folder = course / "solutions" / EXERCISE / "mistakes"
    headless = folder / "forgot_requires_grad.py"
    headless.write_text(
        "\n".join(headless.read_text(encoding="utf-8").splitlines()[2:]) + "\n", encoding="utf-8"
    )
    renamed = folder / "mean_instead_of_sum.py"
    renamed.write_text(
        renamed.read_text(encoding="utf-8").replace(
            "# caught-by: test_square_and_sum_values", "# caught-by: test_no_such_check"
        ),
        encoding="utf-8",
    )
    done = verify(course)
    assert done.returncode == 1
    assert "mistakes/forgot_requires_grad.py has no '# caught-by: <check>' header" in done.stderr
    assert "mistakes/mean_instead_of_sum.py names unknown check test_no_such_check" in done.stderr


def test_hint_header_and_alternatives_are_checked(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    folder = course / "solutions" / EXERCISE
    mistake = folder / "mistakes" / "forgot_requires_grad.py"
    lines = mistake.read_text(encoding="utf-8").splitlines(keepends=True)
    mistake.write_text("".join([*lines[:2], "# hint: shape_multiple\n", *lines[2:]]), "utf-8")
    named = folder / "mistakes" / "int_tensor_requires_grad.py"
    lines = named.read_text(encoding="utf-8").splitlines(keepends=True)
    named.write_text("".join([*lines[:2], "# hint: int_requires_grad\n", *lines[2:]]), "utf-8")
    (folder / "alternatives").mkdir()
    # A "correct alternative" that is wrong: grade verify must not give it a pass.
    (folder / "alternatives" / "wrong.py").write_text(
        mistake.read_text(encoding="utf-8"), encoding="utf-8"
    )
    done = verify(course)
    assert done.returncode == 1
    assert (
        "mistakes/forgot_requires_grad.py fails test_make_leaf_requires_grad with hint "
        "make_leaf_no_requires_grad, not shape_multiple as its hint header says"
    ) in done.stderr
    assert "int_tensor_requires_grad.py" not in done.stderr
    assert "alternatives/wrong.py (seed 1) fails test_make_leaf_requires_grad" in done.stderr


# A number no course will reach: this exercise joins any course.
NEW = "99_cube_grad"
NEW_FILES = {
    f"exercises/{NEW}/README.md": "# 08 · The gradient of a sum of cubes\n\n"
    "Write `cube_grad(values)`: the gradient of `(x ** 3).sum()` at `x = values`.\n",
    f"exercises/{NEW}/exercise.py": '''\
import torch


def cube_grad(values) -> torch.Tensor:
    """Return the gradient of ``(x ** 3).sum()`` with respect to ``x`` at ``values``."""
    raise NotImplementedError
''',
    f"solutions/{NEW}/solution.py": """\
import torch


def cube_grad(values) -> torch.Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**3).sum().backward()
    return x.grad
""",
    f"solutions/{NEW}/mistakes/formula.py": """\
# mistake: writes down the derivative 3 * x ** 2 by hand instead of asking autograd
# caught-by: test_uses_autograd
import torch


def cube_grad(values):
    return 3 * torch.tensor(values) ** 2  # MISTAKE
""",
    f"solutions/{NEW}/mistakes/mean_not_sum.py": """\
# mistake: reduces with mean() instead of sum(), dividing the gradient by n
# caught-by: test_cube_grad_values
import torch


def cube_grad(values):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**3).mean().backward()  # MISTAKE
    return x.grad
""",
    f"solutions/{NEW}/mistakes/grad_before_backward.py": """\
# mistake: reads x.grad without calling backward(), so it is still None
# caught-by: test_cube_grad_values
import torch


def cube_grad(values):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**3).sum()  # MISTAKE: no backward()
    return x.grad
""",
    f"solutions/{NEW}/mistakes/summed_grad.py": """\
# mistake: returns the sum of the gradient instead of the gradient itself
# caught-by: test_cube_grad_shape
import torch


def cube_grad(values):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**3).sum().backward()
    return x.grad.sum()  # MISTAKE
""",
    f"checks/{NEW}/test_cube_grad.py": '''\
from grader.check import expect, expect_close, fail, points


def _values(rng):
    return [round(rng.uniform(-3, 3), 3) for _ in range(rng.randint(2, 6))]


@points(2)
def test_cube_grad_values(submission, rng):
    """cube_grad holds 3 * x ** 2"""
    values = _values(rng)
    got = submission.call("cube_grad", values).tensor()
    expect_close(got, [3 * v * v for v in values], "cube_grad_values")


@points(1)
def test_cube_grad_shape(submission, rng):
    """cube_grad has the shape of its input"""
    values = _values(rng)
    got = submission.call("cube_grad", values).tensor()
    expect(got.shape == [len(values)], "cube_grad_shape", shape=got.shape, n=len(values))


@points(1)
def test_uses_autograd(submission, rng):
    """the gradient comes from autograd"""
    result = submission.call("cube_grad", _values(rng))
    result.returned()
    if result.backward_passes == 0:
        fail("no_backward_pass", function="cube_grad")
''',
    f"templates/locale/en/{NEW}.toml": """\
[hints]
cube_grad_values = "cube_grad should hold {want}, got {got}: call backward() on the sum."
cube_grad_shape = "cube_grad should have shape [{n}] like its input, got {shape}."
no_backward_pass = "`{function}` never ran backward(): let autograd compute the gradient."
""",
}


def test_new_exercise_is_verified_without_code_change(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    for name, text in NEW_FILES.items():
        path = course / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    done = verify(course)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{NEW}: solution 4/4, stub 0/4, 4/4 mistakes caught, ok" in done.stdout
    assert f"{EXERCISE}: solution 10/10" in done.stdout

    # ... and a mistake its checks miss (they never pass more than 6 values) fails it.
    (course / "solutions" / NEW / "mistakes" / "debug_slice.py").write_text(
        """\
# mistake: keeps a debugging slice, so only the first 6 values get a gradient
# caught-by: test_cube_grad_values
import torch


def cube_grad(values):
    x = torch.tensor(values[:6], dtype=torch.float32, requires_grad=True)  # MISTAKE
    (x**3).sum().backward()
    return x.grad
""",
        encoding="utf-8",
    )
    done = verify(course)
    assert done.returncode == 1
    assert f"{NEW}: solutions/{NEW}/mistakes/debug_slice.py passes test_cube_grad_values" in (
        done.stderr
    )


def test_same_seed_gives_the_same_report(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    first, second = verify(course, seed=7), verify(course, seed=7)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_a_crashed_check_shows_its_file_and_line_to_the_author_only(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    checks = course / "checks" / EXERCISE / "test_leaf_tensors.py"
    rewrite_check(checks, "test_leaf_flags_graph", "values = []\nvalues[1]\n")
    line = checks.read_text(encoding="utf-8").splitlines().index("    values[1]") + 1
    where = f"checks/{EXERCISE}/test_leaf_tensors.py:{line} in test_leaf_flags_graph"
    done = verify(course)
    assert done.returncode == 1
    assert (
        f"{EXERCISE}: solutions/{EXERCISE}/solution.py (seed 1) fails test_leaf_flags_graph: "
        f"(at {where}) this check itself failed to run (IndexError: list index out of range)"
    ) in done.stderr
    assert "  check test_leaf_flags_graph crashed:" in done.stdout
    assert f"line {line}, in test_leaf_flags_graph\n        values[1]\n" in done.stdout

    # The student's grade: exit 2, the traceback in a file the message names, and
    # neither file nor line in the results or the report.
    shutil.copy(
        course / "solutions" / EXERCISE / "solution.py",
        course / "exercises" / EXERCISE / "exercise.py",
    )
    out, html = tmp_path / "results.json", tmp_path / "report.html"
    grade = [shutil.which("grade") or "grade", "01", "--seed", "1"]
    run = subprocess.run(
        [*grade, "--json", str(out), "--html", str(html)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=course,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    message = run.stderr.strip().splitlines()[-1]
    assert "1 check(s) could not run (test_leaf_flags_graph)" in message
    kept = Path(message.rsplit("tracebacks are in ", 1)[1].rstrip(")"))
    try:
        assert "values[1]" in kept.read_text(encoding="utf-8")
    finally:
        kept.unlink()
    for shown in (out.read_text(encoding="utf-8"), html.read_text(encoding="utf-8"), run.stdout):
        assert "test_leaf_tensors.py" not in shown and "values[1]" not in shown
        assert "list index out of range" in shown
