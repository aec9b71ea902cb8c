"""Find the course and its exercises: the first stage of every grade.

The course is data: an exercise is a folder ``exercises/NN_name`` with hidden
checks in ``checks/NN_name``. Adding one needs no change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import tomllib

__all__ = ["Course", "Exercise", "CourseError", "checks_digest", "files_digest"]

_EXERCISE = re.compile(r"^(\d+)_[A-Za-z0-9_]+$")


class CourseError(Exception):
    """A one-line, user-facing reason why the course or an exercise cannot be found."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: where its statement, stub, checks and reference solution live."""

    name: str
    folder: Path
    checks: Path
    solution: Path

    @property
    def number(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def title(self) -> str:
        readme = self.folder / "README.md"
        if readme.is_file():
            for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
        return self.name

    @property
    def checks_digest(self) -> str:
        return checks_digest(self.checks)

    @property
    def functions(self) -> tuple[str, ...]:
        """Name the functions the stub asks for (its top-level ``def``s), without running it."""
        import ast

        stub = self.folder / "exercise.py"
        try:
            tree = ast.parse(stub.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return ()
        return tuple(node.name for node in tree.body if isinstance(node, ast.FunctionDef))

    @property
    def mistakes(self) -> list[Path]:
        return sorted((self.solution.parent / "mistakes").glob("*.py"))


def checks_digest(checks: Path) -> str:
    """Name the exact version of an exercise's checks folder (every file but caches).

    A batch keeps a student's result only while the checks that gave it are
    unchanged: an instructor who fixes a check mid-term gets it applied to the
    whole class on the next run, and a warm worker collects it again.
    """
    return files_digest(checks, sorted(checks.rglob("*")))[:16]


def files_digest(root: Path, paths: list[Path], salt: str = "") -> str:
    """Hash the names (relative to ``root``) and bytes of the files among ``paths``."""
    import hashlib

    digest = hashlib.sha256(salt.encode())
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Course:
    """The course rooted at the folder that holds ``course.toml``."""

    root: Path
    title: str
    exercises: tuple[Exercise, ...]

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @classmethod
    def find(cls, start: Path | None = None) -> Course:
        """Walk up from ``start`` (default: the current folder) to the course root."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "course.toml").is_file():
                return cls.load(folder)
        raise CourseError(
            f"no course found: neither {here} nor a folder above it holds course.toml "
            "(run grade inside the course, or pass --course DIR)"
        )

    @classmethod
    def load(cls, root: Path) -> Course:
        """Read the course at ``root``."""
        root = root.resolve()
        try:
            with (root / "course.toml").open("rb") as f:
                meta = tomllib.load(f)
        except FileNotFoundError:
            raise CourseError(f"{root} is not a course: it has no course.toml") from None
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{root / 'course.toml'} is not valid TOML: {exc}") from None
        exercises = []
        folder = root / "exercises"
        for path in sorted(folder.iterdir() if folder.is_dir() else []):
            if (
                path.is_dir()
                and _EXERCISE.match(path.name)
                and (root / "checks" / path.name).is_dir()
            ):
                exercises.append(
                    Exercise(
                        name=path.name,
                        folder=path,
                        checks=root / "checks" / path.name,
                        solution=root / "solutions" / path.name / "solution.py",
                    )
                )
        return cls(root=root, title=str(meta.get("title", root.name)), exercises=tuple(exercises))

    def exercise(self, ref: str) -> Exercise:
        """Resolve ``03``, ``3``, ``03_multi``, ``exercises/03`` or a folder to one exercise."""
        text = ref.strip().rstrip("/\\").replace("\\", "/")
        key = text.rsplit("/", 1)[-1]
        if key.isdigit():
            matches = [e for e in self.exercises if int(e.number) == int(key)]
        else:
            matches = [e for e in self.exercises if e.name.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        names = ", ".join(e.name for e in self.exercises) or "none"
        if not matches:
            raise CourseError(f"unknown exercise {ref!r} (exercises: {names})")
        raise CourseError(
            f"{ref!r} matches several exercises: {', '.join(e.name for e in matches)}"
        )

    def select(self, refs: str | None) -> list[Exercise]:
        """Resolve a comma-separated list such as ``03,07``; all exercises when empty."""
        if not refs:
            return list(self.exercises)
        return [self.exercise(r) for r in refs.split(",") if r.strip()]
