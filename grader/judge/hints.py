"""Turn what went wrong into a hint id: a check's verdict, an error the student's code raised.

A failed check raises ``CheckFailed`` with a hint id from the catalogs in
``templates/locale``; its parameters fill the hint's blanks. An error raised
in the child arrives as plain data (``kind``, ``type``, ``message``) and
becomes a hint here: which torch message means which mistake is course data,
the ``[patterns]`` of the English catalogs (see ``grader.course.content``).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any, NoReturn

from grader.child.protocol import ErrorKind
from grader.course import content

__all__ = [
    "CheckFailed",
    "fail",
    "expect",
    "hint",
    "asserted",
    "forget_hint",
    "without_addresses",
    "error_hint",
    "load_failure",
]


class CheckFailed(AssertionError):
    """A check's verdict: failed, with the hint that says why.

    Raised by ``fail`` and ``expect``, and a check may raise it itself.
    Example: ``raise CheckFailed("grad_wrong", got=preview(got))``.
    """

    def __init__(self, hint: str, **params: Any) -> None:
        self.hint = hint
        self.params = {k: _plain(v) for k, v in params.items()}
        super().__init__(f"{hint} {self.params}")


def fail(hint: str, **params: Any) -> NoReturn:
    """Fail the current check with a hint.

    Example: ``fail("square_and_sum_no_grad")``, or with blanks to fill:
    ``fail("fit_losses_length", length=len(losses), epochs=epochs)``.
    """
    raise CheckFailed(hint, **params)


def expect(condition: bool, hint: str, **params: Any) -> None:
    """Fail the current check with ``hint`` unless ``condition`` holds.

    Example: ``expect(len(t.shape) == 1, "make_leaf_not_1d", shape=t.shape)``.
    """
    if not condition:
        raise CheckFailed(hint, **params)


# The hint of the assert that is failing in this thread's check: an assert's
# message reaches pytest's rewriting as text only, so the hint waits here.
_NAMED: ContextVar[CheckFailed | None] = ContextVar("named_hint", default=None)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_ASSERTION_CHARS = 400
_ASSERTION_LINES = 8


def hint(hint_id: str, **params: Any) -> str:
    """Name the hint a failing ``assert`` gives: ``assert got == 2, hint("id", n=3)``.

    Python evaluates an assert's message only when the assertion fails; the
    hint then also receives ``assertion``, pytest's account of the values compared.
    A plain ``assert`` without it fails with ``assertion_failed``, which shows that.

    Example: ``assert t.shape == [n], hint("grad_shape", shape=t.shape, n=n)``.
    """
    _NAMED.set(CheckFailed(hint_id, **params))
    return hint_id


def forget_hint() -> None:
    """Drop a hint named by an earlier check (called as each check starts)."""
    _NAMED.set(None)


def asserted(error: AssertionError) -> CheckFailed:
    """Turn a failed plain ``assert`` into a verdict: its named hint, or ``assertion_failed``.

    The assertion's text (pytest's rewriting shows the compared values) fills
    ``{assertion}``, without memory addresses, which would differ between runs.
    """
    named, text = _NAMED.get(), str(error)
    _NAMED.set(None)
    first, _, rest = text.partition("\n")
    if named is not None and first == named.hint:
        text = rest
    else:
        named = None
    lines = [
        line
        for line in without_addresses(text).strip().splitlines()
        if line.strip() and "Use -v to get" not in line
    ]
    shown = "\n".join(lines[:_ASSERTION_LINES])[:_ASSERTION_CHARS] or "assert ..."
    if named is not None:
        return CheckFailed(named.hint, **{**named.params, "assertion": shown})
    return CheckFailed("assertion_failed", assertion=shown)


def without_addresses(text: str) -> str:
    """Drop memory addresses (``<X object at 0x7f...>``): they differ from run to run."""
    return _ADDRESS.sub("", text)


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
    if kind == ErrorKind.MISSING_FUNCTION:
        return CheckFailed("missing_function", **where)
    if kind == ErrorKind.MEMORY:
        return CheckFailed("memory_limit", **where)
    if kind == ErrorKind.EXIT:
        return CheckFailed("exited_in_call", **where)
    if kind == ErrorKind.UNREADABLE:
        return CheckFailed("unreadable_value", **where)
    if kind == ErrorKind.TOO_LARGE:
        return CheckFailed("answer_too_large", **where)
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
    if kind == ErrorKind.SYNTAX:
        return CheckFailed("syntax_error", **params)
    if kind == ErrorKind.MEMORY:
        return CheckFailed("memory_limit", function="(module level)", **params)
    if kind == ErrorKind.EXIT:
        return CheckFailed("exited_at_load", **params)
    return CheckFailed("raised_at_load", **params)
