"""The web application: the hand-in pages, the instructor's class view and the JSON API.

Every route asks ``permissions.allowed`` one question; every form that
changes something is checked by ``csrf``; every page goes out with a
Content-Security-Policy that forbids inline script and other origins. The
application reads and writes the database only: grading is the workers'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from grader.course.find import Course
from grader.course.rules import CourseRules, local_time
from grader.judge.checks import max_score
from grader.render.locale import Locale
from grader.score.points import results_document, student_result, to_json
from grader.score.results import written_student
from grader.serve import clock, csrf, lti
from grader.serve.accounts import (
    Actor,
    Throttle,
    check_password,
    issue_token,
    student_for_secret,
)
from grader.serve.database import reading, setting, written_soon
from grader.serve.decisions import (
    DecisionError,
    comment_check,
    comments_of,
    extend,
    history,
    open_requests,
    override,
    post_message,
    thread,
)
from grader.serve.handin import MAX_BYTES, Accepted, HandInError, outcome, prepare, regrade
from grader.serve.headers import PagePolicy
from grader.serve.lti import LtiError, PlatformKeys
from grader.serve.models import Instructor, LtiLogin, Result, Student, Submission
from grader.serve.permissions import allowed
from grader.serve.standing import (
    ClassViews,
    Final,
    attempts_of,
    deadlines,
    exercise_record,
    final_scores,
    late_days_spent,
)
from grader.serve.visibility import View, level_for, student_view

__all__ = ["Config", "create_app"]

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "grade_session"
# An instructor's choice of anonymous review: names and ids left off the review pages.
REVIEW_COOKIE = "grade_review"
# The pages' own policy: script and style only from this server's /static, no inline
# script (a name that slipped past the escaping could still not run), no framing.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOWNLOADS = {
    "results.json": "application/json",
    "grades.csv": "text/csv",
    "scores.csv": "text/csv",
    "mistakes.csv": "text/csv",
    "similarity.csv": "text/csv",
    "gradebook-canvas.csv": "text/csv",
    "gradebook-moodle.csv": "text/csv",
    "gradebook-unmatched.csv": "text/csv",
}
# The LTI pages are opened inside the platform's page (an iframe) from origins not known in
# advance (Canvas frames from each school's own domain): they may be framed by any https page.
# They hold nothing but a one-time capability bound to the launch, so framing gives a
# clickjacker nothing to click that is theirs.
FRAMED_POLICY = PAGE_POLICY.replace("frame-ancestors 'none'", "frame-ancestors https: 'self'")
DOWN = (
    "the grading server's database is unavailable right now; nothing was lost, "
    "try again in a minute"
)


@dataclass(frozen=True)
class Config:
    """What one server runs with."""

    course: Course
    engine: Engine
    lang: str = "en"
    trust: bool = False
    policy: str = "best"
    # The address browsers reach the server at (LTI's redirect and targets); None: the request's.
    public_url: str | None = None
    rules: CourseRules = field(default_factory=CourseRules)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(config: Config) -> FastAPI:
    """Return the ASGI application for ``config``'s course and database."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    course = config.course
    engine = config.engine
    # The pages only read: on SQLite their transactions wait for no writer.
    reader = reading(engine)
    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    throttle = Throttle(engine)
    state: dict[str, Any] = {}

    def secret() -> str:
        if "secret" not in state:
            with Session(reader) as session:
                value = setting(session, "secret")
            if value is None:
                raise _Refused(503, "the database is not set up: run grade serve migrate")
            state["secret"] = value
        return str(state["secret"])

    def seed() -> int:
        if "seed" not in state:
            with Session(reader) as session:
                state["seed"] = int(setting(session, "seed") or 0)
        return int(state["seed"])

    def views() -> ClassViews:
        if "views" not in state:
            state["views"] = ClassViews(
                course,
                seed=seed(),
                lang=config.lang,
                trust=config.trust,
                policy=config.policy,
                rules=config.rules,
            )
        views: ClassViews = state["views"]
        return views

    def signer() -> URLSafeSerializer:
        return URLSafeSerializer(secret(), salt="grade-session")

    # -- who is asking --------------------------------------------------------
    def actor_of(request: Request, session: Session) -> Actor | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            student = student_for_secret(session, header[7:].strip(), "api")
            if student is None:
                raise _Refused(401, "this token is not valid any more: run grade login LINK again")
            return student
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            data = signer().loads(cookie)
        except BadSignature:
            return None
        role, ident = data.get("r"), data.get("i")
        if role == "student":
            found: Student | Instructor | None = session.get(Student, ident)
        elif role == "instructor":
            found = session.get(Instructor, ident)
        else:
            return None
        return Actor(role, found.id, found.name) if found is not None else None

    def require(request: Request, session: Session, action: str, owner: int | None = None) -> Actor:
        actor = actor_of(request, session)
        if not allowed(actor, action, owner):
            if actor is None:
                raise _Refused(401, "sign in first: open your sign-in link")
            if owner is not None:
                raise _Refused(404, "no such submission")  # another's: not even that it exists
            raise _Refused(403, "this page is for instructors")
        assert actor is not None
        return actor

    def check_csrf(request: Request, form: Any) -> None:
        if not csrf.valid(secret(), request.cookies.get(csrf.COOKIE), form.get(csrf.FIELD)):
            raise _Refused(
                403, "this form is out of date or did not come from this site: reload the page"
            )

    # -- rendering ------------------------------------------------------------
    def render(
        request: Request, name: str, actor: Actor | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        nonce = request.cookies.get(csrf.COOKIE) or getattr(request.state, "csrf_nonce", None)
        if not nonce:
            nonce = csrf.new_nonce()
            request.state.csrf_nonce = nonce
        page = pages.get_template(name).render(
            title=course.title,
            actor=actor,
            trusted=config.trust,
            csrf_field=csrf.FIELD,
            csrf_token=csrf.token_for(secret(), nonce),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def report_page(page: str) -> HTMLResponse:
        # A report carries its own policy (its one script pinned by hash): sent as the
        # header too, with framing forbidden, which a <meta> policy cannot do.
        found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
        policy = (found.group(1) if found else "default-src 'none'") + "; frame-ancestors 'none'"
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    def refusal(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        try:
            return render(request, "error.html.j2", None, status=status, message=message)
        except Exception:
            return PlainTextResponse(message + "\n", status_code=status)

    @app.exception_handler(_Refused)
    async def _on_refused(request: Request, exc: _Refused) -> Response:
        return refusal(request, exc.status, str(exc))

    @app.exception_handler(HandInError)
    async def _on_handin(request: Request, exc: HandInError) -> Response:
        return refusal(request, exc.status, str(exc))

    @app.exception_handler(LtiError)
    async def _on_lti(request: Request, exc: LtiError) -> Response:
        # Shown inside the platform's frame: framable, or the student sees a blank box.
        response = refusal(request, exc.status, str(exc))
        response.headers["Content-Security-Policy"] = FRAMED_POLICY
        return response

    @app.exception_handler(HTTPException)
    async def _on_http(request: Request, exc: HTTPException) -> Response:
        return refusal(request, exc.status_code, str(exc.detail))

    @app.exception_handler(SQLAlchemyError)
    async def _on_database(request: Request, exc: Exception) -> Response:
        # Unreachable, read-only, locked for too long: the server's trouble, said in one line
        # to the student, and with its reason in the server's log.
        import sys

        print(f"grade serve: database error: {str(exc).splitlines()[0]}", file=sys.stderr)
        headers = {"Retry-After": "30"}
        if _wants_json(request):
            return JSONResponse({"error": DOWN}, status_code=503, headers=headers)
        return PlainTextResponse(DOWN + "\n", status_code=503, headers=headers)

    @app.exception_handler(Exception)
    async def _on_bug(request: Request, exc: Exception) -> Response:
        # Never a traceback page: one line, and the server's log has the rest.
        import traceback

        traceback.print_exception(exc)
        message = (
            "the grading server failed on this request (a bug of the server); nothing was lost"
        )
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=500)
        return PlainTextResponse(message + "\n", status_code=500)

    def before_any_route() -> None:
        # Read once, before any route opens its session: on SQLite a writing
        # transaction holds the write lock (BEGIN IMMEDIATE) from its start.
        secret()
        seed()

    async def refused_outside_the_routes(request: Request, exc: Exception) -> Response | None:
        # Raised where the handlers do not reach (the secret's read, say): the same answers.
        if isinstance(exc, SQLAlchemyError):
            return await _on_database(request, exc)
        if isinstance(exc, _Refused):
            return await _on_refused(request, exc)
        return None

    app.add_middleware(
        PagePolicy,
        policy=PAGE_POLICY,
        csrf_cookie=csrf.COOKIE,
        before=before_any_route,
        refused=refused_outside_the_routes,
    )

    def sign_in(response: Response, request: Request, role: str, ident: int) -> Response:
        response.set_cookie(
            SESSION_COOKIE,
            signer().dumps({"r": role, "i": ident}),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=60 * 60 * 24 * 120,
        )
        return response

    def address(request: Request) -> str:
        return request.client.host if request.client else "?"

    def linked_student(request: Request, session: Session, secret_value: str) -> Actor:
        student = student_for_secret(session, secret_value, "link")
        if student is None:
            throttle.failed(address(request))
            raise _Refused(
                403, "this sign-in link is wrong or has expired: ask your instructor for a new one"
            )
        return student

    def slowed(request: Request) -> None:
        wait = throttle.wait_for(address(request))
        if wait > 0:
            raise _Refused(429, f"too many wrong sign-in attempts: wait {wait:.0f} s and try again")

    # -- pages ------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        with Session(reader) as session:
            actor = actor_of(request, session)
            if actor is not None and actor.role == "instructor":
                return RedirectResponse("/class", status_code=303)
            return home_page(request, session, actor)

    def home_page(
        request: Request, session: Session, actor: Actor | None, chosen: str = ""
    ) -> Response:
        if actor is None:
            return render(request, "signin.html.j2", None)
        attempts = attempts_of(session, actor.id)
        return render(
            request,
            "home.html.j2",
            actor,
            exercises=course.exercises,
            rows=_standing_rows(session, actor, actor.id, attempts),
            levels=_levels(actor),
            attempts=list(reversed(attempts)),
            limit_mib=MAX_BYTES // 1024 // 1024,
            policy=config.policy,
            chosen=chosen,
        )

    def _levels(actor: Actor | None) -> dict[str, str]:
        now = clock.now()
        return {e.name: level_for(actor, config.rules, e.name, now) for e in course.exercises}

    def _standing_rows(
        session: Session, actor: Actor, student_id: int, attempts: list[Any]
    ) -> list[dict[str, Any]]:
        """Say, per exercise, its rules as they hold for one student, and what counts so far."""
        from datetime import timedelta

        rules = config.rules
        now = clock.now()
        finals = final_scores(session, rules, config.policy, student_id)
        extended = deadlines(session, student_id)
        spent = late_days_spent(session, rules, student_id, attempts)
        rows = []
        for exercise in course.exercises:
            own = rules.of(exercise.name)
            deadline = extended.get((student_id, exercise.name), own.deadline)
            taken = [a for a in attempts if a.exercise == exercise.name and a.status != "refused"]
            final: Final | None = finals.get((student_id, exercise.name))
            level = level_for(actor, rules, exercise.name, now)
            view = student_view(
                level,
                rules,
                exercise.name,
                None,
                final.final if final else None,
                (final.max_score if final and final.max_score is not None else None)
                or max_score(exercise.checks),
                now,
            )
            next_at = None
            if own.cooloff_minutes and taken:
                after = taken[-1].created_at + timedelta(minutes=own.cooloff_minutes)
                next_at = own.local(after) if after > now else None
            if own.late == "penalty":
                late = (
                    f"{own.penalty * 100:g}% per {own.penalty_per} late, "
                    f"at most {own.penalty_cap * 100:g}%"
                )
                if own.cutoff_days is not None:
                    late += f"; nothing after {own.cutoff_days:g} day(s)"
            elif own.late == "late-days":
                late = f"late days: {sum(spent.values())} of {rules.late_days} spent"
            else:
                late = "nothing after the deadline"
            rows.append(
                {
                    "exercise": exercise,
                    "opens": own.local(own.opens) if own.opens else None,
                    "not_open": own.opens is not None and now < own.opens,
                    "deadline": own.local(deadline) if deadline else None,
                    "extended": deadline is not None and deadline != own.deadline,
                    "late": late if deadline else "",
                    "used": len(taken),
                    "attempts": own.attempts,
                    "cooloff": own.cooloff_minutes,
                    "next_at": next_at,
                    "final": final,
                    "view": view,
                }
            )
        return rows

    @app.get("/signin/{secret_value}")
    def signin_link(request: Request, secret_value: str) -> Response:
        slowed(request)
        with Session(reader) as session:
            student = linked_student(request, session, secret_value)
            return sign_in(RedirectResponse("/", status_code=303), request, "student", student.id)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        name, password = str(form.get("name") or ""), str(form.get("password") or "")
        # The hash is slow on purpose: on a thread, not on the event loop.
        return await run_in_threadpool(instructor_signed_in, request, name, password)

    def instructor_signed_in(request: Request, name: str, password: str) -> Response:
        slowed(request)
        # Only reads: the password's hash is slow on purpose, and holds no lock.
        with Session(reader) as session:
            found = check_password(session, name, password)
            if found is None:
                throttle.failed(address(request))
                raise _Refused(403, "wrong name or password")
            return sign_in(
                RedirectResponse("/class", status_code=303), request, "instructor", found.id
            )

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def _upload(request: Request) -> tuple[Any, str, bytes]:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BYTES + 64 * 1024:
            raise HandInError(
                413, f"the file is larger than the limit of {MAX_BYTES // 1024 // 1024} MiB"
            )
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HandInError(400, "no file in the request: send it as the form field 'file'")
        raw = await upload.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise HandInError(
                413, f"the file is larger than the limit of {MAX_BYTES // 1024 // 1024} MiB"
            )
        return form, str(upload.filename or ""), raw

    @app.post("/submit")
    async def submit_page(request: Request) -> Response:
        form, filename, raw = await _upload(request)
        check_csrf(request, form)
        done = await take_in(
            request,
            str(form.get("exercise") or ""),
            filename,
            raw,
            str(form.get("idempotency_key") or ""),
        )
        return RedirectResponse(f"/submissions/{done.id}", status_code=303)

    async def take_in(
        request: Request, exercise: str, filename: str, raw: bytes, key: str
    ) -> Accepted:
        hand_in = prepare(course, exercise, filename, raw, key)
        student: list[int] = []

        def record(session: Session) -> Accepted:
            # In the write transaction, which the hand-ins that arrive together share:
            # who sends it is asked there too, so a hand-in costs one trip to the
            # database's writing thread and no worker thread of its own.
            actor = require(request, session, "submit")
            student.append(actor.id)
            return hand_in.record(session, actor.id, config.rules)

        try:
            # Committed (on disk) before the student is told it was taken.
            return outcome(await written_soon(engine, record))
        except IntegrityError:
            # The same key, sent twice at once: the other request took it in first.
            return await run_in_threadpool(hand_in.again, engine, student[0])

    def _owned(session: Session, request: Request, submission_id: int) -> tuple[Actor, Submission]:
        submission = session.get(Submission, submission_id)
        # The same answer for "not yours" and "does not exist": ids guessed tell nothing.
        actor = require(
            request, session, "view-submission", submission.student_id if submission else -1
        )
        if submission is None:
            raise _Refused(404, "no such submission")
        return actor, submission

    def _latest_result(session: Session, submission_id: int) -> Result | None:
        return session.scalar(
            select(Result)
            .where(Result.submission_id == submission_id)
            .order_by(Result.id.desc())
            .limit(1)
        )

    @app.get("/submissions/{submission_id}", response_class=HTMLResponse)
    def submission_page(request: Request, submission_id: int) -> Response:
        with Session(reader) as session:
            actor, submission = _owned(session, request, submission_id)
            result = _latest_result(session, submission.id)
            student = session.get(Student, submission.student_id)
            assert student is not None
            now = clock.now()
            level = level_for(actor, config.rules, submission.exercise, now)
            record = _student_record(student.name, result)["exercises"][0] if result else None
            view = _view(level, submission.exercise, record, result, now)
            final = final_scores(session, config.rules, config.policy, student.id).get(
                (student.id, submission.exercise)
            )
            entries = history(session, student.id, submission.exercise)
            if level != "full":
                # A comment names its check, an override its score: shown from the release on.
                entries = [e for e in entries if e.what == "extension"]
            return render(
                request,
                "submission.html.j2",
                actor,
                submission=submission,
                result=result,
                student=student,
                view=view,
                final=final if level in ("full", "score") else None,
                checks=(record or {}).get("checks", []) if level == "full" else [],
                comments=comments_of(session, submission.id) if level == "full" else {},
                history=entries,
                rules=config.rules.of(submission.exercise),
                thread=thread(session, submission.id),
                anonymous=actor.role == "instructor" and _anonymous(request),
                who=_who(session, student.id, actor.role == "instructor" and _anonymous(request)),
            )

    def _view(
        level: str,
        exercise: str,
        record: dict[str, Any] | None,
        result: Result | None,
        now: datetime,
    ) -> View | None:
        if result is None:
            return None
        return student_view(
            level, config.rules, exercise, record, result.score, result.max_score, now
        )

    @app.get("/submissions/{submission_id}/report", response_class=HTMLResponse)
    def report(request: Request, submission_id: int) -> Response:
        from grader.render.report import render_student_report

        with Session(reader) as session:
            actor, submission = _owned(session, request, submission_id)
            result = _latest_result(session, submission.id)
            student = session.get(Student, submission.student_id)
            if result is None or student is None:
                raise _Refused(404, "this submission is not graded yet")
            now = clock.now()
            view = _view(
                level_for(actor, config.rules, submission.exercise, now),
                submission.exercise,
                None,
                result,
                now,
            )
            assert view is not None
            if not view.full:
                when = f": it is shown from {view.released}" if view.released else ""
                raise _Refused(403, f"the report of {submission.exercise} is not shown{when}")
            record = _student_record(student.name, result)
            _with_comments(record, comments_of(session, submission.id))
        return report_page(
            render_student_report(
                record,
                seed=result.seed,
                locale=Locale(course.templates, config.lang),
                templates=course.templates,
                title=course.title,
            )
        )

    def _with_comments(record: dict[str, Any], comments: dict[str, str]) -> None:
        # The instructor's word on a check, in the report's own place for what to read.
        for exercise in record["exercises"]:
            for check in exercise.get("checks") or []:
                said = comments.get(str(check["name"]))
                if said:
                    check["comment"] = said

    def _student_record(name: str, result: Result) -> dict[str, Any]:
        locale = Locale(course.templates, config.lang)
        return written_student(student_result(name, [exercise_record(result.document)]), locale)

    # -- the instructor's ---------------------------------------------------------
    @app.get("/class", response_class=HTMLResponse)
    def class_page(request: Request) -> Response:
        with Session(reader) as session:
            actor = require(request, session, "view-class")
            view = views().current(session)
            stale = _stale(session)
            return render(
                request,
                "class.html.j2",
                actor,
                results=view.results,
                downloads=[n for n in DOWNLOADS if n in view.files],
                exercises=course.exercises,
                stale=stale,
                policy=config.policy,
                ids={s.name: s.id for s in session.scalars(select(Student))},
                names={
                    s.name: s.roster.get("student", "") for s in session.scalars(select(Student))
                },
                version="-".join(map(str, view.version)),
            )

    def _stale(session: Session) -> dict[str, int]:
        """Count, per exercise, the latest submissions graded with checks other than today's."""
        latest: dict[tuple[int, str], Any] = {}
        for attempt in attempts_of(session):
            latest[(attempt.student_id, attempt.exercise)] = attempt
        digests = {e.name: e.checks_digest for e in course.exercises}
        stale: dict[str, int] = {}
        for (_, exercise), attempt in latest.items():
            if attempt.result_id is not None and attempt.checks_digest != digests.get(exercise):
                stale[exercise] = stale.get(exercise, 0) + 1
        return stale

    @app.get("/class/overview", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        with Session(reader) as session:
            require(request, session, "view-class")
            return report_page(views().current(session).files["index.html"].decode())

    @app.get("/class/similarity/{name}", response_class=HTMLResponse)
    def near_copy(request: Request, name: str) -> Response:
        with Session(reader) as session:
            require(request, session, "view-class")
            page = views().current(session).files.get(f"similarity/{name}")
        if page is None:
            raise _Refused(404, "no such pair")
        return report_page(page.decode())

    @app.get("/class/students/{student_id}", response_class=HTMLResponse)
    def class_student(request: Request, student_id: int) -> Response:
        with Session(reader) as session:
            actor = require(request, session, "view-student")
            student = session.get(Student, student_id)
            if student is None:
                raise _Refused(404, "no such student")
            attempts = attempts_of(session, student.id)
            return render(
                request,
                "student.html.j2",
                actor,
                student=student,
                attempts=list(reversed(attempts)),
                rows=_standing_rows(session, actor, student.id, attempts),
                exercises=course.exercises,
                zone=config.rules.zone,
                done=request.query_params.get("done", ""),
            )

    def _decision(request: Request, session: Session, form: Any, student_id: int) -> Actor:
        check_csrf(request, form)
        actor = require(request, session, "decide")
        if session.get(Student, student_id) is None:
            raise _Refused(404, "no such student")
        return actor

    @app.post("/class/students/{student_id}/extension")
    async def extension_form(request: Request, student_id: int) -> Response:
        form = await request.form()
        with Session(engine) as session:
            actor = _decision(request, session, form, student_id)
            try:
                until = local_time(str(form.get("until") or ""), config.rules.zone)
                extend(
                    session,
                    course,
                    config.rules,
                    student_id,
                    str(form.get("exercise") or ""),
                    until,
                    actor.name,
                    str(form.get("reason") or ""),
                )
            except (DecisionError, ValueError) as exc:
                raise _Refused(422, str(exc)) from None
        return RedirectResponse(f"/class/students/{student_id}?done=extension", status_code=303)

    def _decided(
        request: Request, session: Session, form: Any, submission_id: int
    ) -> tuple[Actor, Submission]:
        check_csrf(request, form)
        actor = require(request, session, "decide")
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise _Refused(404, "no such submission")
        return actor, submission

    def _override(
        session: Session, actor: Actor, form: Any, student_id: int, submission_id: int | None
    ) -> None:
        text = str(form.get("score") or "").strip()
        try:
            score = float(text) if text else None
        except ValueError:
            raise _Refused(422, f"the score must be a number, not {text!r}") from None
        try:
            override(
                session,
                course,
                config.rules,
                config.policy,
                student_id,
                str(form.get("exercise") or ""),
                score,
                actor.name,
                str(form.get("comment") or ""),
                submission_id,
            )
        except DecisionError as exc:
            raise _Refused(422, str(exc)) from None

    @app.post("/class/students/{student_id}/override")
    async def override_form(request: Request, student_id: int) -> Response:
        form = await request.form()
        with Session(engine) as session:
            actor = _decision(request, session, form, student_id)
            _override(session, actor, form, student_id, None)
        return RedirectResponse(f"/class/students/{student_id}?done=override", status_code=303)

    @app.post("/submissions/{submission_id}/override")
    async def override_submission(request: Request, submission_id: int) -> Response:
        # From the submission's own page: its URL names no student (anonymous review).
        form = await request.form()
        with Session(engine) as session:
            actor, submission = _decided(request, session, form, submission_id)
            _override(session, actor, form, submission.student_id, submission.id)
        return RedirectResponse(f"/submissions/{submission_id}", status_code=303)

    @app.post("/submissions/{submission_id}/messages")
    async def message_form(request: Request, submission_id: int) -> Response:
        form = await request.form()
        check_csrf(request, form)
        with Session(engine) as session:
            actor, submission = _owned(session, request, submission_id)
            if actor.role == "instructor" and str(form.get("score") or "").strip():
                # The answer may change the score: the answer is the override's reason.
                _override(
                    session,
                    actor,
                    {
                        "score": form.get("score"),
                        "exercise": submission.exercise,
                        "comment": form.get("text"),
                    },
                    submission.student_id,
                    submission.id,
                )
            try:
                post_message(
                    session, submission, actor.role, actor.name, str(form.get("text") or "")
                )
            except DecisionError as exc:
                raise _Refused(422, str(exc)) from None
        return RedirectResponse(f"/submissions/{submission_id}", status_code=303)

    @app.get("/class/review", response_class=HTMLResponse)
    def review_page(request: Request) -> Response:
        with Session(engine) as session:
            actor = require(request, session, "view-class")
            anonymous = _anonymous(request)
            waiting = [
                {
                    "submission": submission,
                    "message": message,
                    "who": _who(session, submission.student_id, anonymous),
                }
                for submission, message in open_requests(session)
            ]
            return render(request, "review.html.j2", actor, waiting=waiting, anonymous=anonymous)

    @app.post("/class/anonymous")
    async def anonymous_form(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        with Session(engine) as session:
            require(request, session, "view-class")
        response = RedirectResponse(str(form.get("back") or "/class/review"), status_code=303)
        if str(form.get("anonymous") or "") == "on":
            response.set_cookie(REVIEW_COOKIE, "anonymous", httponly=True, samesite="strict")
        else:
            response.delete_cookie(REVIEW_COOKIE)
        return response

    def _anonymous(request: Request) -> bool:
        return request.cookies.get(REVIEW_COOKIE) == "anonymous"

    def _who(session: Session, student_id: int, anonymous: bool) -> str:
        """Name a student on a review page: a pseudonym in anonymous review."""
        if anonymous:
            import hmac

            # Stable for the course (the same student, the same code), not reversible
            # without the server's secret: ids and names stay off the page.
            code = hmac.new(secret().encode(), f"review:{student_id}".encode(), "sha256")
            return f"student {code.hexdigest()[:8]}"
        student = session.get(Student, student_id)
        return student.name if student is not None else "?"

    @app.post("/submissions/{submission_id}/comment")
    async def comment_form(request: Request, submission_id: int) -> Response:
        form = await request.form()
        with Session(engine) as session:
            actor, submission = _decided(request, session, form, submission_id)
            try:
                comment_check(
                    session,
                    submission,
                    str(form.get("check") or ""),
                    str(form.get("comment") or ""),
                    actor.name,
                )
            except DecisionError as exc:
                raise _Refused(422, str(exc)) from None
        return RedirectResponse(f"/submissions/{submission_id}?done=comment", status_code=303)

    @app.get("/class/download/{name}")
    def download(request: Request, name: str) -> Response:
        with Session(reader) as session:
            require(request, session, "download-class")
            data = views().current(session).files.get(name)
        if name not in DOWNLOADS or data is None:
            raise _Refused(
                404, f"no {name} for this class (a gradebook needs a roster with --gradebook)"
            )
        return Response(
            data,
            media_type=DOWNLOADS[name],
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Score-Policy": config.policy,
            },
        )

    @app.post("/class/regrade")
    async def regrade_button(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        with Session(engine) as session:
            require(request, session, "regrade")
            count = regrade(session, course, str(form.get("exercise") or ""))
        return RedirectResponse(f"/class?regraded={count}", status_code=303)

    # -- the JSON API -------------------------------------------------------------
    @app.get("/api/health")
    def health() -> dict[str, Any]:
        with Session(reader) as session:
            session.scalar(select(Student.id).limit(1))
        return {"ok": True}

    @app.post("/api/login")
    async def api_login(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _Refused(400, 'send {"link": "..."} as JSON') from None
        link = str((body or {}).get("link") or "") if isinstance(body, dict) else ""
        secret_value = link.strip().rstrip("/").rsplit("/", 1)[-1]
        # The database's work off the event loop, where it would stall every request.
        return await run_in_threadpool(token_for_link, request, secret_value)

    def token_for_link(request: Request, secret_value: str) -> dict[str, Any]:
        # Looked up in a reading session: a wrong link's try is then counted in a write
        # of its own, not behind the write lock this lookup would hold (on SQLite, the
        # 30 s busy timeout and a 503 instead of a 403).
        slowed(request)
        with Session(reader) as session:
            student = linked_student(request, session, secret_value)
            student_id, name = student.id, student.name
        with Session(engine) as session:
            token = issue_token(session, student_id, "api")
            session.commit()
        return {"token": token, "student": name, "course": course.title}

    @app.get("/api/exercises")
    def api_exercises() -> dict[str, Any]:
        return {"exercises": [_exercise_json(e) for e in course.exercises]}

    def _exercise_json(exercise: Any) -> dict[str, Any]:
        # The course's rules, for a client to show before a hand-in (a student's own
        # extension and attempts used are on their page).
        own = config.rules.of(exercise.name)
        return {
            "name": exercise.name,
            "title": exercise.title,
            "max_score": max_score(exercise.checks),
            "opens": own.local(own.opens) if own.opens else None,
            "deadline": own.local(own.deadline) if own.deadline else None,
            "late": own.late if own.deadline else None,
            "attempts": own.attempts,
            "cooloff_minutes": own.cooloff_minutes or None,
        }

    @app.post("/api/submissions", status_code=202)
    async def api_submit(request: Request) -> Response:
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            # A browser's cookie alone never submits here: another site could make it
            # send one (cross-site request forgery); the page's form carries its token.
            raise _Refused(401, "the API takes a bearer token: run grade login LINK first")
        form, filename, raw = await _upload(request)
        key = request.headers.get("idempotency-key") or str(form.get("idempotency_key") or "")
        done = await take_in(request, str(form.get("exercise") or ""), filename, raw, key)
        return JSONResponse(
            {
                "id": done.id,
                "exercise": done.exercise,
                "status": done.status,
                "url": f"/submissions/{done.id}",
                "repeated": done.repeated,
            },
            status_code=200 if done.repeated else 202,
        )

    @app.get("/api/submissions")
    def api_list(request: Request) -> dict[str, Any]:
        with Session(reader) as session:
            actor = require(request, session, "list-own-submissions")
            levels = _levels(actor)
            return {
                "submissions": [
                    _attempt_json(a, levels[a.exercise]) for a in attempts_of(session, actor.id)
                ]
            }

    @app.get("/api/submissions/{submission_id}")
    def api_one(request: Request, submission_id: int) -> Response:
        with Session(reader) as session:
            actor, submission = _owned(session, request, submission_id)
            result = _latest_result(session, submission.id)
            student = session.get(Student, submission.student_id)
            reply: dict[str, Any] = {
                "id": submission.id,
                "exercise": submission.exercise,
                "filename": submission.filename,
                "status": submission.status,
                "url": f"/submissions/{submission.id}",
            }
            if submission.refusal:
                reply["refusal"] = submission.refusal
            now = clock.now()
            level = level_for(actor, config.rules, submission.exercise, now)
            if result is not None and student is not None and level != "full":
                record = _student_record(student.name, result)["exercises"][0]
                view = _view(level, submission.exercise, record, result, now)
                assert view is not None
                reply["shown"] = level
                if view.score is not None:
                    reply["score"] = view.score
                    reply["max_score"] = view.max_score
                if view.hints:
                    reply["hints"] = list(view.hints)
                if view.released:
                    reply["released"] = view.released
            elif result is not None and student is not None:
                reply["shown"] = "full"
                reply["score"] = result.score
                reply["max_score"] = result.max_score
                reply["report"] = f"/submissions/{submission.id}/report"
                reply["results"] = results_document(
                    [student_result(student.name, [exercise_record(result.document)])],
                    seed=result.seed,
                )
        return Response(to_json(reply), media_type="application/json")

    @app.get("/api/class")
    def api_class(request: Request) -> dict[str, Any]:
        with Session(reader) as session:
            require(request, session, "view-class")
            view = views().current(session)
            return {
                "version": "-".join(map(str, view.version)),
                "students": [
                    {"student": s["student"], "score": s["score"], "max_score": s["max_score"]}
                    for s in view.results["students"]
                ],
            }

    # -- LTI 1.3 ------------------------------------------------------------------------
    platform_keys = PlatformKeys()

    def tool_url(request: Request) -> str:
        return (config.public_url or str(request.base_url)).rstrip("/")

    def continuing() -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(secret(), salt="lti-continue")

    def framed(response: HTMLResponse, form_action: str = "'self'") -> HTMLResponse:
        policy = FRAMED_POLICY.replace("form-action 'self'", f"form-action {form_action}")
        response.headers["Content-Security-Policy"] = policy
        return response

    @app.get("/lti/jwks")
    def lti_jwks() -> Response:
        with Session(engine) as session:
            keys = lti.tool_jwks(session)
        return JSONResponse(keys, headers={"Cache-Control": "max-age=300"})

    @app.api_route("/lti/login", methods=["GET", "POST"])
    async def lti_login(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        with Session(engine) as session:
            address = lti.begin_login(session, params, tool_url(request))
            session.commit()
        return RedirectResponse(address, status_code=303)

    @app.post("/lti/launch")
    async def lti_launch(request: Request) -> Response:
        form = await request.form()
        id_token, state = str(form.get("id_token") or ""), str(form.get("state") or "")
        if form.get("error"):
            raise LtiError(
                f"the platform refused the sign-in: {form.get('error')} "
                f"{form.get('error_description') or ''}".strip(),
                403,
            )
        return await run_in_threadpool(launched, request, id_token, state)

    def launched(request: Request, id_token: str, state: str) -> Response:
        with Session(engine) as session:
            launch = lti.validate_launch(session, id_token, state, platform_keys)
            role, ident, target = lti.sign_in(session, launch, tool_url(request))
            session.commit()
            actor = actor_for(session, role, ident)
        if launch.message_type == lti.DEEP_LINK:
            return framed(deep_link_page(request, actor, state))
        if request.headers.get("sec-fetch-dest") == "iframe":
            # In the platform's frame our cookie is a third-party one, which browsers drop:
            # the student continues in a window of its own, where it is first-party.
            ticket = continuing().dumps(state)
            page = render(request, "lti_window.html.j2", None, href=f"/lti/continue/{ticket}")
            return framed(page)
        return sign_in(RedirectResponse(target, status_code=303), request, role, ident)

    def actor_for(session: Session, role: str, ident: int) -> Actor:
        found: Student | Instructor | None = (
            session.get(Student, ident) if role == "student" else session.get(Instructor, ident)
        )
        assert found is not None
        return Actor(role, found.id, found.name)

    @app.get("/lti/continue/{ticket}")
    def lti_continue(request: Request, ticket: str) -> Response:
        try:
            state = continuing().loads(ticket, max_age=600)
        except BadSignature:
            raise LtiError(
                "this link is wrong or older than 10 minutes: open the exercise in the course "
                "again",
                403,
            ) from None
        with Session(engine) as session:
            login = session.get(LtiLogin, str(state))
            if login is None or login.role is None or login.actor_id is None or login.continued:
                raise LtiError(
                    "this link was used already: open the exercise in the course again", 403
                )
            login.continued = True
            role, ident, target = login.role, login.actor_id, login.target or "/"
            session.commit()
        return sign_in(RedirectResponse(target, status_code=303), request, role, ident)

    def deep_link_page(request: Request, actor: Actor, state: str) -> HTMLResponse:
        return render(
            request, "lti_deep_link.html.j2", actor, exercises=course.exercises, state=state
        )

    @app.post("/lti/deep-link")
    async def lti_deep_link(request: Request) -> Response:
        # No CSRF cookie here (the page is in the platform's frame, where our cookies are
        # third-party): the state, secret and bound to this instructor's launch, is the proof.
        form = await request.form()
        chosen = [str(v) for v in form.getlist("exercise")]
        state = str(form.get("state") or "")
        names = {e.name: e for e in course.exercises}
        unknown = [name for name in chosen if name not in names]
        if not chosen or unknown:
            raise LtiError("choose at least one exercise of this course")
        base = tool_url(request)
        items = [
            {
                "type": "ltiResourceLink",
                "title": f"{name}: {names[name].title}",
                "url": f"{base}/exercises/{name}",
                "custom": {"exercise": name},
                "lineItem": {
                    "scoreMaximum": max_score(names[name].checks),
                    "label": f"{name}: {names[name].title}",
                    "resourceId": name,
                    "tag": "grade",
                },
            }
            for name in chosen
        ]
        with Session(engine) as session:
            return_url, answer = lti.deep_link_response(session, state, items)
            session.commit()
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(return_url))
        page = render(request, "lti_return.html.j2", None, action=return_url, jwt=answer)
        return framed(page, f"'self' {origin}")

    @app.get("/exercises/{name}", response_class=HTMLResponse)
    def exercise_page(request: Request, name: str) -> Response:
        # Where a platform's link to one exercise leads: the hand-in form, that exercise chosen.
        if name not in {e.name for e in course.exercises}:
            raise _Refused(404, f"this course has no exercise {name}")
        with Session(engine) as session:
            actor = actor_of(request, session)
            if actor is not None and actor.role == "instructor":
                return RedirectResponse("/class", status_code=303)
            return home_page(request, session, actor, chosen=name)

    @app.get("/class/passback", response_class=HTMLResponse)
    def passback_page(request: Request) -> Response:
        from grader.serve.passback import troubled

        with Session(engine) as session:
            actor = require(request, session, "view-passback")
            return render(request, "passback.html.j2", actor, passbacks=troubled(session))

    @app.post("/class/passback/retry")
    async def passback_retry(request: Request) -> Response:
        from grader.serve.passback import retry_failed

        form = await request.form()
        check_csrf(request, form)
        with Session(engine) as session:
            require(request, session, "retry-passback")
            count = retry_failed(session)
            session.commit()
        return RedirectResponse(f"/class/passback?retried={count}", status_code=303)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)  # no icon: an answer, not a 404 in every console

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        files = {"serve.js": "text/javascript", "serve.css": "text/css"}
        if name not in files:
            raise _Refused(404, "no such file")
        return Response(
            (HERE / "static" / name).read_bytes(),
            media_type=files[name],
            headers={"Cache-Control": "max-age=3600"},
        )

    # The router tries its routes in turn, and a deadline is hand-ins: theirs go first
    # (matching thirty routes before them was a tenth of a hand-in's cost).
    hand_ins = {"/api/submissions", "/submit"}
    app.router.routes.sort(key=lambda route: getattr(route, "path", "") not in hand_ins)
    return app


def _attempt_json(attempt: Any, level: str) -> dict[str, Any]:
    shows = level in ("full", "score")
    return {
        "id": attempt.id,
        "exercise": attempt.exercise,
        "filename": attempt.filename,
        "status": attempt.status,
        "submitted": attempt.created_at.isoformat() + "Z",
        "score": attempt.score if shows else None,
        "max_score": attempt.max_score if shows else None,
        "url": f"/submissions/{attempt.id}",
        **({"refusal": attempt.refusal} if attempt.refusal else {}),
    }
