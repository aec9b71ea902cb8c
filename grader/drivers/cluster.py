"""Grade a batch on a Dask cluster: the same parcels and results as local workers, more machines.

The instructor's ``grade batch`` is the Dask client. It reads each student's
files and sends them as bytes (a Parcel); a Dask worker grades them with a
warm zygote kept for the life of its process, under the same confinement as
a local batch, and sends back the per-exercise result dicts. Workers need
the course installed (the same version) but no shared file system. Writing
OUT, resuming and reports stay in ``grader.drivers.batch``: this module only moves
parcels and results.

This module imports dask; ``grade`` imports it only when ``--cluster`` is used.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import __version__
from grader.course.find import Course, CourseError, files_digest
from grader.engine.exercise import Settings, secrets_of
from grader.engine.parcel import Parcel, grade_parcel
from grader.judge.checks import JudgeError, max_score
from grader.run.executors.sandboxed import SandboxExecutor
from grader.run.gate import TRUST_SUBMISSIONS, refuse_half_confined
from grader.score.points import unjudged_result

__all__ = ["ClusterError", "grade_on_cluster", "course_digest"]

CONNECT_TIMEOUT = 15.0  # seconds to reach a scheduler before saying so in one line
NO_WORKERS_TIMEOUT = 60.0  # seconds a batch waits for a worker to join (or come back)
# A task whose worker died twice is the submission's doing (or the machine's):
# record it as an error instead of killing worker after worker.
ALLOWED_FAILURES = 1
IN_FLIGHT_PER_THREAD = 2  # parcels queued ahead per worker thread; the rest stay unread
COURSE_ENV = "GRADE_COURSE"  # on a worker: where the course is, when not at the client's path

Record = Callable[[str, dict[str, dict[str, Any]]], None]


class ClusterError(Exception):
    """A one-line reason why the batch cannot go on on the cluster."""


class WorkerCourseError(Exception):
    """Raised on a worker whose course is missing or differs from the client's."""


# -- the client's side ------------------------------------------------------------------
def grade_on_cluster(
    address: str,
    course: Course,
    settings: Settings,
    hide: list[str],
    parcels: Iterable[Parcel],
    record: Record,
    *,
    workers: int = 2,
) -> None:
    """Grade ``parcels`` on the Dask cluster at ``address`` (``local``: start one of ``workers``).

    ``record(student, results)`` is called in this process as each student
    finishes. Raises ClusterError (what was recorded is kept) when the cluster
    cannot be reached, has no workers, goes away, or grades with another course.
    """
    distributed = _import_distributed()
    from distributed import KilledWorker

    digest = course_digest(course)
    with _client(distributed, address, workers) as client:
        client.register_plugin(_CloseWarmExecutors(), name="grader-warm-executors")
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        window = max(1, threads) * IN_FLIGHT_PER_THREAD
        queue: Iterator[Parcel] = iter(parcels)
        running: dict[Any, Parcel] = {}

        def submit_next() -> None:
            parcel = next(queue, None)
            if parcel is not None:
                future = client.submit(
                    _grade_on_worker,
                    parcel,
                    str(course.root),
                    digest,
                    settings,
                    hide,
                    pure=False,  # the same parcel twice (--force) is graded twice
                    key=f"grade-{parcel.student}-{os.urandom(6).hex()}",
                )
                running[future] = parcel

        for _ in range(window):
            submit_next()
        while running:
            for future in _next_finished(distributed, client, address, list(running)):
                parcel = running.pop(future)
                try:
                    student, done = future.result()
                except KilledWorker:
                    student, done = parcel.student, _killed_its_worker(course, parcel)
                # Another course on the worker, or its sandbox short of what it must be.
                except (WorkerCourseError, JudgeError) as exc:
                    raise ClusterError(str(exc)) from None
                except (CancelledError, OSError):  # the scheduler went away
                    raise ClusterError(_lost(address, None)) from None
                except Exception as exc:  # a grader bug on a worker: never a student's zero
                    raise ClusterError(
                        f"grading {parcel.student} failed on a worker: {type(exc).__name__}: {exc}"
                    ) from None
                record(student, done)
                submit_next()


def _import_distributed() -> Any:
    # Dask logs at INFO by default, in this process and in the workers a local
    # cluster spawns (they inherit the environment): the instructor's terminal
    # gets one line from us instead of Dask's chatter and tracebacks.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install 'autograd-grader[cluster]'") from None
    # Some of its loggers have levels of their own (distributed.client logs a lost
    # scheduler with a traceback at ERROR): quiet every one of them.
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(logging.CRITICAL)
    return distributed


@contextmanager
def _client(distributed: Any, address: str, workers: int) -> Iterator[Any]:
    import dask

    settings = {
        # These two reach only a scheduler started here (--cluster local); docs/cluster.md
        # asks the same of a grading cluster's scheduler.
        "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
        # A worker holds only the task it runs: when it dies, no queued student is
        # counted as having killed it.
        "distributed.scheduler.worker-saturation": 1.0,
        "distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s",
    }
    with dask.config.set(settings):
        cluster = None
        try:
            if address == "local":
                # Processes, not threads: each judge runs pytest in its worker's process.
                cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # No dashboard, yet the scheduler still serves health checks over HTTP,
                    # by default on port 8787: a second class graded on this machine (or
                    # another user's) would print a port-in-use warning. Any free port.
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    memory_limit=0,  # the sandbox limits each submission's memory
                )
                address = cluster.scheduler_address
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            if cluster is not None:
                cluster.close()
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address}: {_first_line(exc)}"
            ) from None
        try:
            try:
                client.wait_for_workers(1, timeout=NO_WORKERS_TIMEOUT)
            except (OSError, TimeoutError):
                raise ClusterError(
                    f"the Dask cluster at {address} has no workers "
                    f"(none joined within {NO_WORKERS_TIMEOUT:g}s)"
                ) from None
            yield client
        finally:
            _quietly(client.close)
            if cluster is not None:
                _quietly(cluster.close)


def _next_finished(distributed: Any, client: Any, address: str, futures: list[Any]) -> list[Any]:
    """Wait for the next finished futures; raise ClusterError when no worker is left to run them."""
    idle_since: float | None = None
    while True:
        try:
            done, _ = distributed.wait(futures, timeout=5, return_when="FIRST_COMPLETED")
            return list(done)
        except TimeoutError:
            pass
        except (CancelledError, OSError):  # the scheduler went away
            raise ClusterError(_lost(address, None)) from None
        if client.status != "running":
            raise ClusterError(_lost(address, None))
        try:
            alive = bool(client.scheduler_info()["workers"])
        except Exception as exc:
            raise ClusterError(_lost(address, exc)) from None
        now = time.monotonic()
        idle_since = None if alive else (idle_since or now)
        if idle_since is not None and now - idle_since > NO_WORKERS_TIMEOUT:
            raise ClusterError(
                f"the Dask cluster at {address} has had no workers for "
                f"{NO_WORKERS_TIMEOUT:g}s; what was graded is kept, run again to go on"
            )


def _lost(address: str, exc: BaseException | None) -> str:
    why = f" ({_first_line(exc)})" if exc is not None and str(exc) else ""
    return (
        f"lost the Dask cluster at {address}{why}; "
        "the students graded so far are kept, run again to grade the rest"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quietly(close: Callable[[], Any]) -> None:
    try:
        close()
    except Exception:
        pass  # the cluster is already gone; the batch's own message says so


def _killed_its_worker(course: Course, parcel: Parcel) -> dict[str, dict[str, Any]]:
    """Record every exercise of a parcel whose grading killed its worker on each try."""
    message = (
        f"grading stopped: the worker process grading this submission died "
        f"{ALLOWED_FAILURES + 1} times (a submission that kills its grader, or a "
        "worker machine out of memory); it is graded again on the next run"
    )
    done = {}
    for name, file in parcel.files:
        exercise = course.exercise(name)
        result = unjudged_result(
            name,
            exercise.title,
            "error",
            message,
            max_score(exercise.checks),
            source=file.name if file else "",
            error_kind="worker_died",
        )
        # No file_digest: the next run grades it again instead of keeping this error.
        done[name] = dict(result)
    return done


def course_digest(course: Course) -> str:
    """Fingerprint what grading depends on: the grader's version and the course's checks."""
    root = course.root
    files = [root / "course.toml", *sorted((root / "checks").rglob("*"))]
    files += sorted((root / "templates").rglob("*"))
    files += [e.folder / "README.md" for e in course.exercises]  # exercise titles
    return files_digest(root, files, salt=__version__)


# -- the worker's side ---------------------------------------------------------------
@dataclass
class _Warm:
    course: Course
    executor: SandboxExecutor  # a ZygoteExecutor where fork works
    secrets: list[str]  # what no submission may see on this worker, whatever the batch


_warm: dict[tuple[str, str], _Warm] = {}
# Each judge runs pytest in this process: two at once in one worker's threads would
# share sys.modules and capture. A worker started with --nthreads 1 never waits here.
_one_judge_at_a_time = threading.Lock()
_confined: set[int] = set()  # warm executors whose sandbox was found to hold


def _grade_on_worker(
    parcel: Parcel, course_root: str, digest: str, settings: Settings, hide: list[str]
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Grade one parcel on a Dask worker, reusing this process's warm zygote."""
    with _one_judge_at_a_time:
        warm = _warm_for(course_root, digest)
        # The client's submissions and OUT folders, when this worker shares its machine.
        # Sent with each fork, so one zygote serves every batch.
        warm.executor.hide = [*hide, *warm.secrets]
        if id(warm.executor) not in _confined:
            # As a local batch does: no student code runs on a worker whose sandbox falls short.
            refuse_half_confined(warm.executor, settings, way_out=TRUST_SUBMISSIONS)
            _confined.add(id(warm.executor))
        return grade_parcel(parcel, warm.course, settings, warm.executor)


def _warm_for(course_root: str, digest: str) -> _Warm:
    key = (course_root, digest)
    if key in _warm:
        return _warm[key]
    from distributed import get_worker

    from grader.run.executors.warm_fork import warm_executor

    worker = get_worker()
    root = os.environ.get(COURSE_ENV) or course_root
    try:
        course = Course.load(Path(root))
    except CourseError as exc:
        raise WorkerCourseError(
            f"worker {worker.address} has no course at {root} ({exc}); install the course "
            f"there or set {COURSE_ENV} for the worker"
        ) from None
    if course_digest(course) != digest:
        raise WorkerCourseError(
            f"worker {worker.address} grades with another course or grader version "
            f"({root}); install the same version as on this machine"
        )
    # The worker's scratch folder may hold other students' parcels spilled to disk.
    secrets = [*secrets_of(course), str(worker.local_directory)]
    _close_warm()  # another course: its zygote is not needed any more
    _warm[key] = _Warm(course, warm_executor(secrets), secrets)
    return _warm[key]


def _close_warm() -> None:
    for warm in _warm.values():
        _quietly(warm.executor.close)
    _warm.clear()


def _plugin_base() -> type:
    try:
        from distributed.diagnostics.plugin import WorkerPlugin
    except ImportError:  # this module is imported without dask only by the type checker
        return object
    return WorkerPlugin


class _CloseWarmExecutors(_plugin_base()):  # type: ignore[misc]
    """Stop a worker's warm zygote when the worker shuts down."""

    def teardown(self, worker: Any) -> None:
        # The next batch registers the plugin again, which tears this one down on a
        # running worker: keep its warm zygote then, stop it only when the worker goes.
        if getattr(worker.status, "name", "") not in ("running", "paused"):
            _close_warm()
