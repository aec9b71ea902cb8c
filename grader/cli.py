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

from grader.course.find import Course, CourseError, Exercise
from grader.drivers.options import complain as _complain
from grader.drivers.options import course_of as _course
from grader.drivers.options import course_option as _course_option
from grader.drivers.options import exit_status
from grader.drivers.options import fail as _fail
from grader.drivers.options import lang_option as _lang_option
from grader.drivers.options import limits_of as _limits
from grader.drivers.options import with_limits as _with_limits
from grader.judge.checks import JudgeError
from grader.review.similarity import DEFAULT_THRESHOLD
from grader.score.results import crashed_checks

__all__ = ["main"]


class _GradeGroup(click.Group):
    """``grade 03`` means ``grade exercise 03``: a bare target goes to the default command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["exercise", *args]
        return super().parse_args(ctx, args)


class _BareContext(click.Context):
    """Name ``grade 03``'s command plain ``grade`` in usage lines and errors.

    ``exercise`` is the implied command: a student who typed ``grade 03 --bogus``
    must not be told to try ``grade exercise --help``, a command never shown.
    """

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


class _ExerciseCommand(click.Command):
    context_class = _BareContext


def _notice(line: str) -> None:
    # fd 2 itself: the judge swaps sys.stderr for a buffer while the checks run.
    os.write(2, f"grade: {line}\n".encode(errors="replace"))


def _seed(seed: int | None) -> int:
    return seed if seed is not None else random.SystemRandom().randrange(1, 10**6)


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
    grade new exercise 09_x   lay out a new exercise (grade new course DIR: a new course)
    """


@cli.command("exercise", cls=_ExerciseCommand)
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
    from grader.drivers import student
    from grader.render.locale import Locale
    from grader.render.publish import OutputError, check_outputs, publish

    course = _course(course_dir)
    try:
        work = _resolve(course, target, exercise_ref)
        check_outputs({"--json": json_path, "--junit": junit_path, "--gradescope": gradescope_path})
    except (CourseError, OutputError) as exc:
        _fail(str(exc))
        return
    settings = student.Settings(
        seed=_seed(seed),
        limits=_limits(timeout, memory, output),
        require_sandbox=require_sandbox,
        notice=_notice,
    )
    locale = Locale(course.templates, lang)  # the language of everything written below

    def grade(work: list[tuple[Exercise, Path | None]]) -> int:
        _say_which(course, work)
        try:
            outcome = student.grade_student(course, work, settings, report=locale)
        except JudgeError as exc:
            _complain(str(exc))
            return 2
        try:
            unwritten = publish(
                course,
                outcome,
                locale,
                json_path=json_path,
                html_path=html_path or _report_for_file(course, work),
                junit_path=junit_path,
                gradescope_path=gradescope_path,
                github_summary=github_summary,
                single=len(work) == 1,
            )
        except OSError as exc:  # checked before grading: the folder changed since
            _complain(f"could not write {exc.filename or 'an output file'}: {exc.strerror or exc}")
            return 2
        if unwritten:
            click.echo(f"grade: {unwritten}", err=True)
        record = outcome["students"][0]
        kept = None
        if crashed_checks(record["exercises"]):
            from grader.judge.crashes import write_kept

            # The tracebacks go to a file for the instructor, never into the report.
            folders = {e.name: e.checks for e, _ in work}
            kept = write_kept(
                [
                    (folders[r["exercise"]], c["name"])
                    for r in record["exercises"]
                    if r["exercise"] in folders
                    for c in r["checks"]
                ]
            )
        return exit_status(record, min_score, kept=kept)

    if watch:
        from grader.drivers import watch as watching

        def again() -> None:
            try:
                grade(_resolve(course, target, exercise_ref))
            except CourseError as exc:  # the file was renamed away: say so, keep watching
                _complain(str(exc))

        sys.exit(watching.watch(watching.watched_files(work), again))
    sys.exit(grade(work))


def _resolve(
    course: Course, target: str | None, exercise_ref: str | None
) -> list[tuple[Exercise, Path | None]]:
    """Pair each exercise to grade with the file that holds the student's work."""
    from grader.submission.source import find_in_folder

    if target is None:
        if exercise_ref:
            raise CourseError("--exercise goes with a file: grade FILE --exercise 03")
        return [(e, find_in_folder(e.folder)) for e in course.exercises]
    path = Path(target)
    if path.suffix in (".py", ".ipynb"):
        if not path.is_file():
            raise CourseError(f"{target}: {'a folder' if path.is_dir() else 'no such file'}")
        if not exercise_ref:
            # `grade exercise.py` inside the exercise's folder: the folder says which.
            home = _exercise_of_folder(course, path.resolve().parent)
            if home is not None:
                return [(home, path)]
            raise CourseError(f"which exercise is {target} for? add --exercise NN")
        # One notebook may hold several exercises: --exercise 03,07 (check() in Jupyter).
        return [(e, path) for e in course.select(exercise_ref)]
    # `grade .` inside an exercise's folder; otherwise a number, a name or exercises/NN.
    here = _exercise_of_folder(course, path.resolve()) if path.is_dir() else None
    exercise = (
        here if here is not None and not exercise_ref else course.exercise(exercise_ref or target)
    )
    found = find_in_folder(exercise.folder)
    if found is None:
        raise CourseError(f"{exercise.folder} has no exercise.py or exercise.ipynb")
    return [(exercise, found)]


def _exercise_of_folder(course: Course, folder: Path) -> Exercise | None:
    """Return the exercise whose folder ``folder`` is, if it is one."""
    for exercise in course.exercises:
        if exercise.folder.resolve() == folder:
            return exercise
    return None


def _say_which(course: Course, work: list[tuple[Exercise, Path | None]]) -> None:
    """Name the file graded where an exercise folder holds both exercise.py and .ipynb."""
    for exercise, path in work:
        if path is None or path.parent != exercise.folder:
            continue
        other = path.with_suffix(".py" if path.suffix == ".ipynb" else ".ipynb")
        if other.is_file():
            # Jupyter autosaves: the newer file may not be the one the student meant.
            shown = path.relative_to(course.root) if path.is_relative_to(course.root) else path
            click.echo(
                f"grading {shown}, the newer of {path.name} and {other.name} "
                f"(save {other.name} to grade it instead)"
            )


def _report_for_file(course: Course, work: list[tuple[Exercise, Path | None]]) -> str | None:
    """Name the default report of a file kept elsewhere apart from the student's own."""
    files = {path for _, path in work if path is not None}
    if len(files) != 1:
        return None
    (path,) = files
    if any(path.parent.resolve() == exercise.folder.resolve() for exercise, _ in work):
        return None  # the exercise's own file: its usual reports/NN_name.html
    name = work[0][0].name if len(work) == 1 else "all"
    return str(course.root / "reports" / f"{name}-{path.stem}.html")


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
    help="CSV mapping student folders to platform ids (for --gradebook; a Canvas "
    "download's own ids serve without it).",
)
@click.option(
    "--layout",
    type=click.Choice(["canvas", "moodle", "repos", "folders"]),
    help="How SUBMISSIONS is laid out (default: recognised): a Canvas or Moodle "
    "download, repository clones, or a folder per student.",
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
    layout: str | None,
    lang: str,
    course_dir: str | None,
    timeout: float,
    memory: int,
    output: int,
) -> None:
    """Grade a whole class: SUBMISSIONS holds a folder per student, or is a platform's download."""
    from grader.drivers import batch
    from grader.review.gradebook import RosterError, load_roster
    from grader.review.overview import Review

    course = _course(course_dir)
    if roster is not None and gradebook is None:
        _fail("--roster needs --gradebook: --gradebook canvas --roster roster.csv")
    try:
        # Checked before grading starts: a roster typo must not cost a graded class.
        review = Review(
            similarity_threshold=similarity_threshold,
            roster=load_roster(Path(roster), gradebook) if roster and gradebook else None,
            gradebook=gradebook,
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
            layout=layout,
        )
    except (CourseError, batch.BatchError, JudgeError) as exc:
        _fail(str(exc))
        return
    click.echo(summary)


@cli.command("verify")
@click.argument("exercises", required=False)
@_course_option
@click.option("--seed", type=int, help="First seed (a second, different one is drawn).")
def verify_command(exercises: str | None, course_dir: str | None, seed: int | None) -> None:
    """Self-test the course (or EXERCISES, e.g. 08 or 03,07): read it, then grade its files.

    Solutions pass, stubs score zero, every known mistake is caught; before
    that, every hint a check gives and every file it reads is checked by reading.
    """
    from grader.authoring import verify

    course = _course(course_dir)
    try:
        chosen = course.select(exercises) if exercises else None
    except CourseError as exc:
        _fail(str(exc))
        return
    problems = verify.run(course, seed=_seed(seed), echo=click.echo, exercises=chosen)
    if problems:
        click.echo(f"grade verify: {len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo("grade verify: the course is sound")


@cli.group("new")
def new_group() -> None:
    """Lay out a new exercise or course, placeholders marked TODO(grade new)."""


@new_group.command("exercise")
@click.argument("name")
@_course_option
def new_exercise_command(name: str, course_dir: str | None) -> None:
    """Write every file of exercise NAME (e.g. 09_detach) into the course."""
    from grader.authoring.scaffold import ScaffoldError, new_exercise

    course = _course(course_dir)
    try:
        written = new_exercise(course, name)
    except ScaffoldError as exc:
        _fail(str(exc))
        return
    for path in written:
        click.echo(f"wrote {path.relative_to(course.root)}")
    click.echo(f"fill in every TODO(grade new), then run: grade verify {name.split('_', 1)[0]}")


@new_group.command("course")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--title", help="The course's title (default: from DEST's name).")
@click.option(
    "--from",
    "source_dir",
    type=click.Path(file_okay=False),
    help="The course whose report templates and shared hints to start from "
    "(default: the one around the current folder, else the grader's own).",
)
def new_course_command(dest: str, title: str | None, source_dir: str | None) -> None:
    """Start a course in DEST (a new or empty folder) with one worked example exercise."""
    from grader.authoring.scaffold import ScaffoldError, new_course

    try:
        source = Course.load(Path(source_dir)) if source_dir else _own_course()
        written = new_course(Path(dest), source, title)
    except (CourseError, ScaffoldError) as exc:
        _fail(str(exc))
        return
    click.echo(f"started the course {dest} ({len(written)} files); next: cd {dest} && grade verify")


def _own_course() -> Course:
    try:
        return Course.find()
    except CourseError:
        # The course this grader ships in: its templates are the ones it renders.
        return Course.load(Path(__file__).resolve().parents[1])


@cli.command("release")
@click.argument("dest", type=click.Path(file_okay=False))
@_course_option
def release_command(dest: str, course_dir: str | None) -> None:
    """Write the student copy of the course to DEST, without reference solutions."""
    from grader.authoring.release import ReleaseError, release

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
