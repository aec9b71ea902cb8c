"""A new exercise is a folder, not a grader change.

``tests/fixtures/new_exercise/`` holds the guide's exercise, written by following
``docs/adding-an-exercise.md`` and nothing else: a topic the grader has never
seen (second derivatives with ``create_graph=True``), an operation no other
exercise uses (``cube``, in ``checks/98_second_derivative/operations.toml``),
a plot, a hint for a torch error no other exercise meets (an ``[patterns]``
entry), a parametrized check and a Chinese catalog. Copied into a copy of
the course, ``grade verify`` passes, ``grade 98`` grades it, and the copy's
``grader/`` is byte for byte the repository's. The guide calls it 08 (the
course's next number); the fixture is numbered 98, which no course will
reach, so that it joins any course without two exercises sharing a number.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NEW = REPO / "tests" / "fixtures" / "new_exercise"
NAME = "98_second_derivative"
# The guide's name for it.
GUIDE_NAME = "08_second_derivative"
DOC = REPO / "docs" / "adding-an-exercise.md"


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _course_copy(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(
        REPO,
        root,
        ignore=shutil.ignore_patterns(
            ".git",
            "reports",
            "__pycache__",
            "*.egg-info",
            ".*_cache",
            "tests",
            "benchmarks",
        ),
    )
    return root


def _grade(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The copy's own grader package: whatever grade runs comes from the copy.
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [sys.executable, "-c", "from grader.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=root,
        env=env,
    )


def test_the_fixture_has_every_file_the_guide_lists() -> None:
    block = DOC.read_text(encoding="utf-8").split("```\n", 2)[1]
    listed = [line.split()[0] for line in block.splitlines() if line.strip()]
    assert len(listed) == 9, block
    for path in listed:
        found = list(NEW.glob(path.replace(GUIDE_NAME, NAME)))
        assert found, f"the guide lists {path}, the fixture has no such file"
        if "/mistakes/" in path:
            assert len(found) >= 4, "the guide asks for at least four mistakes"


def test_every_example_of_the_guide_is_in_the_fixture() -> None:
    examples = re.findall(r"```(?:python|toml)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    files = [p.read_text(encoding="utf-8") for p in NEW.rglob("*") if p.is_file()]
    assert len(examples) >= 5
    for example in examples:
        assert any(example in text for text in files), example


def test_a_new_exercise_is_graded_without_touching_the_grader(tmp_path: Path) -> None:
    root = _course_copy(tmp_path)
    before = _tree_digest(root / "grader")
    assert before == _tree_digest(REPO / "grader")
    shutil.copytree(NEW, root, dirs_exist_ok=True)

    verified = _grade(root, "verify", "--seed", "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{NAME}: solution 5/5, 1 alternative(s), stub 0/5, 4/4 mistakes caught, ok" in (
        verified.stdout
    )

    # A student who forgot create_graph=True gets the exercise's own torch-error hint, in Chinese.
    exercise = root / "exercises" / NAME / "exercise.py"
    shutil.copy(root / "solutions" / NAME / "mistakes" / "no_create_graph.py", exercise)
    out = tmp_path / "results.json"
    html = tmp_path / "report.html"
    run = _grade(root, "98", "--seed", "1", "--lang", "zh", "--json", str(out), "--html", str(html))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "第一次调用 `torch.autograd.grad` 时请传入 `create_graph=True`" in run.stdout
    (result,) = json.loads(out.read_text(encoding="utf-8"))["students"][0]["exercises"]
    assert result["status"] == "graded" and result["max_score"] == 5.0
    hints = {c["hint"]["id"] for c in result["checks"]}
    assert hints == {"second_without_create_graph"}
    # The parametrized check counts once per parameter, each titled with its parameter.
    cube = [c for c in result["checks"] if c["name"].startswith("test_second_derivative_of_a_cube")]
    assert [c["title"] for c in cube] == [
        f"second_derivative(c * x ** 3, x0) 等于 6 * c * x0 [{x0}]" for x0 in ("-1.5", "0.5", "3.0")
    ]

    # The reference solution: full marks, and the report draws the check's plot.
    shutil.copy(root / "solutions" / NAME / "solution.py", exercise)
    run = _grade(root, "98", "--seed", "1", "--html", str(html))
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"total\s+5/5", run.stdout), run.stdout
    page = html.read_text(encoding="utf-8")
    assert '<figure class="plot" data-kind="line"><svg' in page
    assert "Second derivative of an unseen function: your code: 9 points" in page

    # Not one byte of the grader changed.
    assert _tree_digest(root / "grader") == before
