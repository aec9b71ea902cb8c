"""How much of a graded attempt a student sees: the full report, hints only, the score only, or
"received" only, before and after the exercise's release time.

Every page, API reply and ``grade submit`` output a student gets passes
through ``student_view``: one place cuts a result down to what the policy
allows, so no route can show more by forgetting a check. Instructors always
see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from grader.course.rules import CourseRules
from grader.serve.accounts import Actor

__all__ = ["View", "level_for", "student_view"]


@dataclass(frozen=True)
class View:
    """What one reader may see of one graded attempt."""

    level: str  # full, hints, score, received
    score: float | None  # None: not shown
    max_score: float | None
    hints: tuple[str, ...]  # the failed checks' hints, written out (hints level)
    released: str | None  # when more is shown, in the course's zone (None: nothing more later)

    @property
    def full(self) -> bool:
        return self.level == "full"


def level_for(actor: Actor | None, rules: CourseRules, exercise: str, now: datetime) -> str:
    """Return how much ``actor`` may see of a graded attempt of ``exercise`` at ``now``."""
    if actor is not None and actor.role == "instructor":
        return "full"
    return rules.of(exercise).shown_at(now)


def student_view(
    level: str,
    rules: CourseRules,
    exercise: str,
    record: dict[str, Any] | None,
    score: float | None,
    max_score: float | None,
    now: datetime,
) -> View:
    """Cut a written result (``with_messages``'s record) down to ``level``.

    ``score`` is the score to show (the attempt's, or the final one on pages that
    show what counts).
    """
    own = rules.of(exercise)
    released = None
    if own.release is not None and now < own.release and own.after_release != level:
        released = own.local(own.release)
    hints: tuple[str, ...] = ()
    if level == "hints" and record is not None:
        checks = record.get("checks") or []
        found = [str(c.get("message") or "") for c in checks if not c.get("passed")]
        if not found and record.get("message"):
            found = [str(record["message"])]  # it never reached the checks: that one reason
        hints = tuple(h for h in found if h)
    shows_score = level in ("full", "score")
    return View(
        level,
        score if shows_score else None,
        max_score if shows_score else None,
        hints,
        released,
    )
