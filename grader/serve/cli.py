"""The ``grade serve`` commands, ``grade login`` and ``grade submit``: parse, call, exit.

Kept cheap to import (``grade 03`` loads this module too): the web framework,
the database and the worker are imported inside each command.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from grader.drivers.options import course_option as _course_option

__all__ = ["serve_group", "login_command", "submit_command"]


# How much lower a worker started by grade serve runs than the web process (nice).
WORKER_NICENESS = 10


def _fail(message: str) -> None:
    from grader.drivers.options import fail

    fail(message)


def _course(path: str | None) -> Any:
    from grader.drivers.options import course_of as course

    return course(path)


def _rules(course: Any) -> Any:
    """Return the course's rules, or stop with one line per mistake (exit 2)."""
    from grader.course.rules import RulesError, load_rules

    try:
        return load_rules(course)
    except RulesError as exc:
        _fail(str(exc))


def _needs_serve_extra() -> None:
    try:
        import alembic  # noqa: F401
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        _fail(
            f"grade serve needs the server's packages ({exc.name} is missing): "
            "pip install 'autograd-grader[serve]'"
        )


def _engine(url: str | None, course: Any) -> Any:
    _needs_serve_extra()
    from grader.serve.database import ServeError, default_url, open_engine

    try:
        return open_engine(url or default_url(course.root))
    except ServeError as exc:
        _fail(str(exc))


def _migrated(engine: Any) -> list[str]:
    from grader.serve.database import ServeError, migrate

    try:
        return migrate(engine)
    except ServeError as exc:
        _fail(str(exc))
        return []


_db_option = click.option(
    "--db",
    "url",
    help="The database: sqlite:///PATH or postgresql://USER@HOST/NAME (default: grade.db "
    "beside course.toml).",
)
_lease_option = click.option(
    "--lease",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds a worker holds a job without a heartbeat; a killed worker's job "
    "goes to another after this.",
)


def _limits_options(f: Any) -> Any:
    from grader.drivers.options import with_limits

    return with_limits(f)


def _lang(f: Any) -> Any:
    from grader.drivers.options import lang_option

    return lang_option(f)


@click.group(
    "serve",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@_db_option
@_course_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Grading worker processes on this machine (default: the cores; 0: none here).",
)
@click.option(
    "--web-processes",
    "web_processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Web processes answering on the port (more for a large class on more cores).",
)
@click.option(
    "--trust-submissions",
    "trust",
    is_flag=True,
    help="Grade even where the sandbox falls short (a banner says so on every instructor page).",
)
@click.option(
    "--score-policy",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="Which graded attempt of an exercise counts.",
)
@click.option("--seed", type=int, help="Seed of the random inputs (kept in the database).")
@click.option(
    "--public-url",
    help="The server's address as browsers reach it (behind a proxy: https://...); LTI "
    "launches are checked against it (default: the address each request came to).",
)
@_lang
@_lease_option
@_limits_options
@click.pass_context
def serve_group(
    ctx: click.Context,
    url: str | None,
    course_dir: str | None,
    host: str,
    port: int,
    jobs: int | None,
    web_processes: int,
    trust: bool,
    score_policy: str,
    seed: int | None,
    public_url: str | None,
    lang: str,
    lease: float,
    timeout: float,
    memory: int,
    output: int,
) -> None:
    """Serve the course's hand-in: students submit and read their reports, the class view is live.

    \b
    grade serve                         this course, grade.db beside it, http://127.0.0.1:8000
    grade serve --db postgresql://... --host 0.0.0.0 --jobs 8 --web-processes 4
    grade serve roster roster.csv       students and their sign-in links
    grade serve add-instructor NAME     an instructor with a password
    grade serve worker --db ...         more workers, on another machine
    """
    if ctx.invoked_subcommand is not None:
        return
    import os

    from grader.serve.database import ServeError
    from grader.serve.supervisor import Workers, worker_command

    course = _course(course_dir)
    _rules(course)  # before anything starts: a mistake in course.toml stops here
    engine = _engine(url, course)
    applied = _migrated(engine)
    if applied:
        click.echo(f"grade serve: database migrated ({', '.join(reversed(applied))})", err=True)
    _set_seed(engine, seed)
    _set_policy(engine, score_policy)
    options = [
        *(["--trust-submissions"] if trust else []),
        "--lease",
        str(lease),
        "--timeout",
        str(timeout),
        "--memory",
        str(memory),
        "--output-limit",
        str(output),
    ]
    count = (os.cpu_count() or 1) if jobs is None else jobs
    address = engine.url.render_as_string(hide_password=False)  # the workers' and the web's
    workers = Workers(
        worker_command(address, course.root, options),
        count,
    )
    try:
        workers.start()
    except ServeError as exc:
        _fail(str(exc))
    from grader.serve.web import Web, serve

    engine.dispose()  # each web process opens its own
    web = Web(str(course.root), address, lang, trust, score_policy, public_url)
    click.echo(f"grade serve: {course.title} on http://{host}:{port} (Ctrl-C ends)", err=True)
    try:
        serve(web, host, port, web_processes)
    finally:
        workers.stop()


def _set_seed(engine: Any, seed: int | None) -> None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from grader.serve.models import Result, Setting

    if seed is None:
        return
    with Session(engine) as session, session.begin():
        stored = session.get(Setting, "seed")
        assert stored is not None  # migrate() made one
        if stored.value == str(seed):
            return
        if session.scalar(select(func.count(Result.id))):
            _fail(
                f"this database grades with seed {stored.value}, and its grades came from it: "
                "leave out --seed (or use a new database)"
            )
        stored.value = str(seed)


def _set_policy(engine: Any, policy: str) -> None:
    from sqlalchemy.orm import Session

    from grader.serve.models import Setting

    # Kept in the database: a worker sends the platform the score the class page shows.
    with Session(engine) as session, session.begin():
        stored = session.get(Setting, "score_policy")
        if stored is None:
            session.add(Setting(key="score_policy", value=policy))
        else:
            stored.value = policy


@serve_group.command("migrate")
@_db_option
@_course_option
def migrate_command(url: str | None, course_dir: str | None) -> None:
    """Upgrade the database to this version's schema (grade serve does it on start too)."""
    engine = _engine(url, _course(course_dir))
    applied = _migrated(engine)
    click.echo(
        f"migrated: {', '.join(reversed(applied))}" if applied else "the database is up to date"
    )


@serve_group.command("worker")
@_db_option
@_course_option
@click.option(
    "--trust-submissions", "trust", is_flag=True, help="Grade even where the sandbox falls short."
)
@click.option(
    "--parent",
    type=int,
    hidden=True,
    help="End with this process (the grade serve that started it).",
)
@_lease_option
@_limits_options
def worker_command_(
    url: str | None,
    course_dir: str | None,
    trust: bool,
    parent: int | None,
    lease: float,
    timeout: float,
    memory: int,
    output: int,
) -> None:
    """Grade submissions from the database (on this machine or another with the course)."""
    import signal
    import threading

    from grader.drivers.options import limits_of as _limits
    from grader.serve.database import ServeError
    from grader.serve.supervisor import READY
    from grader.serve.worker import run_worker

    if parent is not None:
        import os

        from grader.run.process import die_with_parent

        die_with_parent()  # started by grade serve: ends with it, however it ends
        if os.getppid() != parent:
            sys.exit(0)  # it ended while this one started: no worker without its server
        # Beside its web process: a hand-in (milliseconds of CPU) goes before grading,
        # which still takes every core the web leaves (the limits are wall-clock seconds,
        # tens of times what a grade takes, so a spike of hand-ins costs no timeout).
        os.nice(WORKER_NICENESS)
    course = _course(course_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_worker(
            url or str(_default_url(course)),
            course.root,
            limits=_limits(timeout, memory, output),
            trust=trust,
            lease=timedelta(seconds=lease),
            ready=lambda: click.echo(READY),
            stop=stop,
        )
    except ServeError as exc:
        _fail(str(exc))


def _default_url(course: Any) -> str:
    from grader.serve.database import default_url

    return default_url(course.root)


@serve_group.command("roster")
@click.argument("roster", type=click.Path(dir_okay=False))
@_db_option
@_course_option
@click.option(
    "--gradebook",
    type=click.Choice(["canvas", "moodle"]),
    help="The platform the roster comes from (its columns are checked as grade batch does).",
)
@click.option(
    "--url",
    "base_url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The server's address as students reach it (the links start with it).",
)
@click.option(
    "--links",
    "links_path",
    default="signin-links.csv",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the new sign-in links (mode 0600).",
)
@click.option(
    "--new-links", is_flag=True, help="Make new links for every student (old ones stop working)."
)
@click.option(
    "--days", type=click.IntRange(min=1), default=200, show_default=True, help="Days a link works."
)
def roster_command(
    roster: str,
    url: str | None,
    course_dir: str | None,
    gradebook: str | None,
    base_url: str,
    links_path: str,
    new_links: bool,
    days: int,
) -> None:
    """Import the students of ROSTER (a CSV with a folder column) and write their sign-in links."""
    from sqlalchemy.orm import Session

    from grader.serve.accounts import import_roster, write_links
    from grader.serve.database import ServeError

    engine = _engine(url, _course(course_dir))
    _migrated(engine)
    try:
        with Session(engine) as session, session.begin():
            links = import_roster(
                session,
                Path(roster),
                gradebook,
                base_url,
                new_links=new_links,
                lifetime=timedelta(days=days),
            )
    except ServeError as exc:
        _fail(str(exc))
        return
    write_links(Path(links_path), links)
    click.echo(f"{len(links)} new sign-in link(s) in {links_path}: send each student theirs")


@serve_group.command("add-instructor")
@click.argument("name")
@_db_option
@_course_option
@click.password_option(help="The password (asked for when left out).")
def add_instructor_command(
    name: str, url: str | None, course_dir: str | None, password: str
) -> None:
    """Create the instructor NAME with a password (or set a new one)."""
    from sqlalchemy.orm import Session

    from grader.serve.accounts import add_instructor
    from grader.serve.database import ServeError

    engine = _engine(url, _course(course_dir))
    _migrated(engine)
    try:
        with Session(engine) as session, session.begin():
            add_instructor(session, name, password)
    except ServeError as exc:
        _fail(str(exc))
    click.echo(f"instructor {name} can sign in")


@serve_group.command("regrade")
@click.argument("exercise")
@_db_option
@_course_option
def regrade_command(exercise: str, url: str | None, course_dir: str | None) -> None:
    """Regrade every student's latest submission of EXERCISE graded with older checks."""
    from sqlalchemy.orm import Session

    from grader.serve.handin import HandInError, regrade

    course = _course(course_dir)
    engine = _engine(url, course)
    _migrated(engine)
    try:
        with Session(engine) as session:
            count = regrade(session, course, exercise)
    except HandInError as exc:
        _fail(str(exc))
        return
    click.echo(
        f"{count} submission(s) queued for regrading"
        if count
        else "nothing to regrade: every latest submission was graded with the current checks"
    )


@serve_group.group("lti")
def lti_group() -> None:
    """Connect the server to learning platforms with LTI 1.3 (sign-in, roster, grade passback).

    \b
    grade serve lti add-platform ISSUER --client-id ID --deployment ID --login-url URL \\
        --token-url URL --jwks-url URL --url https://grade.example.edu
    grade serve lti list
    grade serve lti roster              import the roster of every course launched from
    """


_public_url_option = click.option(
    "--url",
    "base_url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The server's address as the platform and the students reach it.",
)


def _tool_urls(base_url: str) -> list[tuple[str, str]]:
    base = base_url.rstrip("/")
    return [
        ("OIDC login (initiate login) URL", f"{base}/lti/login"),
        ("Redirect (launch) URL", f"{base}/lti/launch"),
        ("Target link URI", f"{base}/"),
        ("Deep linking URL", f"{base}/lti/launch"),
        ("Public keyset (JWKS) URL", f"{base}/lti/jwks"),
    ]


@lti_group.command("add-platform")
@click.argument("issuer")
@click.option("--client-id", required=True, help="The client id the platform gave the tool.")
@click.option(
    "--deployment",
    "deployments",
    multiple=True,
    required=True,
    help="A deployment id of the tool on the platform (repeat for several).",
)
@click.option("--login-url", required=True, help="The platform's OIDC authorization endpoint.")
@click.option("--token-url", required=True, help="The platform's OAuth 2 token endpoint.")
@click.option("--jwks-url", required=True, help="The platform's public keyset (JWKS) URL.")
@_public_url_option
@_db_option
@_course_option
def lti_add_command(
    issuer: str,
    client_id: str,
    deployments: tuple[str, ...],
    login_url: str,
    token_url: str,
    jwks_url: str,
    base_url: str,
    url: str | None,
    course_dir: str | None,
) -> None:
    """Register the platform ISSUER (its client id, deployments and endpoints) and make the key."""
    from sqlalchemy.orm import Session

    from grader.serve.lti import LtiError, add_platform

    engine = _engine(url, _course(course_dir))
    _migrated(engine)
    try:
        with Session(engine) as session, session.begin():
            platform = add_platform(
                session, issuer, client_id, list(deployments), login_url, token_url, jwks_url
            )
            shown = f"{platform.issuer} (client id {platform.client_id}, deployments "
            shown += ", ".join(platform.deployment_ids) + ")"
    except LtiError as exc:
        _fail(str(exc))
        return
    click.echo(f"platform {shown} registered; the tool's addresses to give it:")
    for name, address in _tool_urls(base_url):
        click.echo(f"  {name}: {address}")


@lti_group.command("list")
@_db_option
@_course_option
def lti_list_command(url: str | None, course_dir: str | None) -> None:
    """List the registered platforms, their deployments and endpoints."""
    from sqlalchemy.orm import Session

    from grader.serve.lti import platforms

    engine = _engine(url, _course(course_dir))
    _migrated(engine)
    with Session(engine) as session:
        found = platforms(session)
        if not found:
            click.echo("no platform registered: grade serve lti add-platform ISSUER ...")
        for platform in found:
            click.echo(
                f"{platform.issuer}  client id {platform.client_id}  "
                f"deployments {', '.join(platform.deployment_ids)}\n"
                f"  login {platform.login_url}\n  token {platform.token_url}\n"
                f"  jwks {platform.jwks_url}"
            )


@lti_group.command("remove")
@click.argument("issuer")
@click.option("--client-id", help="Only this client id of the platform (default: all of them).")
@_db_option
@_course_option
def lti_remove_command(
    issuer: str, client_id: str | None, url: str | None, course_dir: str | None
) -> None:
    """Forget the platform ISSUER: its launches stop working; grades already sent stay there."""
    from sqlalchemy.orm import Session

    from grader.serve.lti import remove_platform

    engine = _engine(url, _course(course_dir))
    _migrated(engine)
    with Session(engine) as session, session.begin():
        count = remove_platform(session, issuer, client_id)
    if not count:
        _fail(f"no platform {issuer}{f' with client id {client_id}' if client_id else ''}")
    click.echo(f"platform {issuer} removed")


@lti_group.command("roster")
@_db_option
@_course_option
def lti_roster_command(url: str | None, course_dir: str | None) -> None:
    """Import or refresh the learners of every course the tool was launched from (NRPS)."""
    from grader.serve.accounts import import_platform_roster
    from grader.serve.database import ServeError
    from grader.serve.lti_services import PlatformError, Services

    engine = _engine(url, _course(course_dir))
    _migrated(engine)
    try:
        new, known = import_platform_roster(engine, Services())
    except (ServeError, PlatformError) as exc:
        _fail(str(exc))
        return
    click.echo(f"roster from the platform: {new} new student(s), {known} already here")


@serve_group.command("extend")
@click.argument("student")
@click.argument("exercise")
@click.option(
    "--until",
    required=True,
    help="The new deadline, in the course's time zone unless it has an offset (2026-11-15T23:59).",
)
@click.option("--reason", required=True, help="Why (kept in the audit log, with who gave it).")
@click.option(
    "--by",
    "who",
    default=None,
    help="Who grants it (default: the user running the command).",
)
@_db_option
@_course_option
def extend_command(
    student: str,
    exercise: str,
    until: str,
    reason: str,
    who: str | None,
    url: str | None,
    course_dir: str | None,
) -> None:
    """Give STUDENT (their roster folder) a later deadline for EXERCISE (03)."""
    import getpass

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from grader.course.rules import local_time
    from grader.serve.decisions import DecisionError, extend
    from grader.serve.models import Student

    course = _course(course_dir)
    rules = _rules(course)
    try:
        moment = local_time(until, rules.zone)
    except ValueError as exc:
        _fail(f"--until: {exc}")
        return
    engine = _engine(url, course)
    _migrated(engine)
    with Session(engine) as session:
        found = session.scalar(select(Student).where(Student.name == student))
        if found is None:
            _fail(f"no student {student!r} in the roster (the roster's folder column)")
            return
        try:
            granted = extend(
                session, course, rules, found.id, exercise, moment, who or getpass.getuser(), reason
            )
        except DecisionError as exc:
            _fail(str(exc))
            return
        shown = rules.of(granted.exercise).local(granted.until)
        click.echo(f"{student} may hand in {granted.exercise} until {shown}")


@click.command("login")
@click.argument("link")
def login_command(link: str) -> None:
    """Sign in to the course's grading server with your sign-in LINK (once per machine)."""
    from grader.serve.client import ClientError, login

    try:
        click.echo(login(link))
    except ClientError as exc:
        _fail(str(exc))


@click.command("submit")
@click.argument("target")
@click.option("--no-wait", is_flag=True, help="Return once the server has the file, with a link.")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds to wait for the grade.",
)
@_course_option
def submit_command(target: str, no_wait: bool, wait_seconds: float, course_dir: str | None) -> None:
    """Hand in exercise TARGET (03) to the grading server; print its grade as grade 03 does."""
    from grader.course.find import CourseError
    from grader.drivers.options import exit_status
    from grader.render.publish import publish
    from grader.serve.client import ClientError, send, wait_for
    from grader.submission.source import find_in_folder

    course = _course(course_dir)
    try:
        exercise = course.exercise(target)
    except CourseError as exc:
        _fail(str(exc))
        return
    found = find_in_folder(exercise.folder)
    if found is None:
        _fail(f"{exercise.folder} has no exercise.py or exercise.ipynb")
        return
    try:
        raw = found.read_bytes()
        saved, accepted = send(exercise.name, found.name, raw)
        if no_wait:
            click.echo(f"handed in: {saved['server']}{accepted['url']} ({accepted['status']})")
            return
        answer = wait_for(saved, int(accepted["id"]), timeout=wait_seconds)
    except (ClientError, OSError) as exc:
        _fail(str(exc))
        return
    if "results" not in answer:
        # The course shows less before the exercise's release: print only what the server
        # sent, and exit 0 (a pass or fail status would tell what the page may not).
        from grader.serve.client import held_back

        click.echo(held_back(exercise.name, answer))
        click.echo(f"on the server: {saved['server']}{answer['url']}")
        return
    results = answer["results"]
    from grader.render.locale import Locale

    unwritten = publish(
        course,
        results,
        Locale(course.templates, "en"),
        json_path=None,
        html_path=None,
        junit_path=None,
        gradescope_path=None,
        github_summary=False,
        single=True,
    )
    if unwritten:
        click.echo(f"grade: {unwritten}", err=True)
    click.echo(f"report on the server: {saved['server']}{answer['report']}")
    sys.exit(exit_status(results["students"][0], None))
