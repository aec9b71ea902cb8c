"""The ``grade`` command: parse arguments, call the library, set the exit status.

Exit status: 0 at full marks (or at least ``--min-score``), 1 otherwise, 2 for
a usage error (unknown exercise, missing file) with a one-line message.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click

from grader.course import Course, CourseError, Exercise
from grader.executors import Limits
from grader.judge import JudgeError
from grader.results import crashed_checks
from grader.similarity import DEFAULT_THRESHOLD

__all__ = ["main"]


class _GradeGroup(click.Group):
    """``grade 03`` means ``grade exercise 03``: a bare target goes to the default command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["exercise", *args]
        return super().parse_args(ctx, args)


def _complain(message: str) -> None:
    click.echo(f"grade: error: {message}", err=True)


def _fail(message: str) -> None:
    _complain(message)
    sys.exit(2)


def _course(path: str | None) -> Course:
    try:
        return Course.load(Path(path)) if path else Course.find()
    except CourseError as exc:
        _fail(str(exc))
        raise  # unreachable


def _seed(seed: int | None) -> int:
    return seed if seed is not None else random.SystemRandom().randrange(1, 10**6)


def _limits(timeout: float, memory: int, output: int) -> Limits:
    return Limits(timeout=timeout, memory=memory * 1024**2, output=output * 1024)


_common_limits = [
    # A limit no submission can meet would charge every student with it: refused here.
    click.option(
        "--timeout",
        default=60.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="Wall-clock seconds per exercise (loading and every call).",
    ),
    click.option(
        "--memory",
        default=2048,
        show_default=True,
        type=click.IntRange(min=1),
        help="Memory limit per exercise, in MiB.",
    ),
    click.option(
        "--output-limit",
        "output",
        default=1024,
        show_default=True,
        type=click.IntRange(min=0),
        help="KiB of printed output kept per exercise; the rest is dropped.",
    ),
]


_course_option = click.option(
    "--course",
    "course_dir",
    type=click.Path(file_okay=False),
    help="The course folder (default: found from the current folder).",
)
_lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Language of the reports and hints.",
)


def _with_limits(f: Any) -> Any:
    for option in reversed(_common_limits):
        f = option(f)
    return f


@click.group(cls=_GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autograd-grader")
def cli() -> None:
    """Grade the autograd course's exercises.

    \b
    grade 03                  grade exercise 03 (also: exercises/03, 03_multi_input_grads)
    grade                     grade every exercise and show a table of scores
    grade 03 --watch          grade again after every save of the exercise
    grade batch DIR --out O   grade a whole class
    grade verify              self-test of the course (for instructors' CI)
    grade release DEST        write the student copy of the course
    """


@cli.command("exercise")
@click.argument("target", required=False)
@click.option("--exercise", "exercise_ref", help="The exercise a file given as TARGET is for.")
@click.option("--seed", type=int, help="Seed of the random inputs (printed on every run).")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write results.json here."
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Write the HTML report here (default: reports/ in the course).",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False),
    help="Write JUnit XML here (a test case per check).",
)
@click.option(
    "--gradescope",
    "gradescope_path",
    type=click.Path(dir_okay=False),
    help="Write Gradescope's results.json here.",
)
@click.option(
    "--github-summary", is_flag=True, help="Append a Markdown score table to $GITHUB_STEP_SUMMARY."
)
@click.option(
    "--min-score",
    type=float,
    help="Exit 0 when the score reaches this many points, instead of full marks.",
)
@click.option(
    "--require-sandbox",
    is_flag=True,
    help="Refuse (exit 2) unless every sandbox guarantee holds here, as grade batch does.",
)
@click.option(
    "--watch", is_flag=True, help="Grade again after every save of the exercise file (Ctrl-C ends)."
)
@_lang_option
@_course_option
@_with_limits
def exercise_command(
    target: str | None,
    exercise_ref: str | None,
    seed: int | None,
    json_path: str | None,
    html_path: str | None,
    junit_path: str | None,
    gradescope_path: str | None,
    github_summary: bool,
    min_score: float | None,
    require_sandbox: bool,
    watch: bool,
    lang: str,
    course_dir: str | None,
    timeout: float,
    memory: int,
    output: int,
) -> None:
    """Grade one exercise (TARGET: 03, exercises/03, a file), or all when TARGET is omitted."""
    from grader import student
    from grader.publish import publish

    course = _course(course_dir)
    try:
        work = _resolve(course, target, exercise_ref)
    except CourseError as exc:
        _fail(str(exc))
        return
    settings = student.Settings(
        seed=_seed(seed),
        limits=_limits(timeout, memory, output),
        lang=lang,
        require_sandbox=require_sandbox,
    )

    def grade(work: list[tuple[Exercise, Path | None]]) -> int:
        try:
            outcome = student.grade_student(course, work, settings)
        except JudgeError as exc:
            _complain(str(exc))
            return 2
        publish(
            course,
            outcome,
            settings.lang,
            json_path=json_path,
            html_path=html_path,
            junit_path=junit_path,
            gradescope_path=gradescope_path,
            github_summary=github_summary,
            single=len(work) == 1,
        )
        return exit_status(outcome["students"][0], min_score)

    if watch:
        from grader import watch as watching

        def again() -> None:
            try:
                grade(_resolve(course, target, exercise_ref))
            except CourseError as exc:  # the file was renamed away: say so, keep watching
                _complain(str(exc))

        sys.exit(watching.watch(watching.watched_files(work), again))
    sys.exit(grade(work))


def exit_status(record: dict[str, Any], min_score: float | None) -> int:
    """Return the exit status of a graded student: 0 at full marks (or ``min_score``), else 1.

    2 when a check crashed: the score lacks what it would have given, not the student's doing.
    """
    broken = crashed_checks(record["exercises"])
    if broken:
        _complain(
            f"{len(broken)} check(s) could not run ({', '.join(broken[:3])}): a fault of "
            "the checks, not of the submission; tell your instructor"
        )
        return 2
    threshold = record["max_score"] if min_score is None else min_score
    return 0 if record["score"] >= threshold and record["max_score"] > 0 else 1


def _resolve(
    course: Course, target: str | None, exercise_ref: str | None
) -> list[tuple[Exercise, Path | None]]:
    """Pair each exercise to grade with the file that holds the student's work."""
    from grader.submission import find_in_folder

    if target is None:
        if exercise_ref:
            raise CourseError("--exercise goes with a file: grade FILE --exercise 03")
        return [(e, find_in_folder(e.folder)) for e in course.exercises]
    path = Path(target)
    if path.suffix in (".py", ".ipynb"):
        if not path.is_file():
            raise CourseError(f"{target}: {'a folder' if path.is_dir() else 'no such file'}")
        if not exercise_ref:
            raise CourseError(f"which exercise is {target} for? add --exercise NN")
        # One notebook may hold several exercises: --exercise 03,07 (check() in Jupyter).
        return [(e, path) for e in course.select(exercise_ref)]
    exercise = course.exercise(exercise_ref or target)
    found = find_in_folder(exercise.folder)
    if found is None:
        raise CourseError(f"{exercise.folder} has no exercise.py or exercise.ipynb")
    return [(exercise, found)]


@cli.command("batch")
@click.argument("submissions", type=click.Path(exists=True))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for results.json, grades.csv, index.html and the reports.",
)
@click.option("--jobs", type=int, default=None, help="Worker processes (default: the cores).")
@click.option("--exercises", "exercise_refs", help="Only these exercises, e.g. 03,07.")
@click.option("--force", is_flag=True, help="Grade everything again, changed or not.")
@click.option("--seed", type=int, help="Seed of the random inputs (default: kept from OUT).")
@click.option(
    "--trust-submissions",
    "trust",
    is_flag=True,
    help="Run submissions even where the sandbox falls short (recorded in results.json).",
)
@click.option(
    "--similarity-threshold",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="List pairs of submissions at least this alike (0-1) for a human to review.",
)
@click.option(
    "--gradebook",
    type=click.Choice(["canvas", "moodle"]),
    help="Also write OUT/gradebook-PLATFORM.csv in that platform's grade-import format.",
)
@click.option(
    "--roster",
    type=click.Path(dir_okay=False),
    help="CSV mapping student folders to platform ids (needed by --gradebook).",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    help="Grade on a Dask cluster: its scheduler (tcp://HOST:8786), or 'local' to start one.",
)
@_lang_option
@_course_option
@_with_limits
def batch_command(
    submissions: str,
    out: str,
    jobs: int | None,
    exercise_refs: str | None,
    force: bool,
    seed: int | None,
    trust: bool,
    similarity_threshold: float,
    gradebook: str | None,
    roster: str | None,
    cluster: str | None,
    lang: str,
    course_dir: str | None,
    timeout: float,
    memory: int,
    output: int,
) -> None:
    """Grade a whole class: SUBMISSIONS holds one folder per student (or is a .zip of that)."""
    from grader import batch
    from grader.gradebook import RosterError, load_roster
    from grader.review import Review

    course = _course(course_dir)
    if (gradebook is None) != (roster is None):
        _fail("--gradebook and --roster go together: --gradebook canvas --roster roster.csv")
    try:
        # Checked before grading starts: a roster typo must not cost a graded class.
        review = Review(
            similarity_threshold=similarity_threshold,
            roster=load_roster(Path(roster), gradebook) if roster and gradebook else None,
        )
    except RosterError as exc:
        _fail(str(exc))
        return
    try:
        exercises = course.select(exercise_refs)
        summary = batch.run(
            course,
            Path(submissions),
            Path(out),
            exercises=exercises,
            jobs=jobs or os.cpu_count() or 1,
            force=force,
            seed=seed,
            lang=lang,
            limits=_limits(timeout, memory, output),
            trust=trust,
            review=review,
            cluster=cluster,
        )
    except (CourseError, batch.BatchError, JudgeError) as exc:
        _fail(str(exc))
        return
    click.echo(summary)


@cli.command("verify")
@_course_option
@click.option("--seed", type=int, help="First seed (a second, different one is drawn).")
def verify_command(course_dir: str | None, seed: int | None) -> None:
    """Self-test the course: solutions pass, stubs score zero, every known mistake is caught."""
    from grader import verify

    course = _course(course_dir)
    problems = verify.run(course, seed=_seed(seed), echo=click.echo)
    if problems:
        click.echo(f"grade verify: {len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo("grade verify: the course is sound")


@cli.command("release")
@click.argument("dest", type=click.Path(file_okay=False))
@_course_option
def release_command(dest: str, course_dir: str | None) -> None:
    """Write the student copy of the course to DEST, without reference solutions."""
    from grader.release import ReleaseError, release

    course = _course(course_dir)
    try:
        written = release(course.root, Path(dest))
    except ReleaseError as exc:
        _fail(str(exc))
        return
    click.echo(f"released {len(written)} files to {dest}")


def _add_server_commands() -> None:
    # grade serve ..., grade login, grade submit: the course's own hand-in (grader.serve).
    from grader.serve.cli import login_command, serve_group, submit_command

    for command in (serve_group, login_command, submit_command):
        cli.add_command(command)


_add_server_commands()


def main() -> None:
    """Run the ``grade`` command."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # SIGTERM (a cancelled CI job, `kill`) ends a grade as Ctrl-C does: cleanly, no traceback.
    signal.signal(signal.SIGTERM, stop)
    try:
        # Not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit 1.
        code = cli.main(prog_name="grade", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("grade: interrupted", err=True)
        _exit(130)
    except click.ClickException as exc:
        exc.show()
        _exit(exc.exit_code)
    except Exception as exc:
        # A bug of the grader (or of Python under it), never the student's: one line
        # and exit 2, as for a broken environment; the traceback goes to a file to report.
        _complain(f"the grader itself failed ({type(exc).__name__}: {exc}); {_kept_traceback()}")
        _exit(2)
    _exit(code if isinstance(code, int) else 0)


def _exit(code: int) -> NoReturn:
    """Exit with ``code``, even while daemon threads still judge or draw (after an error).

    Python's shutdown with such a thread inside matplotlib's or numpy's C code can
    abort or crash (seen: SIGABRT, SIGSEGV), turning a clean exit 2 into a signal
    that CI reads as something else. Then the process ends without that shutdown.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if threading.active_count() > 1:
        os._exit(code)
    sys.exit(code)


def _kept_traceback() -> str:
    import tempfile
    import traceback

    try:
        fd, path = tempfile.mkstemp(prefix="grade-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            traceback.print_exc(file=out)
    except OSError:
        return "no score was given"
    return f"no score was given; the details for a bug report are in {path}"
