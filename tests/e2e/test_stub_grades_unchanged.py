"""The untouched stubs keep their grades, hints and messages.

``tests/fixtures/stub_grades_seed1.json`` records, for seed 1, each stub's
status, score, and every check's verdict, hint id and English message, as
they were before the course content became data (issue 11). The solutions
and mistakes are compared by ``test_grades_unchanged.py``.

A new exercise's stub is recorded, the others left as they are, with
``python3 tests/e2e/test_stub_grades_unchanged.py --add-new``; regenerate
every record (after a deliberate change) with ``--write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "stub_grades_seed1.json"
SEED = 1


def record(new_only: dict[str, Any] | None = None) -> dict[str, Any]:
    """Grade every exercise's stub with ``SEED``; keep verdicts and messages.

    With ``new_only`` (the records so far), grade only the stubs it lacks and
    return it with theirs added.
    """
    from grader.authoring.verify import _executor, _Grader
    from grader.course.find import Course

    course = Course.load(REPO)
    grader = _Grader(course, _executor(course))
    out: dict[str, Any] = dict(new_only or {})
    try:
        for exercise in course.exercises:
            stub = exercise.folder / "exercise.py"
            if new_only is not None and grader.shown(stub) in new_only:
                continue
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


def stubs() -> list[str]:
    """Name every exercise's stub as the records do."""
    from grader.course.find import Course

    return [f"exercises/{e.name}/exercise.py" for e in Course.load(REPO).exercises]


def test_every_stub_is_recorded() -> None:
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))
    missing = [stub for stub in stubs() if stub not in recorded]
    assert not missing, (
        f"{', '.join(missing)}: no recorded grades; record them with "
        "python3 tests/e2e/test_stub_grades_unchanged.py --add-new"
    )


def test_stub_grades_unchanged() -> None:
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))
    now = record()
    # A stub whose exercise is gone (or not yet recorded) is not this test's business.
    assert {k: v for k, v in now.items() if k in before} == {
        k: v for k, v in before.items() if k in now
    }


if __name__ == "__main__" and sys.argv[1:] in (["--write"], ["--add-new"]):
    kept = json.loads(FIXTURE.read_text(encoding="utf-8")) if sys.argv[1] == "--add-new" else None
    FIXTURE.write_text(
        json.dumps(record(kept), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
