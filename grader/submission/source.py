"""Find a student's file for an exercise and turn it into source to run.

A ``.py`` file is one chunk of source; a notebook is one chunk per code cell,
in order, with IPython magics and shell lines blanked out (they are not
errors). Everything here only reads bytes: nothing of the submission runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from grader.child.protocol import Chunk

__all__ = [
    "Source",
    "SourceFile",
    "SubmissionError",
    "read_source",
    "find_in_folder",
    "find_for_student",
    "read_for_student",
]

MAX_BYTES = 2 * 1024 * 1024  # no honest exercise is larger; a huge file is an attack on the grader
# `%time x = f()`, `!pip install torch`, `files = !ls`: IPython syntax, not Python.
_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w, ]*=\s*)?(%|!)(?!=)")
# Cell magics whose body is still Python: the magic line goes, the body stays.
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")


class SubmissionError(Exception):
    """A one-line reason why a submission cannot be read (it earns no points)."""


@dataclass(frozen=True)
class Source:
    """A submission ready to run: named chunks of source and the digest of its bytes."""

    path: Path
    chunks: tuple[tuple[str, str], ...]
    digest: str
    # The cells a live kernel ran, in the order it ran them (``check()`` in Jupyter):
    # the kernel went on after a cell that raised, and so does the grading.
    ran_in_kernel: bool = False

    def load_chunks(self) -> tuple[Chunk, ...]:
        """Return the chunks as the child loads them."""
        # A kernel's history is a notebook too: its cells may use what a kernel gives
        # them (display).
        notebook = self.path.suffix == ".ipynb"
        return tuple(
            Chunk(name, text, notebook=notebook, ran_in_kernel=self.ran_in_kernel)
            for name, text in self.chunks
        )


def find_in_folder(folder: Path) -> Path | None:
    """Return the exercise file in an exercise folder: ``exercise.py`` or ``exercise.ipynb``.

    When both exist the one changed last is the student's work (the other is
    usually the untouched stub).
    """
    found = [p for p in (folder / "exercise.py", folder / "exercise.ipynb") if p.is_file()]
    if not found:
        return None
    return max(found, key=lambda p: p.stat().st_mtime_ns)


def find_for_student(student: Path, exercise: str) -> Path | None:
    """Return a student's file for ``exercise`` in any of the contract's four forms."""
    for candidate in (
        student / exercise / "exercise.py",
        student / exercise / "exercise.ipynb",
        student / f"{exercise}.py",
        student / f"{exercise}.ipynb",
    ):
        if candidate.is_file():
            return candidate
    return None


def read_for_student(student: Path, exercise: str) -> SourceFile | None:
    """Read a student's file for ``exercise`` from a class folder (None when there is none).

    The grader reads it with the instructor's rights, and what it reads ends up in
    the student's report (a syntax error quotes the line, the near-copy view shows
    the code): a symbolic link out of the student's folder (a cloned repository
    keeps them) would hand the student any file the instructor can read.
    """
    path = find_for_student(student, exercise)
    if path is None:
        return None
    # The student's folder itself is not resolved: a folder that is a link is refused too.
    if not path.resolve().is_relative_to(student.parent.resolve() / student.name):
        return SourceFile(
            str(path), None, f"{path}: a symbolic link out of the student's folder; not read"
        )
    return SourceFile.read(path)


@dataclass(frozen=True)
class SourceFile:
    """A student's file as bytes: read where it lives, graded anywhere (another process or machine).

    ``path`` is where it was read, for messages and reports; ``raw`` is None
    when it could not be read, and ``problem`` says why.
    """

    path: str
    raw: bytes | None
    problem: str = ""

    @classmethod
    def read(cls, path: Path) -> SourceFile:
        """Read ``path``'s bytes, or record why they cannot be read."""
        try:
            if not path.is_file():
                what = "a folder, not a file" if path.is_dir() else "no such file"
                return cls(str(path), None, f"{path}: {what}")
            if path.stat().st_size > MAX_BYTES:
                return cls(str(path), None, f"{path}: larger than {MAX_BYTES // 1024 // 1024} MiB")
            return cls(str(path), path.read_bytes())
        except OSError as exc:
            return cls(str(path), None, f"{path}: cannot be read ({exc.strerror})")

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def digest(self) -> str:
        """Name what was graded, so a later run can tell whether the file changed."""
        if self.raw is None:
            return "unreadable"
        return hashlib.sha256(self.raw).hexdigest() + ":" + self.name

    def source(self) -> Source:
        """Turn the bytes into chunks of source, or raise SubmissionError."""
        path = Path(self.path)
        if self.raw is None:
            raise SubmissionError(self.problem)
        # A worker may be handed more than a file on disk could hold: check again.
        if len(self.raw) > MAX_BYTES:
            raise SubmissionError(f"{path}: larger than {MAX_BYTES // 1024 // 1024} MiB")
        digest = hashlib.sha256(self.raw).hexdigest()
        # Any case: a student's "03.PY" or "Exercise.IPYNB" is their work all the same.
        if path.suffix.lower() == ".ipynb":
            chunks, ran_in_kernel = _notebook_chunks(path, self.raw)
        elif path.suffix.lower() == ".py":
            chunks, ran_in_kernel = ((path.name, _decode_python(path, self.raw)),), False
        else:
            raise SubmissionError(f"{path}: expected a .py file or a .ipynb notebook")
        for name, text in chunks:
            if "\x00" in text:
                # Python refuses it without a line number ("line ?"): name the place here.
                line = text[: text.index("\x00")].count("\n") + 1
                where = f"{name}, line {line}" if name != path.name else f"line {line}"
                raise SubmissionError(
                    f"{path}: a NUL character ({where}) that Python cannot read; "
                    "save the file as plain text"
                )
        return Source(path, chunks, digest, ran_in_kernel=ran_in_kernel)


def read_source(path: Path) -> Source:
    """Read ``path`` (a .py file or a notebook) into chunks, or raise SubmissionError."""
    return SourceFile.read(path).source()


def _decode_python(path: Path, raw: bytes) -> str:
    try:
        # Honour a PEP 263 coding line, as Python itself would.
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except SyntaxError as exc:
        # detect_encoding reads lines 1-2 for a coding line and trips on non-UTF-8 bytes there.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = raw[: bad.start].count(b"\n") + 1
            raise SubmissionError(
                f"{path}: not valid UTF-8 text (line {line}); save the file as UTF-8"
            ) from None
        raise SubmissionError(f"{path}: {exc}") from None
    except (UnicodeDecodeError, LookupError) as exc:
        line = raw[: getattr(exc, "start", 0)].count(b"\n") + 1
        raise SubmissionError(
            f"{path}: not valid UTF-8 text (line {line}); save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


# Set by grader.notebook on the notebook it writes from a kernel's input history.
KERNEL_HISTORY = {"grader": {"ran_in_kernel": True}}


def _notebook_chunks(path: Path, raw: bytes) -> tuple[tuple[tuple[str, str], ...], bool]:
    import nbformat

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionError(f"{path}: not a notebook (not UTF-8 JSON)") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise SubmissionError(f"{path}: corrupt notebook (not valid JSON: {exc})") from None
    except Exception as exc:  # nbformat raises several unrelated types for bad documents
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmissionError(f"{path}: corrupt notebook ({first[:200]})") from None
    chunks = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionError(f"{path}: corrupt notebook (cell {number} has no text)")
        chunks.append((f"cell {number}", strip_magics(source)))
    grader = notebook.get("metadata", {}).get("grader")
    return tuple(chunks), isinstance(grader, dict) and grader.get("ran_in_kernel") is True


class _Statements:
    """Say, line by line, whether the next line starts a statement (not in brackets or a string).

    One tokenizer runs over the cell once, pulling each line only when it has
    finished the ones before (``readline``): at that moment its last token says
    where the next line starts. Re-tokenizing everything before each magic line
    instead made a cell of N magics cost N² in the trusted process.
    """

    def __init__(self) -> None:
        self.depth = 0  # open brackets
        self.last: tokenize.TokenInfo | None = None
        self.lines = 0  # lines handed to the tokenizer
        self.broken = False

    def next_starts(self) -> bool:
        if self.broken:
            return True  # broken code before it: the magic check is moot, Python will report it
        if self.lines == 0:
            return True
        last = self.last
        # After a whole line the tokenizer's last token is that line's NEWLINE or NL; a
        # line left open (a backslash, a string running on) ends on another token, or on
        # a NEWLINE of an earlier line.
        return (
            self.depth == 0
            and last is not None
            and last.type in (tokenize.NEWLINE, tokenize.NL)
            and last.start[0] == self.lines
        )

    def see(self, token: tokenize.TokenInfo) -> None:
        if token.type == tokenize.OP and token.string in "([{":
            self.depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            self.depth = max(self.depth - 1, 0)
        self.last = token


def strip_magics(source: str) -> str:
    """Blank IPython magics and shell lines, keeping line numbers and indentation valid."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if not lines[0].lstrip().startswith(_PYTHON_CELL_MAGICS):
            return ""  # %%bash, %%html...: not Python at all
        lines[0] = ""
    out: list[str] = []
    state = _Statements()
    pending = iter(lines)

    def readline() -> str:
        line = next(pending, None)
        if line is None:
            return ""
        match = _MAGIC.match(line)
        if match and state.next_starts():
            indent = match.group(1)
            # Indented magics live inside a block: `pass` keeps the block valid.
            out.append(f"{indent}pass" if indent else "")
        else:
            out.append(line)
        state.lines += 1
        return out[-1] + "\n"

    try:
        for token in tokenize.generate_tokens(readline):
            state.see(token)
    except tokenize.TokenError:
        pass  # the cell ends inside a bracket or a string: every line is in already
    except (SyntaxError, ValueError):
        state.broken = True
    while readline():
        pass  # what follows broken code: handed out as the rules say, unchecked
    return "\n".join(out) + "\n"
