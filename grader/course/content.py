"""What an exercise brings as data: operations for unseen functions and torch-error patterns.

An exercise folder extends the grader without touching ``grader/``:

- ``checks/NN_name/operations.toml``: operations its unseen test functions may
  use, beside the built-in ones of ``grader.child.operations``;
- ``[patterns]`` in ``templates/locale/en/NN_name.toml``: regular expressions
  over torch's error messages, each naming the hint it turns into, tried
  before the shared ones of ``templates/locale/en/torch_errors.toml``.

``grade_exercise`` makes one exercise's content active while its checks run,
so the check API (``random_function``, ``CallResult.returned``) finds it
without every check passing it along.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from grader.child.operations import BUILTIN, Operation, OperationError, parse_table

__all__ = ["ExerciseContent", "ContentError", "active", "using"]


class ContentError(Exception):
    """An exercise's data files are malformed: a course bug, told in one line."""


@dataclass(frozen=True)
class ExerciseContent:
    """The operations and torch-error patterns one exercise's checks run with."""

    added: dict[str, Operation] = field(default_factory=dict)  # the exercise's own operations
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()  # (pattern, hint id), first match wins

    @property
    def operations(self) -> dict[str, Operation]:
        return {**BUILTIN, **self.added}

    def wire(self) -> dict[str, Any]:
        """Return the added operations as the child needs them (torch expressions only)."""
        return {name: op.wire() for name, op in self.added.items()}

    def error_hint(self, message: str) -> str | None:
        """Name the hint for a torch error message, or None if no pattern matches."""
        lowered = message.lower()
        for pattern, hint in self.patterns:
            if pattern.search(lowered):
                return hint
        return None

    @classmethod
    def load(cls, checks: Path, templates: Path) -> ExerciseContent:
        """Read the content of the exercise whose checks live in ``checks``."""
        added: dict[str, Operation] = {}
        ops = checks / "operations.toml"
        if ops.is_file():
            try:
                added = parse_table(_toml(ops), where=str(ops))
            except OperationError as exc:
                raise ContentError(str(exc)) from None
            clash = sorted(set(added) & set(BUILTIN))
            if clash:
                raise ContentError(f"{ops}: {clash[0]} is a built-in operation; name it otherwise")
        # Torch speaks English whatever the report's language: patterns live in en/ only.
        english = templates / "locale" / "en"
        patterns: list[tuple[re.Pattern[str], str]] = []
        for path in (english / f"{checks.name}.toml", english / "torch_errors.toml"):
            table = _toml(path).get("patterns", {}) if path.is_file() else {}
            for hint, pattern in table.items():
                try:
                    # Messages are lowered before matching, so patterns are too.
                    patterns.append((re.compile(str(pattern).lower()), str(hint)))
                except re.error as exc:
                    raise ContentError(f"{path}: pattern {hint} is not a regex: {exc}") from None
        return cls(added=added, patterns=tuple(patterns))


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(f"{path} is not valid TOML: {exc}") from None


# Context-local, like the answers: exercises judged side by side on threads (``grade``
# with several exercises, a batch worker) each see their own operations and patterns;
# a shared stack let one exercise's checks run with another's (and miss their own).
_ACTIVE: ContextVar[ExerciseContent] = ContextVar("exercise_content")
_BUILT_IN = ExerciseContent()  # outside any exercise's checks


def active() -> ExerciseContent:
    """Return the content of the exercise whose checks are running (built-ins otherwise)."""
    return _ACTIVE.get(_BUILT_IN)


@contextmanager
def using(content: ExerciseContent) -> Iterator[ExerciseContent]:
    """Make ``content`` active while one exercise's checks run (in this thread or task)."""
    token = _ACTIVE.set(content)
    try:
        yield content
    finally:
        _ACTIVE.reset(token)
