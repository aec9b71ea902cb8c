"""The reference solutions and the known-mistakes bank keep their grades.

``tests/fixtures/grades_seed1.json`` records, for seed 1, every solution's and
mistake's status and each check's verdict, points and hint id, as they were
before the mistake-shape recognisers arrived. A hint may since have become
more specific (a shape recogniser names what the generic hint only showed as
numbers); those changes are listed in ``MORE_SPECIFIC`` and nowhere else.

Regenerate the fixture (after a deliberate change of grades) with
``python3 tests/e2e/test_grades_unchanged.py --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "grades_seed1.json"
SEED = 1

# (file, check) -> (hint before, hint now): hints that now name the mistake's shape.
MORE_SPECIFIC: dict[tuple[str, str], tuple[str, str]] = {
    (
        "solutions/06_minimize_square/mistakes/off_by_one_epochs.py",
        "test_minimize_square_history",
    ): ("history_length", "shape_missing_step"),
    ("solutions/07_fit_line/mistakes/off_by_one_epochs.py", "test_fit_line_losses"): (
        "fit_losses_length",
        "shape_missing_step",
    ),
    ("solutions/07_fit_line/mistakes/off_by_one_epochs.py", "test_fit_line_random_data"): (
        "fit_losses_length",
        "shape_missing_step",
    ),
    # Every check of 03 that meets a freed graph gives the one remedy (issue 20).
    (
        "solutions/03_multi_input_grads/mistakes/grad_twice_same_graph.py",
        "test_uses_autograd",
    ): ("backward_twice", "graph_freed"),
}


def record(files: list[str] | None = None, extra: str = "") -> dict[str, Any]:
    """Grade every solution and mistake (and ``extra`` folder's files) with ``SEED``.

    Keeps verdicts only: status, score, and each check's verdict, points and hint id.
    """
    from grader.authoring.verify import _executor, _Grader
    from grader.course.find import Course

    course = Course.load(REPO)
    grader = _Grader(course, _executor(course))
    out: dict[str, Any] = {}
    try:
        for exercise in course.exercises:
            more = sorted((exercise.solution.parent / extra).glob("*.py")) if extra else []
            for path in [exercise.solution, *exercise.mistakes, *more]:
                shown = grader.shown(path)
                if files is not None and shown not in files:
                    continue
                result = grader.grade(exercise, path, SEED)
                out[shown] = {
                    "status": result["status"],
                    "score": result["score"],
                    "checks": {
                        c["name"]: {
                            "passed": c["passed"],
                            "score": c["score"],
                            "hint": (c["hint"] or {}).get("id", ""),
                        }
                        for c in result["checks"]
                    },
                }
    finally:
        grader.executor.close()
    return out


def test_grades_unchanged_apart_from_more_specific_hints() -> None:
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))
    now = record(sorted(before))
    changed = []
    for shown, old in sorted(before.items()):
        new = now[shown]
        if (old["status"], old["score"]) != (new["status"], new["score"]):
            changed.append(f"{shown}: {old['status']} {old['score']} -> {new['score']}")
        for check, was in old["checks"].items():
            is_ = new["checks"].get(check)
            if is_ is None or (was["passed"], was["score"]) != (is_["passed"], is_["score"]):
                changed.append(f"{shown} {check}: {was} -> {is_}")
            elif was["hint"] != is_["hint"] and MORE_SPECIFIC.get((shown, check)) != (
                was["hint"],
                is_["hint"],
            ):
                changed.append(f"{shown} {check}: hint {was['hint']} -> {is_['hint']}")
    assert not changed, "\n".join(changed)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FIXTURE.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
