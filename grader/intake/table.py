"""Render what the intake found as one screen of text, printed before grading starts."""

from __future__ import annotations

from grader.intake.placement import Intake
from grader.render.terminal import clean_for_terminal

__all__ = ["intake_table"]

SHOWN_STUDENTS = 20  # rows of students; the rest are counted (all are in results.json)
SHOWN_NOTES = 12  # unplaced files and choices each


def intake_table(intake: Intake, graded: list[str]) -> str:
    """Return the table: students, the exercises found for each, what was not placed and why.

    Its first line starts ``grade: found``, every other line with two spaces,
    so a log reader (or a test) tells the table from the lines that follow.
    """
    students = intake.students
    numbers = [e.split("_", 1)[0] for e in graded]
    complete = sum(all(s.files.values()) for s in students)
    lines = [
        f"grade: found {_LAYOUT_NAMES[intake.layout]}: {len(students)} student(s), "
        f"exercise(s) {', '.join(numbers)}; {complete} handed in every one"
    ]
    width = min(28, max((len(clean_for_terminal(s.name)) for s in students), default=7))
    width = max(width, 7)
    lines.append(f"  {'student':<{width}}  " + "  ".join(f"{n:>3}" for n in numbers) + "  notes")
    for student in students[:SHOWN_STUDENTS]:
        name = clean_for_terminal(student.name)
        name = name if len(name) <= width else name[: width - 1] + "…"
        chosen = {c.exercise for c in student.choices}
        marks = [
            ("  *" if e in chosen else "  +") if student.files.get(e) else "  -" for e in graded
        ]
        notes = []
        if student.identity.late:
            notes.append("LATE")
        if student.unplaced:
            notes.append(f"{len(student.unplaced)} file(s) not placed")
        lines.append(
            f"  {name:<{width}}  " + "  ".join(marks) + ("  " + ", ".join(notes) if notes else "")
        )
    if len(students) > SHOWN_STUDENTS:
        lines.append(f"  ... and {len(students) - SHOWN_STUDENTS} more (all in results.json)")
    lines.append("  (+ found, * found among several files: the latest used, - missing)")
    unplaced = [(s.name, path, why) for s in students for path, why in s.unplaced]
    unplaced += [("(no student)", path, why) for path, why in intake.stray]
    if unplaced:
        lines.append(f"  files not placed on any exercise ({len(unplaced)}), never graded:")
        lines += [
            f"    {clean_for_terminal(s)}: {clean_for_terminal(path) or '-'}: {why}"
            for s, path, why in unplaced[:SHOWN_NOTES]
        ]
        lines += _more(len(unplaced))
    choices = [(s.name, c) for s in students for c in s.choices]
    if choices:
        lines.append(f"  several files for one exercise ({len(choices)}), the latest used:")
        lines += [
            f"    {clean_for_terminal(s)}: {c.exercise[:2]}: used {clean_for_terminal(c.used)}, "
            f"not {', '.join(clean_for_terminal(o) for o in c.others)}"
            for s, c in choices[:SHOWN_NOTES]
        ]
        lines += _more(len(choices))
    return "\n".join(lines)


def _more(count: int) -> list[str]:
    return (
        [f"    ... and {count - SHOWN_NOTES} more (in results.json)"] if count > SHOWN_NOTES else []
    )


_LAYOUT_NAMES = {
    "canvas": "a Canvas download",
    "moodle": "a Moodle download",
    "repos": "repository clones",
    "folders": "a folder per student",
}
