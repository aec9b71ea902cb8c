"""Write the student-facing copy of a course: everything but the answers.

The copy is built from an allowlist of top-level entries, never by deleting
from a full copy, so a folder added to the course later stays private until
someone ships it on purpose. After copying, the copy is searched for the
reference solutions' code; a hit removes everything written and refuses.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import shutil
import string
from collections.abc import Iterator
from pathlib import Path

from grader.render.atomic import write_atomic

__all__ = ["release", "ReleaseError"]

# What a student needs to work and self-grade. solutions/ (answers and the
# mistake bank), tests/, benchmarks/ and .ci/ are left out by not being here.
SHIPPED = (
    "course.toml",
    "exercises",
    "checks",
    "templates",
    "grader",
    "pyproject.toml",
    "README.md",
    "SECURITY.md",
    "CHANGELOG.md",
    "docs",
    # The workflow a student template repo copies into .github/workflows.
    "ci-templates",
)

# Dropped at any depth. Dot-entries cover .git, .pytest_cache, .ipynb_checkpoints
# (which keep old cell contents) and .env files; a nested solutions/ or reports/
# could hold answers or graded submissions.
_SKIPPED_DIRS = {"__pycache__", "solutions", "reports"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info")

# The copy's own .gitignore (the course's is a dot-entry, never shipped): what the
# set-up and grading leave in a student's repository must not be committed with it,
# a 1 GB virtual environment least of all.
STUDENT_GITIGNORE = """\
# Made by the README's set-up and by grading: not your work.
.venv/
venv/
*.egg-info/
__pycache__/
*.pyc
reports/
.ipynb_checkpoints/
.pytest_cache/
build/
dist/
"""

# A run of this many consecutive code lines of a solution is a leak, not chance.
_RUN = 3


class ReleaseError(Exception):
    """The release was refused; nothing it wrote is left behind."""


def release(course_root: Path, dest: Path) -> list[str]:
    """Copy the student-facing part of ``course_root`` to ``dest``; return the files written."""
    course_root, dest = course_root.resolve(), dest.resolve()
    if not (course_root / "course.toml").is_file():
        raise ReleaseError(f"{course_root} has no course.toml: not a course root")
    if dest == course_root or course_root in dest.parents:
        raise ReleaseError(f"destination {dest} is inside the course {course_root}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ReleaseError(f"destination {dest} exists and is not an empty folder")
    # Parsed before copying: a solution we cannot read is a solution we cannot look for.
    solution_bodies, solution_runs = _solution_fingerprints(course_root)
    created_dest = not dest.exists()
    written: list[Path] = []
    try:
        for source in _shipped_files(course_root):
            target = dest / source.relative_to(course_root)
            written.append(target)  # before writing: an interrupt mid-write still removes it
            write_atomic(target, _student_text(course_root, source))
            # write_atomic makes 0600 files; keep the course's modes (scripts stay runnable).
            shutil.copymode(source, target)
        ignore = dest / ".gitignore"
        written.append(ignore)
        write_atomic(ignore, STUDENT_GITIGNORE)
        ignore.chmod(0o644)
        leaks = _find_leaks(dest, solution_bodies, solution_runs)
        if leaks:
            raise ReleaseError(
                "release refused, reference solution code found in the student copy "
                "(the copy was removed):\n  " + "\n  ".join(leaks)
            )
    except BaseException:
        _remove(written, dest, created_dest)
        raise
    return sorted(path.relative_to(dest).as_posix() for path in written)


def _student_text(course_root: Path, source: Path) -> bytes:
    """Return what the student copy holds for ``source``: its bytes, but a README for students.

    The course's README.md is the instructors' manual (solutions/, grade
    verify, the test suite); templates/student-README.md, when the course
    has one, replaces it, with the course's title and exercises filled in.
    """
    template = course_root / "templates" / "student-README.md"
    if source != course_root / "README.md" or not template.is_file():
        return source.read_bytes()
    from grader.course.find import Course, CourseError

    try:
        course = Course.load(course_root)
    except CourseError as exc:
        raise ReleaseError(str(exc)) from None
    exercises = "\n".join(
        f"- `grade {e.number}`: [{e.title}](exercises/{e.name}/README.md)" for e in course.exercises
    )
    text = string.Template(template.read_text(encoding="utf-8"))
    return text.safe_substitute(title=course.title, exercises=exercises).encode("utf-8")


def _shipped_files(course_root: Path) -> Iterator[Path]:
    """Yield the course files that go to students, in a stable order."""
    for name in SHIPPED:
        top = course_root / name
        if top.is_symlink():
            raise ReleaseError(f"{name} is a symlink; refusing to ship what it points to")
        if top.is_file():
            yield top
        elif top.is_dir():
            yield from _walk(course_root, top)


def _walk(course_root: Path, folder: Path) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in _SKIPPED_DIRS:
            continue
        if entry.name.endswith(_SKIPPED_SUFFIXES):
            continue
        if entry.is_symlink():
            # exercises/01_x/hint.py -> ../../solutions/01_x/solution.py would ship the answer.
            rel = entry.relative_to(course_root)
            raise ReleaseError(f"{rel} is a symlink; refusing to ship what it points to")
        if entry.is_dir():
            yield from _walk(course_root, entry)
        elif entry.is_file():
            yield entry


def _remove(written: list[Path], dest: Path, created_dest: bool) -> None:
    """Delete the files a failed release wrote and the folders left empty by that."""
    folders: set[Path] = set()
    for path in written:
        path.unlink(missing_ok=True)
        folders.update(p for p in path.parents if dest in p.parents)
    if created_dest:
        folders.add(dest)
    # Deepest first; rmdir only removes empty folders, so nothing else is lost.
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()


# --- finding a solution's code -------------------------------------------------


class _Canonical(ast.NodeTransformer):
    """Rename a function's local names to _0, _1... in order of appearance."""

    def __init__(self, local_names: set[str]) -> None:
        self.local_names = local_names
        self.mapping: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name not in self.local_names:
            return name  # torch, builtins and module globals keep their names
        return self.mapping.setdefault(name, f"_{len(self.mapping)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._rename(node.name)
        node.body = _without_docstring(node.body)
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return body[1:]
    return body


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names: set[str] = set()
    declared_outside: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node is not function:
                names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared_outside.update(node.names)
    return names - declared_outside


def _body_fingerprint(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Dump a function's body with its docstring dropped and local names canonical.

    None for a body that is only a stub (pass, ..., raise NotImplementedError):
    every exercise has those, they give nothing away.
    """
    node = copy.deepcopy(function)
    canonical = _Canonical(_local_names(function))
    # Arguments first, so the mapping follows the signature's order.
    canonical.visit(node.args)
    body = [canonical.visit(stmt) for stmt in _without_docstring(node.body)]
    if all(_is_stub(stmt) for stmt in body):
        return None
    module = ast.Module(body=body, type_ignores=[])
    return ast.dump(module, annotate_fields=False, include_attributes=False)


def _is_stub(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return True
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        target = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(target, ast.Name) and target.id == "NotImplementedError"
    return False


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _code_lines(text: str) -> list[str]:
    """Return the lines that carry code: stripped, blanks and comments dropped."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _solution_runs(source: str, tree: ast.Module) -> list[tuple[str, ...]]:
    """Return every run of consecutive code lines inside the solution's function bodies.

    Only function bodies: imports, signatures, docstrings and module constants
    are shared with the exercise stub on purpose.
    """
    lines = source.splitlines()
    runs: list[tuple[str, ...]] = []
    for function in _functions(tree):
        body = _without_docstring(function.body)
        if not body:
            continue
        start, end = body[0].lineno, body[-1].end_lineno or body[-1].lineno
        code = _code_lines("\n".join(lines[start - 1 : end]))
        runs += [tuple(code[i : i + _RUN]) for i in range(len(code) - _RUN + 1)]
    return runs


def _solution_fingerprints(
    course_root: Path,
) -> tuple[dict[str, str], dict[tuple[str, ...], str]]:
    """Map each solution function's body fingerprint, and each code-line run, to where it is."""
    bodies: dict[str, str] = {}
    runs: dict[tuple[str, ...], str] = {}
    for path in sorted(course_root.glob("solutions/*/solution.py")):
        rel = path.relative_to(course_root).as_posix()
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=rel)
        except SyntaxError as exc:
            raise ReleaseError(
                f"{rel} does not parse ({exc.msg}, line {exc.lineno}): "
                "cannot check the release for it"
            ) from exc
        for function in _functions(tree):
            fingerprint = _body_fingerprint(function)
            if fingerprint is not None:
                bodies.setdefault(fingerprint, f"{rel}:{function.name}")
        for run in _solution_runs(source, tree):
            runs.setdefault(run, rel)
    return bodies, runs


def _notebook_cells(path: Path) -> tuple[list[str], list[str]]:
    """Return a notebook's code cells and all its cells' text (markdown can hold code too)."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in notebook.get("cells", []) if isinstance(c, dict)]
    except (ValueError, AttributeError):
        return [], []
    texts: list[tuple[str, str]] = []
    for cell in cells:
        source = cell.get("source", "")
        text = "".join(map(str, source)) if isinstance(source, list) else str(source)
        texts.append((cell.get("cell_type", ""), text))
    code = [text for kind, text in texts if kind == "code"]
    return code, [text for _, text in texts]


def _without_magics(cell: str) -> str:
    # IPython's %magic and !shell lines are not Python; blank them, keeping line numbers.
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines()
    )


def _find_leaks(dest: Path, bodies: dict[str, str], runs: dict[tuple[str, ...], str]) -> list[str]:
    """Name every place in ``dest`` that holds a solution function's body or a run of its lines."""
    leaks: list[str] = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        rel = path.relative_to(dest).as_posix()
        if path.suffix == ".ipynb":
            code_cells, texts = _notebook_cells(path)
            sources = [_without_magics(cell) for cell in code_cells]
        else:
            try:
                texts = [path.read_text(encoding="utf-8")]
            except (UnicodeDecodeError, OSError):
                continue  # binary files (images, fonts) cannot hold pasted code
            sources = texts if path.suffix == ".py" else []
        for source in sources:
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
                continue  # still searched line by line below
            for function in _functions(tree):
                origin = bodies.get(_body_fingerprint(function) or "")
                if origin:
                    leaks.append(f"{rel}: function {function.name} has the body of {origin}")
        for text in texts:
            code = _code_lines(text)
            for i in range(len(code) - _RUN + 1):
                origin = runs.get(tuple(code[i : i + _RUN]))
                if origin:
                    leaks.append(f"{rel}: lines {code[i]!r}... copied from {origin}")
                    break
    return leaks
