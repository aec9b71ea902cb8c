"""Grade from a Jupyter notebook: ``check("03")`` runs the real ``grade`` on the cells run so far.

The kernel is the student's own process: anything it holds (variables,
a patched ``torch.allclose``, a replaced ``builtins.isinstance``) would fool
checks that ran there. So nothing is graded here. The source of the cells
the kernel ran (IPython's input history, in the order they ran) is written
to a private temporary notebook, and a fresh ``python -I`` runs the ordinary
``grade FILE --exercise NN`` on it: the same confined child, trusted judge
and seed rules as in a terminal. The kernel only reads back results.json.

This module is also imported inside the grading child whenever a saved
notebook holds ``from grader.notebook import check``: there ``check`` finds
no IPython shell and does nothing, so it must stay cheap to import.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["check", "submit", "Result", "kernel_cells"]

# Hint ids that mean the grader or its machine failed, not the student's code.
_GRADER_FAULTS = frozenset({"grader_failed", "check_error"})
# Execution counts of cells the student interrupted (an endless loop, a long training):
# run again, they would only run out the grading's time.
_interrupted_cells: set[int] = set()


@dataclass(frozen=True)
class Result:
    """What ``check`` returns: the score for programs, a report for people.

    ``score`` and ``max_score`` are None when nothing was graded (``problem``
    says why): a grader that could not run is never a student's zero.
    """

    score: float | None = None
    max_score: float | None = None
    exercises: tuple[dict[str, Any], ...] = ()
    seed: int | None = None
    summary: str = ""
    problem: str = ""
    course: Path | None = field(default=None, repr=False)
    lang: str = "en"

    @property
    def passed(self) -> bool:
        """Say whether every check of every graded exercise passed."""
        return self.max_score is not None and self.max_score > 0 and self.score == self.max_score

    @property
    def checks(self) -> list[dict[str, Any]]:
        """Return every check's record (name, title, passed, score, max_score, message)."""
        return [
            {"exercise": ex["exercise"], **c} for ex in self.exercises for c in ex.get("checks", [])
        ]

    def __repr__(self) -> str:
        if self.problem:
            return f"check: {self.problem}"
        return self.summary

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        if not self.problem and self.course is None and self.summary:
            return f"<pre>{html.escape(self.summary)}</pre>"  # a grade held back until release
        if self.problem or self.course is None:
            return f'<p style="color:#a40e26"><b>check:</b> {html.escape(self.problem)}</p>'
        try:
            from grader.render.locale import Locale
            from grader.render.report import render_notebook_result

            student: dict[str, Any] = {
                "score": self.score,
                "max_score": self.max_score,
                "exercises": list(self.exercises),
            }
            # The records were written in this language by the `grade` that graded them.
            templates = self.course / "templates"
            return render_notebook_result(
                student,
                seed=self.seed or 0,
                locale=Locale(templates, self.lang),
                templates=templates,
            )
        # The kernel may hold patched builtins that break the renderer; the
        # plain summary, computed outside the kernel, is still true.
        except Exception:
            return f"<pre>{html.escape(self.summary)}</pre>"


def check(
    exercise: str | None = None,
    *,
    seed: int | None = None,
    lang: str = "en",
    timeout: float = 60.0,
) -> Result | None:
    """Grade the code this kernel has run so far for ``exercise`` (default: every one it defines).

    Returns a Result, which the notebook shows as the report. Outside a
    Jupyter/IPython kernel (a plain script, or the grading child running a
    saved notebook) there is nothing to grade from, and it returns None.
    """
    shell = _shell()
    if shell is None:
        print("check() grades from a Jupyter notebook; in a terminal, run `grade` instead")
        return None
    from grader.course.find import Course, CourseError

    try:
        course = Course.find(Path.cwd())
    except CourseError:
        # Course.find's own advice, --course DIR, is the command's: check() takes none.
        return Result(
            problem=f"no course found: neither {Path.cwd()} nor a folder above it holds "
            "course.toml. Start Jupyter from the course folder (or a folder inside it), or "
            "run `import os; os.chdir('path/to/the/course')` in a cell before check()"
        )
    try:
        if exercise is not None:
            chosen = [course.exercise(str(exercise))]
        else:
            chosen = [e for e in course.exercises if _defines(shell, e.functions)]
    except CourseError as exc:
        return Result(problem=str(exc))
    if not chosen:
        return Result(
            problem="this kernel defines none of the exercises' functions yet: "
            'run your cells first, or name the exercise: check("03")'
        )
    return _grade_cells(
        course.root,
        kernel_cells(shell),
        [e.number for e in chosen],
        seed=seed,
        lang=lang,
        timeout=timeout,
    )


def submit(exercise: str, *, lang: str = "en", timeout: float = 600.0) -> Result | None:
    """Hand in what ``check(exercise)`` would grade to the course's server; show its grade.

    The cells go to the server as a notebook (``grade login LINK`` signs in
    first); the grade is the server's, from the same confined run.
    """
    shell = _shell()
    if shell is None:
        print("submit() hands in from a Jupyter notebook; in a terminal, run `grade submit`")
        return None
    from grader.course.find import Course, CourseError
    from grader.render.locale import Locale
    from grader.render.terminal import terminal_summary
    from grader.score.results import written
    from grader.serve.client import ClientError, submit_notebook

    try:
        course = Course.find(Path.cwd())
        answer, server = submit_notebook(
            course.root, str(exercise), kernel_cells(shell), timeout=timeout
        )
    except (ClientError, CourseError) as exc:
        return Result(problem=str(exc))
    if "results" not in answer:
        # Before the release the server sends only what the course shows: that, and no more.
        from grader.serve.client import held_back

        shown_part = held_back(course.exercise(str(exercise)).name, answer)
        return Result(
            score=answer.get("score"),
            max_score=answer.get("max_score"),
            summary=f"{shown_part}\non the server: {server}{answer['url']}",
            lang=lang,
        )
    document = answer["results"]
    locale = Locale(course.templates, lang)
    shown = written(document, locale)
    (student,) = shown["students"]
    summary = terminal_summary(shown, locale, single=True)
    return Result(
        score=float(student["score"]),
        max_score=float(student["max_score"]),
        exercises=tuple(student["exercises"]),
        seed=int(document["seed"]),
        summary=f"{summary}\nreport on the server: {server}{answer['report']}",
        course=course.root,
        lang=lang,
    )


def kernel_cells(shell: Any) -> list[str]:
    """Return the source of every cell the kernel ran before the current one, in order.

    A cell that raised is kept: it runs again as far as it ran here, and the
    grading goes on after it as the kernel did. A cell the student interrupted
    is left blank (its place kept, so "cell N" in a message is In [N]).
    """
    history = list(shell.history_manager.input_hist_raw)
    # During a cell, execution_count is that cell's number: history[1:count] ran before it.
    current = int(getattr(shell, "execution_count", len(history)))
    cells = history[1:current]
    return ["" if n in _interrupted_cells else str(c) for n, c in enumerate(cells, start=1)]


def _shell() -> Any:
    # IPython not imported means no kernel; importing it here would cost the grading child.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "history_manager", None) is None:
        return None
    return shell


def _record_interruptions(result: Any) -> None:
    interrupted = isinstance(getattr(result, "error_in_exec", None), KeyboardInterrupt)
    if interrupted and result.execution_count is not None:
        _interrupted_cells.add(int(result.execution_count))


def _watch_interruptions() -> None:
    shell = _shell()
    if shell is not None and _record_interruptions not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _record_interruptions)


def _defines(shell: Any, functions: tuple[str, ...]) -> bool:
    namespace = shell.user_ns
    return any(callable(namespace.get(name)) for name in functions)


def _grade_cells(
    course_root: Path,
    cells: list[str],
    numbers: list[str],
    *,
    seed: int | None,
    lang: str,
    timeout: float,
) -> Result:
    """Run ``grade`` on ``cells`` in a fresh, isolated interpreter and read its results."""
    import nbformat

    from grader.submission.source import KERNEL_HISTORY

    with tempfile.TemporaryDirectory(prefix="grade-notebook-") as tmp:  # 0700: private
        notebook = Path(tmp) / "notebook.ipynb"
        nbformat.write(
            nbformat.v4.new_notebook(
                cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata=KERNEL_HISTORY
            ),
            str(notebook),
        )
        results = Path(tmp) / "results.json"
        args = [str(notebook), "--exercise", ",".join(numbers), "--course", str(course_root)]
        args += ["--json", str(results), "--lang", lang, "--timeout", str(timeout)]
        if seed is not None:
            args += ["--seed", str(seed)]
        try:
            done = run_grade(args, cwd=course_root, timeout=timeout * len(numbers) + 120)
        except subprocess.TimeoutExpired:
            return Result(problem="the grader did not finish in time (not your code's fault)")
        except OSError as exc:
            return Result(problem=f"the grader could not start: {exc}")
        if done.returncode == 2:
            # A usage error: `grade` printed one line saying what is wrong.
            return Result(problem=_last_line(done.stderr).removeprefix("grade: error: "))
        if done.returncode not in (0, 1) or not results.is_file():
            return Result(
                problem=f"the grader failed ({_last_line(done.stderr) or done.returncode}); "
                "this is not your fault: tell your instructor"
            )
        document = json.loads(results.read_text(encoding="utf-8"))
    return _result(document, done.stdout, course_root, lang)


def run_grade(args: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the ``grade`` command with ``args`` in a fresh interpreter that shares nothing.

    ``sys.executable`` is the kernel's own Python (the one with torch); ``-I``
    keeps the student's PYTHONPATH, user site and working folder out of it,
    and the grader this module came from is put on sys.path explicitly.
    """
    package_parent = str(Path(__file__).resolve().parent.parent)
    bootstrap = (
        f"import sys; sys.path.insert(0, {package_parent!r}); from grader.cli import main; main()"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "MPLBACKEND")}
    return subprocess.run(
        [sys.executable, "-I", "-X", "utf8", "-c", bootstrap, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


def _result(document: dict[str, Any], stdout: str, course_root: Path, lang: str) -> Result:
    (student,) = document["students"]
    exercises = tuple(student["exercises"])
    for ex in exercises:
        if any((c.get("hint") or {}).get("id") in _GRADER_FAULTS for c in ex["checks"]):
            return Result(problem=f"{ex['exercise']}: {ex['message'] or 'the grader failed'}")
    return Result(
        score=float(student["score"]),
        max_score=float(student["max_score"]),
        exercises=exercises,
        seed=int(document["seed"]),
        summary=stdout.rstrip("\n"),
        course=course_root,
        lang=lang,
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


_watch_interruptions()
