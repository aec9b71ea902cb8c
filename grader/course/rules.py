"""Read a course's rules from ``course.toml``: when each exercise opens and is due, what late costs.

The rules are course data, as the exercises are: a ``[rules]`` table holds the
course-wide defaults, and a table inside it per exercise (``[rules.03]``)
overrides them. A course without ``[rules]`` has no deadline, no limit and
shows every report at once, as the server always did. Every mistake is one
line naming the field, so ``grade verify`` and ``grade serve`` say exactly what
to fix.

Times are written in the course's time zone (``timezone``, an IANA name read
by the standard ``zoneinfo``) or with an explicit offset, and kept as naive UTC,
the server clock's own form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomllib

from grader.course.find import Course, CourseError

__all__ = [
    "LATE",
    "SHOWN",
    "ExerciseRules",
    "CourseRules",
    "RulesError",
    "load_rules",
    "rules_from_toml",
    "local_time",
    "rules_problems",
]

# refuse: nothing after the deadline; penalty: a share of the score per day or hour late;
# late-days: the student spends whole days from one budget across exercises.
LATE = ("refuse", "penalty", "late-days")
# What a student sees of a graded attempt, from most to least.
SHOWN = ("full", "hints", "score", "received")
_PER = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_TIMES = ("opens", "deadline", "release")
# Keys an exercise's table may hold; the course-wide table also holds these two.
_EXERCISE_KEYS = {
    *_TIMES,
    "late",
    "penalty",
    "penalty_per",
    "penalty_cap",
    "cutoff_days",
    "attempts",
    "cooloff_minutes",
    "before_release",
    "after_release",
}
_COURSE_KEYS = {"timezone", "late_days"}
_FIELDS = ", ".join(sorted(_EXERCISE_KEYS))


class RulesError(CourseError):
    """The course's rules have mistakes: one line each, naming the field."""


@dataclass(frozen=True)
class ExerciseRules:
    """The rules of one exercise, defaults filled in; times are naive UTC."""

    zone: str = "UTC"
    opens: datetime | None = None
    deadline: datetime | None = None
    late: str = "refuse"
    penalty: float = 0.0  # the share of the score taken per period started late
    penalty_per: str = "day"
    penalty_cap: float = 1.0
    cutoff_days: float | None = None  # after this many days late, refused
    attempts: int | None = None  # graded attempts allowed
    cooloff_minutes: float = 0.0
    release: datetime | None = None
    before_release: str = "full"
    after_release: str = "full"

    def local(self, moment: datetime) -> str:
        """Write a naive-UTC time in the course's zone, for a student to read."""
        shown = moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(self.zone))
        # Seconds only where they matter (the end of a cool-off), never rounded earlier.
        written = "%Y-%m-%d %H:%M:%S" if shown.second else "%Y-%m-%d %H:%M"
        return f"{shown.strftime(written)} {self.zone}"

    def shown_at(self, moment: datetime) -> str:
        """Say how much of a graded attempt a student may see at ``moment``."""
        if self.release is not None and moment < self.release:
            return self.before_release
        return self.after_release

    def late_share(self, handed_in: datetime, deadline: datetime | None) -> float:
        """Return the share of the score a hand-in at ``handed_in`` loses (0 when on time).

        Every period (day or hour) started after the deadline costs ``penalty``,
        up to ``penalty_cap``: one minute late is one day late.
        """
        if self.late != "penalty" or deadline is None or handed_in <= deadline:
            return 0.0
        periods = math.ceil((handed_in - deadline) / _PER[self.penalty_per])
        return min(self.penalty_cap, self.penalty * periods)

    def past_cutoff(self, handed_in: datetime, deadline: datetime | None) -> bool:
        """Say whether a hand-in at ``handed_in`` is later than any late policy takes."""
        if deadline is None or handed_in <= deadline:
            return False
        if self.late == "refuse":
            return True
        return self.cutoff_days is not None and handed_in > deadline + timedelta(
            days=self.cutoff_days
        )


def days_late(handed_in: datetime, deadline: datetime | None) -> int:
    """Count the days started after ``deadline`` (what a late-days hand-in spends)."""
    if deadline is None or handed_in <= deadline:
        return 0
    return math.ceil((handed_in - deadline) / timedelta(days=1))


@dataclass(frozen=True)
class CourseRules:
    """Every exercise's rules, and the late days each student may spend in the term."""

    zone: str = "UTC"
    late_days: int = 0
    exercises: dict[str, ExerciseRules] = field(default_factory=dict)

    def of(self, exercise: str) -> ExerciseRules:
        """Return the rules of the exercise named ``exercise`` (the defaults when it has none)."""
        return self.exercises.get(exercise) or ExerciseRules(zone=self.zone)


def load_rules(course: Course) -> CourseRules:
    """Read ``course``'s rules; raise RulesError with every mistake, one line each."""
    rules, problems = _read(course)
    if problems:
        raise RulesError("\n".join(problems))
    return rules


def rules_problems(course: Course) -> list[str]:
    """Return the mistakes in ``course``'s rules, one line each (``grade verify``)."""
    return _read(course)[1]


def rules_from_toml(course: Course, text: str) -> CourseRules:
    """Read rules from ``text``, a course.toml's content, for ``course``'s exercises."""
    rules, problems = _from_text(course, text)
    if problems:
        raise RulesError("\n".join(problems))
    return rules


def _read(course: Course) -> tuple[CourseRules, list[str]]:
    try:
        text = (course.root / "course.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return CourseRules(), [f"course.toml: cannot be read: {exc}"]
    return _from_text(course, text)


def _from_text(course: Course, text: str) -> tuple[CourseRules, list[str]]:
    try:
        meta = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return CourseRules(), [f"course.toml: not valid TOML: {exc}"]
    table = meta.get("rules")
    if table is None:
        return CourseRules(), []
    if not isinstance(table, dict):
        return CourseRules(), ["course.toml: rules: expected a table ([rules])"]
    return _parse(course, table, Path("course.toml"))


def _parse(course: Course, table: dict[str, Any], shown: Path) -> tuple[CourseRules, list[str]]:
    problems: list[str] = []

    def problem(where: str, what: str) -> None:
        problems.append(f"{shown}: {where}: {what}")

    zone = table.get("timezone", "UTC")
    if not isinstance(zone, str):
        problem("rules.timezone", "expected a time zone name such as Europe/Berlin")
        zone = "UTC"
    else:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problem("rules.timezone", f"unknown time zone {zone!r} (an IANA name: Europe/Berlin)")
            zone = "UTC"
    late_days = table.get("late_days", 0)
    if isinstance(late_days, bool) or not isinstance(late_days, int) or late_days < 0:
        problem("rules.late_days", "expected a whole number of days, 0 or more")
        late_days = 0
    defaults = {k: v for k, v in table.items() if not isinstance(v, dict)}
    for key in sorted(set(defaults) - _EXERCISE_KEYS - _COURSE_KEYS):
        problem(f"rules.{key}", f"unknown field (fields: {_FIELDS})")
    base = _exercise(
        ExerciseRules(zone=zone),
        {k: v for k, v in defaults.items() if k in _EXERCISE_KEYS},
        "rules",
        problem,
    )
    exercises: dict[str, ExerciseRules] = {}
    for ref, values in table.items():
        if not isinstance(values, dict):
            continue
        try:
            exercise = course.exercise(ref)
        except CourseError as exc:
            problem(f"rules.{ref}", str(exc))
            continue
        for key in sorted(set(values) - _EXERCISE_KEYS):
            problem(f"rules.{ref}.{key}", f"unknown field (fields: {_FIELDS})")
        known = {k: v for k, v in values.items() if k in _EXERCISE_KEYS}
        exercises[exercise.name] = _exercise(base, known, f"rules.{ref}", problem)
    for exercise in course.exercises:
        exercises.setdefault(exercise.name, base)
    spends = base.late == "late-days" or any(r.late == "late-days" for r in exercises.values())
    if spends and late_days == 0 and "late_days" not in table:
        problem("rules.late_days", 'late = "late-days" needs the days each student may spend')
    return CourseRules(zone=zone, late_days=late_days, exercises=exercises), problems


def _exercise(
    base: ExerciseRules, values: dict[str, Any], where: str, problem: Any
) -> ExerciseRules:
    changes: dict[str, Any] = {}
    zone = ZoneInfo(base.zone)
    for key in _TIMES:
        if key in values:
            moment = _moment(values[key], zone)
            if moment is None:
                problem(
                    f"{where}.{key}",
                    "expected a date and time such as 2026-11-08T23:59 (TOML, or a string)",
                )
            else:
                changes[key] = moment
    for key, choices in (
        ("late", LATE),
        ("penalty_per", tuple(_PER)),
        ("before_release", SHOWN),
        ("after_release", SHOWN),
    ):
        if key in values:
            if values[key] in choices:
                changes[key] = values[key]
            else:
                problem(f"{where}.{key}", f"{values[key]!r} is not one of {', '.join(choices)}")
    for key, low, high in (("penalty", 0.0, 1.0), ("penalty_cap", 0.0, 1.0)):
        if key in values:
            value = values[key]
            if not _number(value) or not low <= value <= high:
                problem(f"{where}.{key}", f"expected a share from {low} to {high}, got {value!r}")
            else:
                changes[key] = float(value)
    for key in ("cutoff_days", "cooloff_minutes"):
        if key in values:
            value = values[key]
            if not _number(value) or value < 0:
                problem(f"{where}.{key}", f"expected a number, 0 or more, got {value!r}")
            else:
                changes[key] = float(value)
    if "attempts" in values:
        value = values["attempts"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problem(f"{where}.attempts", f"expected a whole number, 1 or more, got {value!r}")
        else:
            changes["attempts"] = value
    rules = replace(base, **changes)
    if rules.opens is not None and rules.deadline is not None and rules.deadline <= rules.opens:
        problem(
            f"{where}.deadline",
            f"the deadline ({rules.local(rules.deadline)}) is not after the opening "
            f"({rules.local(rules.opens)})",
        )
    return rules


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _moment(value: Any, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):  # a date alone says no time of day
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def local_time(text: str, zone: str) -> datetime:
    """Read a time an instructor typed (in the course's zone unless it has an offset) as naive UTC.

    Raises ValueError with one line saying what is expected.
    """
    moment = _moment(text, ZoneInfo(zone))
    if moment is None:
        raise ValueError(f"{text!r} is not a date and time such as 2026-11-08T23:59 ({zone})")
    return moment
