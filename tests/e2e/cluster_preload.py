"""Test-only hooks loaded into the test cluster's Dask workers (``dask worker --preload``).

No grader code has a way to make a worker die on cue; these hooks wrap the
function a worker grades a parcel with, so the e2e tests can:
- kill the worker like a submission that escaped its sandbox would
  (a student whose name starts with ``kills_its_worker``);
- see which worker is grading right now (a file per busy worker pid in
  ``$GRADE_TEST_BUSY``), to SIGKILL it in the middle of a grade;
- slow each parcel down (``$GRADE_TEST_DELAY`` seconds) so that kill lands.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import grader.drivers.cluster

_grade_parcel = grader.drivers.cluster.grade_parcel


def _grade_parcel_with_hooks(parcel: Any, *args: Any, **kwargs: Any) -> Any:
    if parcel.student.startswith("kills_its_worker"):
        os.kill(os.getpid(), signal.SIGKILL)
    busy = Path(os.environ.get("GRADE_TEST_BUSY", "")) / str(os.getpid())
    if os.environ.get("GRADE_TEST_BUSY"):
        busy.write_text(parcel.student, encoding="utf-8")
    try:
        time.sleep(float(os.environ.get("GRADE_TEST_DELAY", "0")))
        return _grade_parcel(parcel, *args, **kwargs)
    finally:
        if os.environ.get("GRADE_TEST_BUSY"):
            busy.unlink(missing_ok=True)


def dask_setup(worker: Any) -> None:
    grader.drivers.cluster.grade_parcel = _grade_parcel_with_hooks
