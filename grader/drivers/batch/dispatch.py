"""Send each student's parcel to be graded, and hand back each result as it comes.

One interface, ``Dispatch``, three ways behind it:

- ``InThisProcess``: one warm executor in the batch's own process (one worker's
  worth of work, or a class of one);
- ``LocalPool``: worker processes, each holding a warm zygote and grading one
  parcel at a time, a few parcels per worker in flight;
- ``OnCluster``: the same parcels on Dask workers (``grader.drivers.cluster``).

Every way grades a parcel with ``grade_parcel`` behind the one sandbox gate
(``refuse_half_confined``), asked once per executor before any student's code.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from grader.course.find import Course
from grader.drivers.batch.errors import BatchError
from grader.engine.exercise import Settings
from grader.engine.parcel import Parcel, grade_parcel
from grader.render import plots
from grader.run.executors import Executor
from grader.run.gate import TRUST_SUBMISSIONS, refuse_half_confined
from grader.run.process import helper_process

if TYPE_CHECKING:
    # Told each student's results in the batch's process: the one definition, the cluster's.
    from grader.drivers.cluster import Record

__all__ = ["Dispatch", "Graded", "dispatch_for"]

# One student's results per exercise, as ``grade_parcel`` returns them.
Graded = tuple[str, dict[str, dict[str, Any]]]


class Dispatch(Protocol):
    """A way to grade parcels: ``grade`` calls ``record`` once per parcel, in any order."""

    def grade(self, parcels: Iterator[Parcel], record: Record) -> None: ...


def dispatch_for(
    course: Course,
    settings: Settings,
    hide: list[str],
    jobs: int,
    students: int,
    cluster: str | None,
) -> Dispatch:
    """Choose how ``students`` parcels are graded with ``jobs`` cores (or on ``cluster``)."""
    if cluster is not None:
        return OnCluster(cluster, course, settings, hide, jobs)
    # Fewer students than cores (a class of 3 on 16): one worker per student, each
    # grading its exercises side by side in as many children as the cores allow.
    workers = min(jobs, students)
    at_once = max(1, jobs // max(1, workers))
    if workers <= 1:
        return InThisProcess(str(course.root), settings, hide, at_once)
    return LocalPool(str(course.root), settings, hide, at_once, workers)


@dataclass
class _Worker:
    """One grading process's course, settings and warm executor, built per run."""

    course: Course
    settings: Settings
    executor: Executor
    at_once: int
    # How this machine confines a child, asked once before the first student's code runs.
    sandbox: dict[str, Any] | None = None

    @classmethod
    def start(cls, course_root: str, settings: Settings, hide: list[str], at_once: int) -> _Worker:
        from grader.run.executors.warm_fork import warm_executor

        course = Course.load(Path(course_root))
        return cls(course, settings, warm_executor(hide), at_once)

    def grade(self, parcel: Parcel) -> Graded:
        """Grade one student's parcel, refusing first if the sandbox falls short here.

        The sandbox is asked of a child started exactly as every submission's
        will be, so the answer is about this machine, this user and this Python.
        """
        if self.sandbox is None:
            self.sandbox = refuse_half_confined(
                self.executor, self.settings, way_out=TRUST_SUBMISSIONS
            )
        return grade_parcel(parcel, self.course, self.settings, self.executor, self.at_once)

    def close(self) -> None:
        self.executor.close()


@dataclass
class InThisProcess:
    """Grade every parcel here, one after another, with one warm executor."""

    course_root: str
    settings: Settings
    hide: list[str]
    at_once: int

    def grade(self, parcels: Iterator[Parcel], record: Record) -> None:
        worker = _Worker.start(self.course_root, self.settings, self.hide, self.at_once)
        try:
            for parcel in parcels:
                record(*worker.grade(parcel))
        finally:
            worker.close()


# Each process of the pool holds its own worker, set up by the pool's initializer
# (a spawned process gets its state from there, not from its parent).
_pool_worker: _Worker | None = None


def _init_worker(course_root: str, settings: Settings, hide: list[str], at_once: int) -> None:
    global _pool_worker
    helper_process("grade-worker")
    _pool_worker = _Worker.start(course_root, settings, hide, at_once)


def _grade_in_pool(parcel: Parcel) -> Graded:
    assert _pool_worker is not None, "the pool's initializer sets the worker up"
    return _pool_worker.grade(parcel)


@dataclass
class LocalPool:
    """Grade parcels on ``workers`` processes of this machine, each with its warm zygote."""

    course_root: str
    settings: Settings
    hide: list[str]
    at_once: int
    workers: int

    def grade(self, parcels: Iterator[Parcel], record: Record) -> None:
        context = multiprocessing.get_context("spawn")  # workers never inherit a torch or a thread
        with ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.course_root, self.settings, self.hide, self.at_once),
        ) as pool:
            try:
                self._keep_busy(pool, parcels, record)
            except BaseException:
                _stop_at_once(pool)
                raise

    def _keep_busy(
        self, pool: ProcessPoolExecutor, parcels: Iterator[Parcel], record: Record
    ) -> None:
        # A few students per worker in flight, read just before they are sent: a class
        # of thousands is never all in memory at once (nor all in the pool's queue).
        waiting: set[Future[Graded]] = set()
        while True:
            for parcel in itertools.islice(parcels, 4 * self.workers - len(waiting)):
                waiting.add(pool.submit(_grade_in_pool, parcel))
            if not waiting:
                return
            # While the workers start (torch, seconds), this process loads matplotlib: the
            # overview needs it, and the reports' processes are forked with it loaded.
            plots.warm_up(wait=True)
            finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for future in finished:
                record(*future.result())


def _stop_at_once(pool: ProcessPoolExecutor) -> None:
    """End the pool now: Ctrl-C, a refused sandbox or a broken environment.

    What is graded is already on disk, and the running students are graded again
    next time. ``concurrent.futures`` has no way to kill its workers, hence its
    private attributes, read defensively.
    """
    running = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in running:
        process.kill()
    if manager is not None:
        # Its pool broken, it ends; ended before we do, or Python 3.11.2's exit
        # hook writes to the pipe it is closing and prints a traceback.
        manager.join(timeout=10)


@dataclass
class OnCluster:
    """Grade parcels on the Dask cluster at ``address`` (``local``: one of ``workers``)."""

    address: str
    course: Course
    settings: Settings
    hide: list[str]
    workers: int

    def grade(self, parcels: Iterator[Parcel], record: Record) -> None:
        from grader.drivers.cluster import ClusterError, grade_on_cluster  # imports dask: only here

        try:
            grade_on_cluster(
                self.address,
                self.course,
                self.settings,
                self.hide,
                parcels,
                record,
                workers=self.workers,
            )
        except ClusterError as exc:
            raise BatchError(str(exc)) from None
