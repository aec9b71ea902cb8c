"""Show a student's results in a terminal: every check with its hint, or a table of scores."""

from __future__ import annotations

import re
import sys
from typing import Any

from grader.render.locale import Locale
from grader.run.sandbox import shortfall

__all__ = ["terminal_summary", "clean_for_terminal", "few_names"]

# C0 controls but tab and newline, DEL, and every C1 control (CSI \x9b, OSC \x9d...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_for_terminal(text: str) -> str:
    """Neutralise control characters so student text cannot drive the terminal (ANSI escapes)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def few_names(names: list[str], shown: int = 10) -> str:
    """Name the first ``shown`` of ``names`` for a one-line message, and count the rest."""
    text = ", ".join(clean_for_terminal(n) for n in names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


def terminal_summary(results: dict[str, Any], locale: Locale, single: bool) -> str:
    """Render the results for a terminal: every check with points and hint, or a score table."""
    record = results["students"][0]
    lines: list[str] = []
    width = max((len(ex["exercise"]) for ex in record["exercises"]), default=10)
    for ex in record["exercises"]:
        name = ex["exercise"]
        why = "" if ex["status"] == "graded" else str(ex.get("message") or "")
        head = f"{name:<{width}}  {ex['score']:>4g}/{ex['max_score']:<4g}"
        if ex["status"] != "graded":
            head += f"  [{ex['status']}] {why}"
        elif not single:
            failed = sum(not c["passed"] for c in ex["checks"])
            head += f"  {failed} check(s) failed" if failed else "  all checks pass"
        lines.append(head)
        if not single:
            continue
        for check in ex["checks"]:
            mark = "PASS" if check["passed"] else "FAIL"  # fixed width, and grep-able in CI logs
            title = locale.title(name, check["name"], check["title"])
            lines.append(f"  {mark}  {check['score']:g}/{check['max_score']:g}  {title}")
            message = "" if check["passed"] else str(check.get("message") or "")
            if message and message != why:
                lines.append(f"        {message}")
        if ex.get("output_dropped"):
            lines.append(f"  (output truncated: {ex['output_dropped']} bytes dropped)")
    partial = {shortfall(ex["sandbox"]) for ex in record["exercises"] if ex.get("sandbox")}
    partial.discard("")
    if partial and sys.platform == "linux":
        # Grading your own work still works; grading others' here would not be safe.
        lines.append(f"note: isolation is partial on this machine: {sorted(partial)[0]}")
    total = locale.text("ui.terminal.total")
    if total == "ui.terminal.total":  # a course's own, older catalogs
        total = "total"
    lines.append(f"{total:<{width}}  {record['score']:>4g}/{record['max_score']:g}")
    seed = results["seed"]
    exercises = record["exercises"]
    target = exercises[0]["exercise"].split("_", 1)[0] if single and exercises else ""
    lines.append(locale.text("ui.terminal.seed", seed=seed, exercise=target).replace("  ", " "))
    return clean_for_terminal("\n".join(lines))
