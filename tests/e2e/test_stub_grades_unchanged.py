"""The untouched stubs keep their grades, hints and messages.

``tests/fixtures/stub_grades_seed1.json`` records, for seed 1, each stub's
status, score, and every check's verdict, hint id and English message, as
they were before the course content became data (issue 11). The solutions
and mistakes are compared by ``test_grades_unchanged.py``.

Regenerate (after a deliberate change) with
``python3 tests/e2e/test_stub_grades_unchanged.py --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "stub_grades_seed1.json"
SEED = 1


def record() -> dict[str, Any]:
    """Grade every exercise's stub with ``SEED``; keep verdicts and messages."""
    from grader.course import Course
    from grader.verify import _executor, _Grader

    course = Course.load(REPO)
    grader = _Grader(course, _executor(course))
    out: dict[str, Any] = {}
    try:
        for exercise in course.exercises:
            stub = exercise.folder / "exercise.py"
            result = grader.grade(exercise, stub, SEED)
            out[grader.shown(stub)] = {
                "status": result["status"],
                "score": result["score"],
                "max_score": result["max_score"],
                "message": result["message"],
                "checks": {
                    c["name"]: {
                        "passed": c["passed"],
                        "score": c["score"],
                        "hint": (c["hint"] or {}).get("id", ""),
                        "message": c["message"],
                    }
                    for c in result["checks"]
                },
            }
    finally:
        grader.executor.close()
    return out


def test_stub_grades_unchanged() -> None:
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert record() == before


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FIXTURE.write_text(
        json.dumps(record(), indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
