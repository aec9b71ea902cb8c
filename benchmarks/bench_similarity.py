"""Measure what the near-copy search adds to `grade batch` for a big class.

Prints, measured in this one run on this machine:
 (a) the wall time of the near-copy search (reading every file as text,
     fingerprinting, comparing, per exercise and for whole submissions) for
     N=500 students x 7 exercises of synthetic submissions: each is the
     reference solution or a known mistake from solutions/*/mistakes, then
     disguised the way students do (identifiers renamed, functions
     reordered, comments removed, changed or added, blank lines changed);
     one student in 25 hands in a disguised copy of another's work;
 (b) the batch's own wall time for the same class, estimated by grading a
     small real batch (--sample students, --jobs 2) and scaling its time
     per student to N; and the ratio (a) / (b) (goal: at most 10%).

Run from the course root: python benchmarks/bench_similarity.py [--n 500] [--sample 10]
"""

from __future__ import annotations

import argparse
import ast
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMES = ["a", "b", "val", "tmp", "res", "out", "t", "data", "arr", "thing", "foo", "my_x", "z1"]
# A student's own touches: statements of varied shape, so that each
# submission has something of its own beyond its base (as real ones do).
OWN_LINES = [
    "assert len(str({v})) > {n}",
    "{v}_copy = list(range({n}))",
    "if {n} > {m}:\n{i}    print('debug', {n}, [{m}] * {n})",
    "for _k in range({n}):\n{i}    pass",
    "{v}_note = {{'step': {n}, 'other': ({m}, {n})}}",
    "print(f'value {{{n} + {m}}}')",
]
COMMENTS = ["# compute it", "# TODO check", "# step", "# from the tutorial", "# done"]


def rename(source: str, rng: random.Random) -> str:
    """Rename the local variables (what a student is free to name; parameters stay)."""
    tree = ast.parse(source)
    local = {
        node.id
        for function in tree.body
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    mapping = {name: f"{rng.choice(NAMES)}_{k}" for k, name in enumerate(sorted(local))}
    out = []
    previous = ""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        text = token.string
        if token.type == tokenize.NAME and previous != "." and text in mapping:
            text = mapping[text]
        out.append((token.type, text))
        previous = token.string
    return tokenize.untokenize(out)


def _reordered(source: str, rng: random.Random) -> list[str]:
    """Return the lines with the top-level functions (and their decorators) shuffled."""
    lines = source.splitlines()
    tree = ast.parse(source)
    spans = [
        (min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1, node.end_lineno or 0)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    ]
    if not spans:
        return lines
    functions = [[*lines[a:b], ""] for a, b in spans]
    rng.shuffle(functions)
    return lines[: spans[0][0]] + [line for f in functions for line in f] + lines[spans[-1][1] :]


def disguise(source: str, rng: random.Random) -> str:
    """Reorder functions, rewrite comments and blank lines, rename locals, add own lines."""
    lines = []
    for line in _reordered(source, rng):
        code = line.split("  #", 1)[0].rstrip() if "  #" in line else line
        if code.lstrip().startswith("#"):
            continue  # the base's comments go; the student writes their own
        if code.strip() or rng.random() < 0.5:
            lines.append(code)
        if code.strip() and not code.endswith(":") and rng.random() < 0.1:
            lines[-1] += "  " + rng.choice(COMMENTS)
    for _ in range(rng.randint(1, 3)):
        # Before a statement in a body that does not follow a block opener.
        body = [
            k
            for k, line in enumerate(lines)
            if k
            and line.startswith("    ")
            and not lines[k - 1].rstrip().endswith((":", ","))
            and not line.lstrip().startswith((")", "]", "}", "else", "elif", "except", "finally"))
        ]
        if body:
            k = rng.choice(body)
            indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
            own = rng.choice(OWN_LINES).format(
                v=rng.choice(NAMES), n=rng.randint(1, 9), m=rng.randint(1, 9), i=indent
            )
            lines.insert(k, indent + own)
    text = "\n".join(lines) + "\n"
    try:
        return rename(text, rng)
    except SyntaxError:
        return text


def make_class(folder: Path, n: int, seed: int = 7) -> None:
    from grader.course.find import Course

    rng = random.Random(seed)
    course = Course.load(ROOT)
    for i in range(n):
        student = folder / f"student{i:03d}"
        student.mkdir(parents=True)
        copy_of = rng.randrange(i) if i and rng.random() < 0.04 else None
        for exercise in course.exercises:
            if copy_of is not None:
                original = (folder / f"student{copy_of:03d}" / f"{exercise.name}.py").read_text()
                text = disguise(original, rng)
            else:
                options = [exercise.solution, *exercise.mistakes]
                base = rng.choice(options) if rng.random() < 0.5 else exercise.solution
                text = disguise(base.read_text(encoding="utf-8"), rng)
            (student / f"{exercise.name}.py").write_text(text, encoding="utf-8")


def time_similarity(folder: Path) -> tuple[float, int]:
    from grader.course.find import Course
    from grader.drivers.batch import students_in
    from grader.review import similarity
    from grader.review.overview import _stub, read_sources

    course = Course.load(ROOT)
    started = time.perf_counter()
    sources = read_sources(students_in(folder), course.exercises)
    stubs = {e.name: _stub(e) for e in course.exercises}
    pairs = similarity.near_copies(sources, stubs)
    return time.perf_counter() - started, len(pairs)


def time_batch(folder: Path, sample: int, out: Path) -> float:
    small = out.parent / "sample"
    small.mkdir()
    for student in sorted(folder.iterdir())[:sample]:
        shutil.copytree(student, small / student.name)
    grade = shutil.which("grade") or "grade"
    started = time.perf_counter()
    subprocess.run(
        [grade, "batch", str(small), "--out", str(out), "--jobs", "2", "--seed", "1"],
        check=False,
        capture_output=True,
        cwd=ROOT,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="students in the synthetic class")
    parser.add_argument("--sample", type=int, default=10, help="students graded for real")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        folder = Path(tmp) / "class"
        make_class(folder, args.n)
        seconds, pairs = time_similarity(folder)
        print(
            f"(a) near-copy search, {args.n} students x 7 exercises: {seconds:.2f} s "
            f"({pairs} pair(s) at the default threshold)"
        )
        batch = time_batch(folder, args.sample, Path(tmp) / "out")
        per_student = batch / args.sample
        scaled = per_student * args.n
        print(
            f"(b) grade batch --jobs 2 on {args.sample} of these students: {batch:.1f} s, "
            f"{per_student:.2f} s per student; scaled linearly to {args.n} students: {scaled:.0f} s"
        )
        print(f"    ratio (a)/(b): {100 * seconds / scaled:.1f}% added (goal: at most 10%)")


if __name__ == "__main__":
    main()
