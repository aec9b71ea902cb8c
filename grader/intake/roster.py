"""Build the gradebook's roster from a platform's download, when its ids are enough."""

from __future__ import annotations

from grader.intake.placement import Intake
from grader.review.gradebook import Roster, RosterError

__all__ = ["roster_from"]


def roster_from(intake: Intake, platform: str) -> Roster:
    """Return a roster for ``platform`` from the ids in the download, or raise RosterError.

    Canvas imports grades by its user id, which a named Canvas download
    carries. Moodle's download carries the assignment's participant id, which
    its grade import does not know (it takes an ID number, email or user
    name), and an anonymous Canvas download carries no user id: both need
    ``--roster``.
    """
    if platform != "canvas" or intake.layout != "canvas":
        raise RosterError(
            f"--gradebook {platform} without --roster needs the platform's user ids, and "
            f"this {intake.layout} layout does not carry them"
            + (
                " (Moodle's download names participant ids, not users)"
                if platform == "moodle"
                else ""
            )
            + ": pass --roster roster.csv"
        )
    anonymous = [s.name for s in intake.students if s.identity.anonymous]
    if anonymous:
        raise RosterError(
            f"--gradebook canvas without --roster: {len(anonymous)} student(s) of this anonymous "
            "download have no user id: pass --roster roster.csv"
        )
    rows = {
        s.name: {"folder": s.name, "student": s.identity.name, "id": s.identity.id}
        for s in intake.students
    }
    return Roster("canvas", "the Canvas download", rows, ("folder", "student", "id"))
