"""Self-test a course for instructors' CI (``grade verify``).

A course is sound when, for every exercise: the reference solution gets full
marks under two different seeds; grading it twice with the same seed gives
the same verdicts and messages; the untouched stub scores zero; every
correct alternative in ``solutions/NN_name/alternatives/`` (another autograd
style, e.g. ``torch.func``) gets full marks; and every known-wrong
implementation in ``solutions/NN_name/mistakes/`` (at least ``MIN_MISTAKES``
of them) fails the check its ``# caught-by:`` header names, with the hint
its optional ``# hint:`` header names.
Exercises are found by ``Course.load``, so a new ``NN_name`` is covered the
moment its folders exist. Each problem is one line naming exercise, file and
check; an empty list means the course is sound.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.authoring.lint import lint
from grader.course.find import Course, Exercise
from grader.engine.exercise import Settings, grade_exercise, secrets_of
from grader.judge import crashes
from grader.judge.checks import JudgeError
from grader.judge.reference import CRASHED
from grader.render.locale import Locale
from grader.run.executors import Executor, Limits
from grader.run.executors.sandboxed import SandboxExecutor
from grader.score.results import with_messages

__all__ = ["MIN_MISTAKES", "MistakeHeader", "read_header", "run"]

MIN_MISTAKES = 4
_HEADER = re.compile(r"^#\s*(mistake|caught-by|hint)\s*:\s*(.*?)\s*$")
_MESSAGE_CHARS = 160


@dataclass(frozen=True)
class MistakeHeader:
    """What a mistake file's leading comments say: the mistake, the check meant to
    catch it, and (optionally) the hint id that check must give."""

    mistake: str
    caught_by: str
    hint: str = ""


def read_header(path: Path) -> MistakeHeader:
    """Read the ``# mistake:``, ``# caught-by:`` and ``# hint:`` lines opening ``path``."""
    found = {"mistake": "", "caught-by": "", "hint": ""}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match and not found[match.group(1)]:
            found[match.group(1)] = match.group(2)
    return MistakeHeader(mistake=found["mistake"], caught_by=found["caught-by"], hint=found["hint"])


def run(
    course: Course,
    seed: int,
    echo: Callable[[str], None],
    exercises: Sequence[Exercise] | None = None,
) -> list[str]:
    """Verify ``exercises`` of ``course`` (default: all); return the problems, one line each.

    The course is read first (``grader.authoring.lint``): when that finds a problem,
    nothing is graded, since grading would show it late or not at all.
    """
    chosen = list(course.exercises if exercises is None else exercises)
    problems = lint(course, chosen)
    if problems:
        echo(f"reading {course.root}: {len(problems)} problem(s); nothing was graded")
        return problems
    other = _second_seed(seed)
    echo(f"verifying {len(chosen)} exercise(s) of {course.root} with seeds {seed} and {other}")
    problems = _layout_problems(course) if exercises is None else []
    grader = _Grader(course, _executor(course, len(chosen)))
    try:
        for exercise in chosen:
            found, summary = _verify_exercise(grader, exercise, seed, other)
            echo(f"{exercise.name}: {summary}")
            for (name, check), text in sorted(grader.tracebacks.items()):
                if name == exercise.name and text:
                    echo(f"  check {check} crashed:")
                    echo("\n".join(f"    {line}" for line in text.rstrip().splitlines()))
            problems += found
    finally:
        grader.executor.close()
    return problems


def _second_seed(seed: int) -> int:
    # Drawn from the first so that `grade verify --seed S` repeats exactly.
    other = random.Random(f"verify:{seed}").randrange(1, 10**6)
    return other if other != seed else other + 1


def _executor(course: Course, count: int | None = None) -> Executor:
    try:
        from grader.drivers.student import executor_for

        return executor_for(course, (len(course.exercises) if count is None else count) * 2)
    except ImportError:  # no warm-fork executor in this build
        return SandboxExecutor(hide=secrets_of(course))


def _layout_problems(course: Course) -> list[str]:
    """Name folders that ``Course.load`` silently skips: an exercise nobody would grade."""
    problems = []
    known = {e.name for e in course.exercises}
    for kind in ("exercises", "checks", "solutions"):
        folder = course.root / kind
        for path in sorted(folder.iterdir() if folder.is_dir() else []):
            if not path.is_dir() or path.name in known or not re.match(r"^\d+_", path.name):
                continue
            if kind == "exercises":
                problems.append(
                    f"{path.name}: exercises/{path.name} has no checks/{path.name}, "
                    "so it is never graded"
                )
            elif not (course.root / "exercises" / path.name).is_dir():
                problems.append(f"{path.name}: {kind}/{path.name} has no exercises/{path.name}")
    return problems


class _Grader:
    """Grade files of one course with one executor, as a student's file would be graded."""

    def __init__(self, course: Course, executor: Executor) -> None:
        self.course = course
        self.executor = executor
        self.locale = Locale(course.templates, "en")
        self.limits = Limits(timeout=60)
        self.tracebacks: dict[tuple[str, str], str] = {}

    def grade(self, exercise: Exercise, path: Path, seed: int) -> dict[str, Any]:
        settings = Settings(seed=seed, limits=self.limits)
        result = grade_exercise(
            self.course, exercise, path, self.executor, settings, shown_as=self.shown(path)
        )
        # The self-test's lines are output: its texts in English, written here.
        written = with_messages(dict(result), self.locale)
        for check in written["checks"]:
            if (check["hint"] or {}).get("id") in CRASHED:
                # For the author: where the check broke, and (once) its whole traceback.
                at = crashes.where(exercise.checks, check["name"])
                # First: the one-line problems keep 160 characters of a message.
                check["message"] = f"(at {at}) {check['message']}" if at else check["message"]
                self.tracebacks.setdefault(
                    (exercise.name, check["name"]), crashes.kept(exercise.checks, check["name"])
                )
        return written

    def shown(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.course.root))
        except ValueError:
            return str(path)


def _verify_exercise(
    grader: _Grader, exercise: Exercise, seed: int, other: int
) -> tuple[list[str], str]:
    """Run every self-test of one exercise; return its problems and a one-line summary."""
    name = exercise.name
    shown = grader.shown
    problems: list[str] = []
    if not exercise.solution.is_file():
        return [f"{name}: {shown(exercise.solution)} is missing"], "no reference solution"
    try:
        reference = grader.grade(exercise, exercise.solution, seed)
    except JudgeError as exc:
        return [f"{name}: the checks cannot run: {exc}"], "checks cannot run"
    checks = [c["name"] for c in reference["checks"]]

    def graded(path: Path, at: int) -> dict[str, Any] | None:
        try:
            return grader.grade(exercise, path, at)
        except JudgeError as exc:
            problems.append(f"{name}: {shown(path)} (seed {at}): the checks cannot run: {exc}")
            return None

    # Reference solution: full marks under both seeds, the same verdicts when repeated.
    problems += _full_marks(name, shown(exercise.solution), seed, reference)
    again = graded(exercise.solution, seed)
    if again is not None:
        problems += _nondeterministic(name, shown(exercise.solution), seed, reference, again)
    under_other = graded(exercise.solution, other)
    if under_other is not None:
        problems += _full_marks(name, shown(exercise.solution), other, under_other)
    parts = [f"solution {reference['score']:g}/{reference['max_score']:g}"]

    # Other correct styles (torch.func, torch.autograd.functional...): full marks too.
    alternatives = sorted((exercise.solution.parent / "alternatives").glob("*.py"))
    for path in alternatives:
        if (result := graded(path, seed)) is not None:
            problems += _full_marks(name, shown(path), seed, result)
    if alternatives:
        parts.append(f"{len(alternatives)} alternative(s)")

    # Untouched stub: loads, and earns nothing.
    stub = exercise.folder / "exercise.py"
    if not stub.is_file():
        problems.append(f"{name}: the stub {shown(stub)} is missing")
    elif (result := graded(stub, seed)) is not None:
        problems += _scores_zero(name, shown(stub), result)
        problems += _unknown_hints(name, shown(stub), result)
        parts.append(f"stub {result['score']:g}/{result['max_score']:g}")

    # Mistake bank: big enough, and each mistake caught by the check meant for it.
    mistakes = exercise.mistakes
    folder = shown(exercise.solution.parent / "mistakes")
    if len(mistakes) < MIN_MISTAKES:
        problems.append(
            f"{name}: {folder} holds {len(mistakes)} mistake(s), at least {MIN_MISTAKES} are needed"
        )
    caught = 0
    for path in mistakes:
        first = graded(path, seed)
        second = graded(path, seed)
        if first is None or second is None:
            continue
        # A failing submission's messages show the check's inputs: a check that
        # draws them from the global random (not the rng fixture) shows up here.
        missed = _caught(name, shown(path), read_header(path), checks, first)
        caught += not missed
        problems += missed
        problems += _nondeterministic(name, shown(path), seed, first, second)
        problems += _unknown_hints(name, shown(path), first)
    parts.append(f"{caught}/{len(mistakes)} mistakes caught")
    count = sum(p.startswith(f"{name}:") for p in problems)
    parts.append("ok" if not count else f"{count} problem(s)")
    return problems, ", ".join(parts)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def _not_graded(name: str, shown: str, seed: int, result: dict[str, Any]) -> list[str]:
    if result["status"] == "graded":
        return []
    return [
        f"{name}: {shown} (seed {seed}) was not graded ({result['status']}): "
        f"{_one_line(result['message'])}"
    ]


def _full_marks(name: str, shown: str, seed: int, result: dict[str, Any]) -> list[str]:
    if result["status"] != "graded":
        return _not_graded(name, shown, seed, result)
    if result["max_score"] <= 0:
        return [f"{name}: {shown} (seed {seed}): the checks are worth no points"]
    return [
        f"{name}: {shown} (seed {seed}) fails {c['name']}: {_one_line(c['message'])}"
        for c in result["checks"]
        if not c["passed"]
    ]


def _scores_zero(name: str, shown: str, result: dict[str, Any]) -> list[str]:
    problems = (
        [
            f"{name}: the stub {shown} (status {result['status']}) does not load: "
            f"{_one_line(result['message'])}"
        ]
        if result["status"] != "graded"
        else []
    )
    problems += [
        f"{name}: the stub {shown} passes {c['name']} "
        f"({c['score']:g} point(s)); an untouched stub must score 0"
        for c in result["checks"]
        if c["passed"] or c["score"]
    ]
    return problems


def _outcome(check: dict[str, Any] | None) -> str:
    if check is None:
        return "no such check"
    if check["passed"]:
        return f"passed, {check['score']:g}/{check['max_score']:g}"
    return f"failed, {check['score']:g}/{check['max_score']:g}: {_one_line(check['message'])}"


def _nondeterministic(
    name: str, shown: str, seed: int, first: dict[str, Any], second: dict[str, Any]
) -> list[str]:
    """Name every check whose verdict, points or message changed between two same-seed runs."""
    problems = []
    before = {c["name"]: c for c in first["checks"]}
    after = {c["name"]: c for c in second["checks"]}
    for check in sorted(before.keys() | after.keys()):
        a, b = before.get(check), after.get(check)
        if (
            a is None
            or b is None
            or any(a[k] != b[k] for k in ("passed", "score", "max_score", "message"))
        ):
            problems.append(
                f"{name}: check {check} is nondeterministic: {shown} with seed {seed} "
                f"gave [{_outcome(a)}] then [{_outcome(b)}]"
            )
    if not problems and (first["status"], first["message"]) != (
        second["status"],
        second["message"],
    ):
        problems.append(
            f"{name}: {shown} with seed {seed} ended {first['status']} then "
            f"{second['status']}: the run is nondeterministic"
        )
    return problems


def _unknown_hints(name: str, shown: str, result: dict[str, Any]) -> list[str]:
    # Locale.hint falls back to the bare id: students would read a code, not advice.
    return [
        f"{name}: check {c['name']} gives hint {c['hint']['id']!r} on {shown}, "
        "but no hint catalog defines it"
        for c in result["checks"]
        if not c["passed"] and c["hint"] and c["message"] == c["hint"]["id"]
    ]


def _caught(
    name: str, shown: str, header: MistakeHeader, checks: list[str], result: dict[str, Any]
) -> list[str]:
    """Say why ``result`` does not show the mistake caught by the check its header names."""
    if not header.caught_by:
        return [f"{name}: {shown} has no '# caught-by: <check>' header line"]
    problems = [] if header.mistake else [f"{name}: {shown} has no '# mistake: ...' header line"]
    if result["status"] != "graded":
        # Every check fails alike when the file cannot load: no check is shown to catch it.
        return problems + [
            f"{name}: {shown} was not graded ({result['status']}): "
            f"{_one_line(result['message'])}; a mistake must load and run"
        ]
    meant = [
        c
        for c in result["checks"]
        if c["name"] == header.caught_by or c["name"].split("[", 1)[0] == header.caught_by
    ]
    if not meant:
        return problems + [
            f"{name}: {shown} names unknown check {header.caught_by} in its "
            f"caught-by header (checks: {', '.join(checks)})"
        ]
    if all(c["passed"] for c in meant):
        others = [c["name"] for c in result["checks"] if not c["passed"]]
        also = f" (it fails {', '.join(others)})" if others else " (no check fails it)"
        return problems + [
            f"{name}: {shown} passes {header.caught_by}, the check its caught-by header names{also}"
        ]
    # A crash the reference solution does not make is charged to the student, but it is
    # still a check that crashed where it should have said why.
    crashed = [c for c in meant if not c["passed"] and (c["hint"] or {}).get("id") in CRASHED]
    if crashed and all(c["passed"] or c in crashed for c in meant):
        return problems + [
            f"{name}: check {header.caught_by} crashes on {shown} instead of "
            f"giving a hint: {_one_line(crashed[0]['message'])}"
        ]
    given = [(c["hint"] or {}).get("id", "") for c in meant if not c["passed"]]
    if header.hint and header.hint not in given:
        return problems + [
            f"{name}: {shown} fails {header.caught_by} with hint {', '.join(given)}, "
            f"not {header.hint} as its hint header says"
        ]
    return problems
