"""Turn what went wrong into a hint id: a check's verdict, an error the student's code raised.

A failed check raises ``CheckFailed`` with a hint id from the catalogs in
``templates/locale``; its parameters fill the hint's blanks. An error raised
in the child arrives as plain data (``kind``, ``type``, ``message``) and
becomes a hint here: which torch message means which mistake is course data,
the ``[patterns]`` of the English catalogs (see ``grader.content``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from grader import content

__all__ = ["CheckFailed", "fail", "expect", "error_hint", "load_failure"]


class CheckFailed(AssertionError):
    """A check's verdict: failed, with the hint that says why."""

    def __init__(self, hint: str, **params: Any) -> None:
        self.hint = hint
        self.params = {k: _plain(v) for k, v in params.items()}
        super().__init__(f"{hint} {self.params}")


def fail(hint: str, **params: Any) -> NoReturn:
    """Fail the current check with a hint."""
    raise CheckFailed(hint, **params)


def expect(condition: bool, hint: str, **params: Any) -> None:
    """Fail the current check with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint, **params)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value][:20]
    return str(value)


def error_hint(error: dict[str, Any], function: str) -> CheckFailed:
    """Translate an error the student's code raised into a hint."""
    kind = error.get("kind")
    message = str(error.get("message", ""))
    where = {
        "function": function,
        "line": error.get("line") or "?",
        "type": error.get("type", ""),
        "message": message[:300],
    }
    if kind == "missing_function":
        return CheckFailed("missing_function", **where)
    if kind == "memory":
        return CheckFailed("memory_limit", **where)
    if kind == "exit":
        return CheckFailed("exited_in_call", **where)
    if kind == "unreadable":
        return CheckFailed("unreadable_value", **where)
    if error.get("type") == "NotImplementedError":
        return CheckFailed("not_implemented", **where)
    return CheckFailed(content.active().error_hint(message) or "raised", **where)


def load_failure(error: dict[str, Any]) -> CheckFailed:
    """Translate an error raised while loading the submission into a hint."""
    kind = error.get("kind")
    params = {
        "line": error.get("line") or "?",
        "type": error.get("type", ""),
        "message": str(error.get("message", ""))[:300],
        "text": error.get("text", ""),
    }
    if kind == "syntax":
        return CheckFailed("syntax_error", **params)
    if kind == "memory":
        return CheckFailed("memory_limit", function="(module level)", **params)
    if kind == "exit":
        return CheckFailed("exited_at_load", **params)
    return CheckFailed("raised_at_load", **params)
