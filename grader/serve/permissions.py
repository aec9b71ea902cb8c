"""Who may do what: one question per route, asked of one function (as Datasette does).

Each route names its action and, where it has one, the student who owns the
resource; nothing else in the server decides access.
"""

from __future__ import annotations

from grader.serve.accounts import Actor

__all__ = ["ACTIONS", "allowed"]

# action -> who may take it; "own" means a student for their own resource, or an instructor.
ACTIONS = {
    "sign-in": "anyone",
    "list-exercises": "anyone",
    "submit": "student",
    "list-own-submissions": "student",
    "view-submission": "own",
    "view-class": "instructor",
    "download-class": "instructor",
    "view-student": "instructor",
    "regrade": "instructor",
    "view-passback": "instructor",
    "retry-passback": "instructor",
    "decide": "instructor",  # extensions, overrides, comments on a check
}


def allowed(actor: Actor | None, action: str, owner: int | None = None) -> bool:
    """Say whether ``actor`` may take ``action`` on a resource of student ``owner``."""
    who = ACTIONS[action]  # an unknown action is a bug of the server: KeyError, not a yes
    if who == "anyone":
        return True
    if actor is None:
        return False
    if who == "instructor":
        return actor.role == "instructor"
    if who == "student":
        return actor.role == "student"
    if who == "own":
        return actor.role == "instructor" or (
            actor.role == "student" and owner is not None and actor.id == owner
        )
    return False
