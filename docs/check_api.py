"""Write docs/check-api.md, the reference of the check API, from its docstrings.

Run ``python docs/check_api.py`` after changing a docstring of what ``grader.check``
offers (its own, ``grader.judge.testfunc``'s and ``grader.render.plots``');
``tests/unit/test_check_api_docs.py``
fails while the page is out of date or a public name has no entry.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().with_name("check-api.md")
# What a check imports: grader.check is the one front door (unseen functions and plots too).
MODULES = {
    "grader.check": None,
}

INTRO = """\
# The check API

Every name a hidden check imports, generated from the docstrings by
`python docs/check_api.py` (a test fails when this page is out of date or a
public name of `grader.check` has no entry). `docs/adding-an-exercise.md`
tells how checks, hints and mistakes fit together; this page is the
reference.

A check is a pytest test: it asks for the `submission` fixture (and `rng`,
`plots`), calls the student's functions with `submission.call`, and judges
the plain data that comes back. It fails with a hint: `fail`, `expect`,
`expect_close`, or a plain `assert` (pytest's assertion rewriting shows the
values compared; `assert x == y, hint("id", ...)` names the hint). Any other
exception is a crash of the check: a fault of the course when the check
fails on the reference solution too (the student is told the check could
not run, `grade` exits 2, and the author gets the traceback from `grade
verify`), else the student's answer's (`check_cannot_judge`, see
`grader/judge/reference.py`), though `grade verify` still asks for a hint.
"""


def _signature(obj: Any, name: str) -> str:
    """``name(a: int, b=2) -> str``, annotations as written in the source (not quoted)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    parts: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.name == "self":
            continue
        text = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(parameter.kind.name, "")
        text += parameter.name
        if parameter.annotation is not inspect.Parameter.empty:
            text += f": {parameter.annotation}"
        if parameter.default is not inspect.Parameter.empty:
            default = parameter.default
            shown = "<factory>" if default is dataclasses.MISSING else repr(default)
            text += f" = {shown}"
        if parameter.kind.name == "KEYWORD_ONLY" and not any(p.startswith("*") for p in parts):
            parts.append("*")
        parts.append(text)
    returns = signature.return_annotation
    tail = f" -> {returns}" if returns not in (inspect.Signature.empty, "None", None) else ""
    return f"{name}({', '.join(parts)}){tail}"


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _members(cls: type) -> list[tuple[str, Any]]:
    """Public methods, properties and fields a check uses, in source order."""
    out: list[tuple[str, Any]] = []
    if dataclasses.is_dataclass(cls):
        out += [(f.name, f) for f in dataclasses.fields(cls) if not f.name.startswith("_")]
    for name, member in vars(cls).items():
        if name.startswith("_") or name == "__test__":
            continue
        if isinstance(member, property) or inspect.isfunction(member):
            out.append((name, member))
    return out


def _entry(module: str, name: str, obj: Any) -> list[str]:
    lines = [f"### `{name}`", ""]
    if inspect.isclass(obj):
        lines += [f"`class {_signature(obj, name)}` (from `{module}`)", ""]
    else:
        lines += [f"`{_signature(obj, name)}` (from `{module}`)", ""]
    lines += [_doc(obj) or "(no docstring)", ""]
    if inspect.isclass(obj) and not issubclass(obj, BaseException):
        for member_name, member in _members(obj):
            if isinstance(member, dataclasses.Field):
                kind = getattr(member.type, "__name__", member.type)
                lines.append(f"- `{member_name}` (field: `{kind}`)")
            elif isinstance(member, property):
                first = (_doc(member.fget).splitlines() or [""])[0]
                lines.append(f"- `{member_name}` (property): {first}".rstrip(": "))
            else:
                text = _doc(member).replace("\n", "\n  ")
                lines.append(f"- `{_signature(member, member_name)}`: {text}".rstrip(": "))
        lines.append("")
    return lines


def render() -> str:
    """Return the reference page as Markdown."""
    lines = [INTRO]
    for module_name, names in MODULES.items():
        module = importlib.import_module(module_name)
        lines += [f"## `{module_name}`", ""]
        for name in names or module.__all__:
            lines += _entry(module_name, name, getattr(module, name))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    PAGE.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {PAGE}\n")
