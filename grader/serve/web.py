"""The web processes of ``grade serve``: the application, built in each process that serves it.

uvicorn runs several processes on one port only from an import string, each
building its own application (an engine and its connections must not cross a
fork). So what the application is made of travels to them in one environment
variable, and ``application`` builds it there. One process or several, the
server is started the same way. Everything they share (the session and CSRF
secret, the seed, sign-in tries, idempotency keys, the queue) lives in the
database, so a request may reach any of them.
"""

from __future__ import annotations

import gc
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Web", "application", "serve"]

SETTINGS = "GRADE_SERVE_WEB"


@dataclass(frozen=True)
class Web:
    """What a web process needs to build the application (plain data, for its environment)."""

    course: str  # the course's root folder
    url: str  # the database
    lang: str = "en"
    trust: bool = False
    policy: str = "best"
    public_url: str | None = None
    parent: int = 0  # the pid of `grade serve`: a web process of its own dies with it


def application() -> Any:
    """Build the application from the settings ``serve`` left in the environment."""
    from grader.course.find import Course
    from grader.course.rules import load_rules
    from grader.serve.app import Config, create_app
    from grader.serve.database import open_engine

    web = Web(**json.loads(os.environ[SETTINGS]))
    if web.parent and os.getpid() != web.parent:
        from grader.run.process import die_with_parent

        # uvicorn's supervisor started this one: a `kill -9` of grade serve must not
        # leave it answering on the port, with no grading worker behind it.
        die_with_parent()
        if os.getppid() != web.parent:
            os._exit(1)  # it ended before the death signal was set
    # Checked by `grade serve` before any process started: the same files read again.
    course = Course.load(Path(web.course))
    app = create_app(
        Config(
            course=course,
            engine=open_engine(web.url),
            lang=web.lang,
            trust=web.trust,
            policy=web.policy,
            public_url=web.public_url,
            rules=load_rules(course),
        )
    )
    _settle_memory()
    return app


def _settle_memory() -> None:
    """Keep the garbage collector off what the process holds for good.

    What is built by now (the modules, the application, SQLAlchemy's mappers)
    lives as long as the process: frozen, a full collection no longer walks it.
    Walking it took 65-100 ms, twice in a spike of 700 hand-ins, and every
    request waited each one out (3.5-5 ms frozen). A request makes many small
    objects and few cycles, so the youngest generation is collected every
    10,000 allocations rather than every 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def serve(web: Web, host: str, port: int, processes: int = 1) -> None:
    """Serve the application on ``host``:``port`` from ``processes`` web processes.

    With more than one, uvicorn's supervisor starts them on one shared socket and
    starts a new one in place of any that dies.
    """
    import uvicorn

    os.environ[SETTINGS] = json.dumps({**asdict(web), "parent": os.getpid()})
    uvicorn.run(
        f"{__name__}:application",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level="warning",
        proxy_headers=True,
    )
