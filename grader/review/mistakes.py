"""Count the class's common mistakes: which hints how many students got, per exercise.

Every failed check names the mistake it caught by a hint id, so counting
hint ids over a graded class tells the instructor which misconceptions to
address next. Pure: a results document in, plain data out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from grader.render.locale import Locale

__all__ = ["common_mistakes", "EXAMPLES"]

EXAMPLES = 5  # students named in the CSV's example_students column


def common_mistakes(results: dict[str, Any], locale: Locale) -> list[dict[str, Any]]:
    """Return one row per exercise and hint: the students who got it, most common first.

    A student counts once per hint even when several checks failed with it.
    The share is of the students whose checks ran for that exercise: a
    missing or crashed submission says nothing about a misconception.
    """
    graded: dict[str, int] = defaultdict(int)
    holders: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for student in results.get("students") or []:
        name = str(student.get("student", ""))
        for exercise in student.get("exercises") or []:
            if exercise.get("status") != "graded":
                continue
            title = str(exercise.get("exercise", ""))
            graded[title] += 1
            for check in exercise.get("checks") or []:
                hint = check.get("hint")
                if check.get("passed") or not isinstance(hint, dict):
                    continue
                hint_id = hint.get("id")
                if isinstance(hint_id, str):
                    params = hint.get("params")
                    holders[(title, hint_id)].setdefault(
                        name, params if isinstance(params, dict) else {}
                    )
    rows = []
    for (exercise, hint_id), students in holders.items():
        names = sorted(students)
        rows.append(
            {
                "exercise": exercise,
                "hint": hint_id,
                # Hints carry parameters ("3x too large"): show the first student's.
                "text": locale.hint(exercise, hint_id, students[names[0]]),
                "students": len(names),
                "share": round(len(names) / graded[exercise], 4),
                "names": names,
            }
        )
    return sorted(rows, key=lambda r: (r["exercise"], -r["students"], r["hint"]))
