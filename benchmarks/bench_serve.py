"""Measure `grade serve` under a deadline spike, against `grade batch` on the same class.

Prints, all measured in this one run on this machine (the figures of issue 23):
 - the spike: STUDENTS x EXERCISES submissions (reference solutions) sent by
   CLIENTS concurrent clients to `grade serve --jobs JOBS`; submissions
   accepted per second;
 - p50 and p95 of the time to accept a submission (goal: p95 under 100 ms
   while the workers keep the cores busy), and of the time from submit to
   graded;
 - the wall time of the whole spike (first submit to last grade) against
   `grade batch --jobs JOBS` on the same class in the same run, as a ratio
   of throughputs (goal: at least 0.8x the batch's);
 - the web process's CPU time per accepted submission (its own work, which
   the machine's other load changes least), beside the load average, and how
   busy the cores were while accepting (the web, the clients, the workers);
 - the web process's resident memory after 100 and after 1,000 accepted
   submissions (goal: flat); the spike is topped up to 1,000 for that.

Run from the course root: python benchmarks/bench_serve.py
(--students 10 --exercises 01,04 for a short run; --accept-only measures the
accepting alone, the workers grading meanwhile, and stops without waiting
for the grades or running the batch.)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GRADE = shutil.which("grade") or "grade"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    # utime and stime of /proc/PID/stat (fields 14 and 15, after the command's parenthesis).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """Busy and total time of all the machine's cores so far (the first line of /proc/stat)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _web_pids(server: int, processes: int) -> list[int]:
    """The processes that answer: grade serve itself, or the web processes it spawned."""
    if processes == 1:
        return [server]
    found: list[int] = []
    up_by = time.monotonic() + 120
    while len(found) < processes and time.monotonic() < up_by:
        children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
        found = [
            int(pid)
            for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        time.sleep(0.2)
    return found


def _form(exercise: str, source: bytes) -> tuple[bytes, str]:
    """The multipart form of one hand-in, as httpx encodes it: its bytes and content type."""
    request = httpx.Request(
        "POST",
        "http://server/api/submissions",
        data={"exercise": exercise},
        files={"file": ("exercise.py", source)},
    )
    return request.read(), request.headers["Content-Type"]


class _Connection:
    """One kept HTTP/1.1 connection: a request out, its reply read to its end (status only)."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._socket = socket.create_connection((host, port), timeout=120)
        self._reader = self._socket.makefile("rb")

    def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        head = [f"POST {path} HTTP/1.1", f"Host: {self._host}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self._socket.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status = int(self._reader.readline().split()[1])
        length = 0
        while (line := self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self._reader.read(length)
        return status


def _own_cpu() -> float:
    """CPU seconds this process (the clients) has spent, its threads together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--exercises", default="01,02,03,04,05,06,07")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--web-processes", type=int, default=1)
    parser.add_argument("--memory-at", type=int, default=1000)
    parser.add_argument(
        "--accept-only",
        action="store_true",
        help="measure the accepting (and the memory) only: no waiting for grades, no batch",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds the grading may take at most"
    )
    args = parser.parse_args()
    numbers = args.exercises.split(",")
    exercises = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.name[:2] in numbers)
    solutions = {e: (ROOT / "solutions" / e / "solution.py").read_bytes() for e in exercises}
    students = [f"s{n:04d}" for n in range(args.students)]
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        _run(args, work, students, exercises, solutions)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    work: Path,
    students: list[str],
    exercises: list[str],
    solutions: dict[str, bytes],
) -> None:
    database = work / "grade.db"
    url = f"sqlite:///{database}"
    port = _port()
    base = f"http://127.0.0.1:{port}"
    (work / "roster.csv").write_text("folder\n" + "\n".join(students) + "\n")
    subprocess.run(
        [
            GRADE,
            "serve",
            "roster",
            str(work / "roster.csv"),
            "--db",
            url,
            "--url",
            base,
            "--links",
            str(work / "links.csv"),
            "--course",
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    links = [
        line.strip().split(",")[2] for line in (work / "links.csv").read_text().splitlines()[1:]
    ]
    log = open(work / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [
            GRADE,
            "serve",
            "--db",
            url,
            "--course",
            str(ROOT),
            "--port",
            str(port),
            "--jobs",
            str(args.jobs),
            "--web-processes",
            str(args.web_processes),
            "--seed",
            "1",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        up_by = time.monotonic() + 600
        while True:
            if time.monotonic() > up_by or server.poll() is not None:
                raise SystemExit(f"grade serve did not come up: see {work / 'serve.log'}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        tokens = [
            httpx.post(f"{base}/api/login", json={"link": link}).json()["token"] for link in links
        ]
        web = _web_pids(server.pid, args.web_processes)
        _spike(args, base, web, tokens, students, exercises, solutions, database, work)
    finally:
        server.terminate()
        server.wait(timeout=60)


def _spike(
    args: argparse.Namespace,
    base: str,
    web_pids: list[int],
    tokens: list[str],
    students: list[str],
    exercises: list[str],
    solutions: dict[str, bytes],
    database: Path,
    work: Path,
) -> None:
    accept: list[float] = []
    memory: dict[int, float] = {}
    lock = threading.Lock()
    jobs = [(i, e) for i in range(len(students)) for e in exercises]

    # One connection per client, kept, and each exercise's form encoded once: a student's
    # machine is not the server's, and here the clients share the server's cores. httpx
    # spent 3.6-4.1 ms of CPU per request (most of a core), so the spike speaks HTTP/1.1
    # itself over the kept connection (`_Connection`).
    connections = threading.local()
    forms = {e: _form(e, solutions[e]) for e in exercises}
    host, port = base.removeprefix("http://").rsplit(":", 1)

    def send(item: tuple[int, str]) -> None:
        student, exercise = item
        if not hasattr(connections, "client"):
            connections.client = _Connection(host, int(port))
        started = time.perf_counter()
        body, kind = forms[exercise]
        status = connections.client.post(
            "/api/submissions",
            # A key each, as `grade submit` sends: the server looks it up before it records.
            {
                "Authorization": f"Bearer {tokens[student]}",
                "Content-Type": kind,
                "Idempotency-Key": uuid.uuid4().hex,
            },
            body,
        )
        if status not in (200, 202):
            raise SystemExit(f"a hand-in was refused: HTTP {status}")
        with lock:
            accept.append(time.perf_counter() - started)
            if len(accept) in (100, args.memory_at):
                memory[len(accept)] = max(_rss_mib(pid) for pid in web_pids)

    spike_start = time.time()
    client_start = _own_cpu()
    cpu_start = sum(_cpu_seconds(pid) for pid in web_pids)
    busy_start, total_start = _machine_jiffies()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(send, jobs))
    accepted_in = time.time() - spike_start
    busy_end, total_end = _machine_jiffies()
    web_cpu = sum(_cpu_seconds(pid) for pid in web_pids) - cpu_start
    client_cpu = _own_cpu() - client_start
    cores = os.cpu_count() or 1
    busy = cores * (busy_end - busy_start) / max(1, total_end - total_start)
    count = len(jobs)
    print(
        f"spike: {len(students)} students x {len(exercises)} exercises = {count} submissions, "
        f"{args.clients} clients, --jobs {args.jobs}, --web-processes {args.web_processes}"
    )
    print(f"  accepted per second: {count / accepted_in:.1f}")
    print(
        f"  time to accept: p50 {1000 * statistics.median(accept):.0f} ms, "
        f"p95 {1000 * _percentile(accept, 0.95):.0f} ms (goal: p95 < 100 ms)"
    )
    # The web process's own work per submission: what the machine's other load changes least.
    print(
        f"  web processes' CPU per accepted submission: {1000 * web_cpu / count:.1f} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    # The clients run on the same cores: what they spend is taken from the server.
    print(
        f"  the clients' CPU per submission sent: {1000 * client_cpu / count:.1f} ms "
        f"({client_cpu / accepted_in:.2f} of a core while they sent)",
        flush=True,
    )
    # The goal holds while the workers grade: the cores must be taken, not idle.
    rest = busy - (web_cpu + client_cpu) / accepted_in
    print(
        f"  the cores while accepting: {busy:.2f} of {cores} busy (the web processes "
        f"{web_cpu / accepted_in:.2f}, the clients {client_cpu / accepted_in:.2f}, "
        f"the workers and the rest {rest:.2f})",
        flush=True,
    )
    if not args.accept_only:
        _graded(args, database, students, exercises, solutions, work, spike_start)
    # Topped up only now: the extra submissions must not take cores from the batch. They
    # are accepted while the workers grade, and the measure does not wait for their grades.
    if len(accept) < args.memory_at:
        extra = [(i % len(students), exercises[0]) for i in range(args.memory_at - len(accept))]
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(send, extra))
    print(
        f"  web process memory (the largest): {memory.get(100, float('nan')):.0f} MiB at 100 "
        "submissions, "
        f"{memory.get(args.memory_at, float('nan')):.0f} MiB at {args.memory_at}"
    )


def _graded(
    args: argparse.Namespace,
    database: Path,
    students: list[str],
    exercises: list[str],
    solutions: dict[str, bytes],
    work: Path,
    spike_start: float,
) -> None:
    while True:
        with sqlite3.connect(database, timeout=60) as connection:
            left = connection.execute(
                "SELECT count(*) FROM jobs WHERE status != 'done'"
            ).fetchone()[0]
        if not left:
            break
        if time.time() - spike_start > args.timeout:
            raise SystemExit(f"  {left} submission(s) still not graded after {args.timeout:.0f} s")
        time.sleep(1)
    with sqlite3.connect(database, timeout=60) as connection:
        rows = connection.execute(
            "SELECT julianday(r.graded_at) - julianday(s.created_at), julianday(r.graded_at)"
            " FROM results r JOIN submissions s ON s.id = r.submission_id"
        ).fetchall()
    to_graded = [days * 86400 for days, _ in rows]
    spike_wall = time.time() - spike_start
    print(
        f"  submit to graded: p50 {statistics.median(to_graded):.1f} s, "
        f"p95 {_percentile(to_graded, 0.95):.1f} s"
    )
    print(f"  whole spike: {spike_wall:.1f} s")
    batch_wall = _batch(args, students, exercises, solutions, work)
    ratio = batch_wall / spike_wall
    print(
        f"grade batch --jobs {args.jobs} on the same class: {batch_wall:.1f} s; "
        f"server throughput / batch throughput = {ratio:.2f}x (goal: >= 0.8x)",
        flush=True,
    )


def _batch(
    args: argparse.Namespace,
    students: list[str],
    exercises: list[str],
    solutions: dict[str, bytes],
    work: Path,
) -> float:
    klass = work / "class"
    for student in students:
        for exercise in exercises:
            folder = klass / student / exercise
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "exercise.py").write_bytes(solutions[exercise])
    started = time.time()
    subprocess.run(
        [
            GRADE,
            "batch",
            str(klass),
            "--out",
            str(work / "graded"),
            "--jobs",
            str(args.jobs),
            "--seed",
            "1",
            "--course",
            str(ROOT),
            "--exercises",
            ",".join(e[:2] for e in exercises),
        ],
        check=True,
        capture_output=True,
        env={**os.environ},
        timeout=args.timeout,
    )
    return time.time() - started


if __name__ == "__main__":
    main()
