"""Who may sign in: the roster's students (by secret link or token) and instructors (password).

Secrets are 256 random bits, shown once and stored only as their SHA-256;
passwords are stored only as argon2id hashes (memory-hard: a stolen
database does not give the passwords back cheaply).
"""

from __future__ import annotations

import csv
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from grader.review.gradebook import Roster, RosterError, load_roster
from grader.serve import clock
from grader.serve.database import ServeError, reading, setting, writing
from grader.serve.models import Instructor, Setting, SigninAttempt, Student, Token
from grader.serve.prepared import Prepared

__all__ = [
    "Actor",
    "import_roster",
    "roster_of",
    "add_instructor",
    "check_password",
    "student_for_secret",
    "issue_token",
    "Throttle",
    "digest_of_secret",
    "import_platform_roster",
]

LINK_LIFETIME = timedelta(days=200)


@dataclass(frozen=True)
class Actor:
    """Who is asking: a student (``student_id``) or an instructor; None is anonymous."""

    role: str  # "student" or "instructor"
    id: int
    name: str


def digest_of_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def issue_token(
    session: Session, student_id: int, kind: str, lifetime: timedelta | None = None
) -> str:
    """Make a new secret for the student; return it (the only time it exists in clear)."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        Token(
            student_id=student_id,
            kind=kind,
            digest=digest_of_secret(secret),
            created_at=now,
            expires_at=now + lifetime if lifetime else None,
        )
    )
    session.flush()
    return secret


# Built once (every request of the API asks it, a hand-in among them): building the
# statement anew cost more than running it.
_BY_SECRET = Prepared(
    select(Student.id, Student.name)
    .join(Token, Token.student_id == Student.id)
    .where(
        Token.digest == bindparam("digest"),
        Token.kind == bindparam("kind"),
        Token.revoked_at.is_(None),
        or_(Token.expires_at.is_(None), Token.expires_at > bindparam("now")),
    )
)


def student_for_secret(session: Session, secret: str, kind: str) -> Actor | None:
    """Return the student whose live secret of ``kind`` (``link``, ``api``) this is, or None."""
    found = _BY_SECRET.first(
        session, {"digest": digest_of_secret(secret), "kind": kind, "now": clock.now()}
    )
    return None if found is None else Actor("student", *found)


def _read_plain_roster(path: Path) -> Roster:
    """Read a roster that names no platform: a ``folder`` column is all it needs."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"roster {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"roster {path}: cannot be read ({exc})") from None
    table = list(csv.reader(text.splitlines()))
    if not table:
        raise RosterError(f"roster {path}: empty")
    columns = tuple("_".join(h.strip().lower().replace("_", " ").split()) for h in table[0])
    if "folder" not in columns:
        raise RosterError(
            f"roster {path}: missing column folder (it has {', '.join(columns) or 'none'})"
        )
    rows: dict[str, dict[str, str]] = {}
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        row = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns)}
        if not row["folder"]:
            raise RosterError(f"roster {path}, line {number}: empty folder")
        if row["folder"] in rows:
            raise RosterError(
                f"roster {path}, line {number}: folder {row['folder']!r} listed twice"
            )
        rows[row["folder"]] = row
    return Roster(platform="", path=str(path), rows=rows, columns=columns)


def import_roster(
    session: Session,
    path: Path,
    platform: str | None,
    base_url: str,
    *,
    new_links: bool = False,
    lifetime: timedelta = LINK_LIFETIME,
) -> list[tuple[str, str, str]]:
    """Add the roster's students; return (folder, name, sign-in link) for each new link made.

    A student already known keeps their link unless ``new_links`` (the old one
    then stops working): a second import adds the late enrolments only.
    """
    try:
        roster = load_roster(path, platform) if platform else _read_plain_roster(path)
    except RosterError as exc:
        raise ServeError(str(exc)) from None
    now = clock.now()
    links = []
    for folder, row in roster.rows.items():
        student = session.scalar(select(Student).where(Student.name == folder))
        fresh = student is None
        if student is None:
            student = Student(name=folder, roster=row, created_at=now)
            session.add(student)
            session.flush()
        else:
            student.roster = row
        if fresh or new_links:
            session.execute(
                update(Token)
                .where(Token.student_id == student.id, Token.kind == "link")
                .values(revoked_at=now)
            )
            secret = issue_token(session, student.id, "link", lifetime)
            links.append(
                (folder, row.get("student", folder), f"{base_url.rstrip('/')}/signin/{secret}")
            )
    for key, value in (
        ("roster_platform", roster.platform),
        ("roster_columns", ",".join(roster.columns)),
    ):
        found = session.get(Setting, key)
        if found is None:
            session.add(Setting(key=key, value=value))
        else:
            found.value = value
    return links


def roster_of(session: Session) -> Roster | None:
    """Return the imported roster as ``grader.review.gradebook`` reads it (None: none named)."""
    platform = setting(session, "roster_platform")
    if not platform:
        return None
    columns = tuple((setting(session, "roster_columns") or "").split(","))
    rows = {s.name: dict(s.roster) for s in session.scalars(select(Student))}
    return Roster(platform=platform, path="the server's roster", rows=rows, columns=columns)


def write_links(path: Path, links: list[tuple[str, str, str]]) -> None:
    """Write signin-links.csv (mode 0600: every line signs a student in)."""
    import os

    from grader.render import export

    rows: list[list[str]] = [["folder", "student", "link"], *map(list, links)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(export.table_csv(rows))


def add_instructor(session: Session, name: str, password: str) -> None:
    """Create the instructor, or set a new password for one who exists."""
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise ServeError("the password must have at least 8 characters")
    hashed = PasswordHasher().hash(password)
    found = session.scalar(select(Instructor).where(Instructor.name == name))
    if found is None:
        session.add(Instructor(name=name, password_hash=hashed, created_at=clock.now()))
    else:
        found.password_hash = hashed


def check_password(session: Session, name: str, password: str) -> Instructor | None:
    """Return the instructor if ``password`` is theirs, else None (in constant work)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import Argon2Error, InvalidHashError

    hasher = PasswordHasher()
    found = session.scalar(select(Instructor).where(Instructor.name == name))
    # An unknown name costs a hash too: the time taken does not tell names apart.
    stored = found.password_hash if found else _DUMMY.get(hasher)
    try:
        hasher.verify(stored, password)
    except (Argon2Error, InvalidHashError):
        return None
    return found


class _Dummy:
    def __init__(self) -> None:
        self._hash: str | None = None

    def get(self, hasher: object) -> str:
        if self._hash is None:
            self._hash = hasher.hash(secrets.token_urlsafe(16))  # type: ignore[attr-defined]
        return self._hash


_DUMMY = _Dummy()


class Throttle:
    """Slow down guessing: after a few wrong secrets from one address, refuse for a while.

    The wrong tries are rows of the database (``signin_attempts``), so every web
    process of the server counts the same ones: more processes give an attacker
    no more tries. Rows older than the window are deleted as new ones come.
    """

    FREE = 5  # wrong tries allowed before the waits start
    WINDOW = timedelta(minutes=10)  # after which wrong tries are forgotten

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def wait_for(self, address: str) -> float:
        """Return the seconds ``address`` must wait before its next try (0: go ahead)."""
        now = clock.now()
        with Session(reading(self._engine)) as session:
            count, last = session.execute(
                select(func.count(SigninAttempt.id), func.max(SigninAttempt.at)).where(
                    SigninAttempt.address == address[:64], SigninAttempt.at > now - self.WINDOW
                )
            ).one()
        if count < self.FREE or last is None:
            return 0.0
        # Doubling from 1 s with every wrong try past the free ones, up to the window.
        wait = min(self.WINDOW.total_seconds(), 2.0 ** (count - self.FREE))
        return max(0.0, (last - now).total_seconds() + wait)

    def failed(self, address: str) -> None:
        """Count a wrong try from ``address``."""
        now = clock.now()
        with writing(self._engine) as session:
            session.execute(delete(SigninAttempt).where(SigninAttempt.at <= now - self.WINDOW))
            session.execute(insert(SigninAttempt).values(address=address[:64], at=now))


def import_platform_roster(engine: Any, services: Any) -> tuple[int, int]:
    """Add or refresh the learners of every course launched from (LTI NRPS); return (new, known).

    A learner already here (linked, or found in the roster by platform id, email
    or SIS id) keeps their folder; the platform's name and email refresh the
    roster's cells. The platform is asked outside any database transaction.
    """
    from grader.serve.lti import LEARNER_ROLES, student_for_member
    from grader.serve.lti_services import Access
    from grader.serve.models import LtiContext, LtiPlatform

    with Session(engine) as session:
        courses = [
            (c.platform_id, c.id, c.memberships_url, Access.of(session, platform))
            for c in session.scalars(
                select(LtiContext).where(LtiContext.memberships_url.is_not(None))
            )
            if (platform := session.get(LtiPlatform, c.platform_id)) is not None
        ]
    if not courses:
        raise ServeError(
            "no course has launched this tool with a roster service (NRPS) yet: "
            "open one exercise from the course first"
        )
    new = known = 0
    for platform_id, context_id, url, access in courses:
        members = services.members(access, url)
        with Session(engine) as session, session.begin():
            for member in members:
                roles = set(member.get("roles") or [])
                if not roles & LEARNER_ROLES or member.get("status", "Active") != "Active":
                    continue
                person = {
                    "lti_user_id": str(member.get("user_id") or ""),
                    "student": str(member.get("name") or ""),
                    "email": str(member.get("email") or ""),
                    "sis_user_id": str(member.get("lis_person_sourcedid") or ""),
                }
                person = {k: v for k, v in person.items() if v}
                if "lti_user_id" not in person:
                    continue
                before = session.scalar(select(func.count(Student.id)))
                student = student_for_member(session, platform_id, person, context_id)
                student.roster = {**student.roster, **person}
                if session.scalar(select(func.count(Student.id))) != before:
                    new += 1
                else:
                    known += 1
    return new, known
