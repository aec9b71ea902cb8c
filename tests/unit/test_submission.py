"""Read submissions into chunks of source: encodings, notebooks, magics, limits, layouts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from grader.child.protocol import Chunk, Load, LoadReply
from grader.submission.source import (
    MAX_BYTES,
    SubmissionError,
    find_for_student,
    find_in_folder,
    read_source,
    strip_magics,
)

EXERCISE = "01_leaf_tensors"


def write_notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    path.write_text(nbformat.writes(new_notebook(cells=list(cells))), encoding="utf-8")
    return path


def compiles(source: str) -> bool:
    try:
        compile(source, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


# -- .py files ------------------------------------------------------------------------
def test_python_file_is_one_chunk_with_the_digest_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    raw = "import torch\n\ndef f(x):\n    return x  # ok: ü\n".encode()
    path.write_bytes(raw)
    source = read_source(path)
    assert source.path == path
    assert source.chunks == (("exercise.py", raw.decode()),)
    assert source.digest == hashlib.sha256(raw).hexdigest()
    assert source.load_chunks() == (Chunk("exercise.py", raw.decode()),)


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(b"\xef\xbb\xbfx = 1\n")
    assert read_source(path).chunks[0][1] == "x = 1\n"


@pytest.mark.parametrize("cookie", ["# -*- coding: latin-1 -*-", "# coding=iso-8859-1"])
def test_pep263_coding_line_is_honoured(tmp_path: Path, cookie: str) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(f"{cookie}\nname = 'Jos\xe9'\n".encode("latin-1"))
    ((_, text),) = read_source(path).chunks
    assert "name = 'José'" in text
    assert compiles(text)


def test_coding_line_on_the_second_line_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\ns = '\xe9'\n")
    assert "s = 'é'" in read_source(path).chunks[0][1]


def test_non_utf8_without_coding_line_names_utf8_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(b"import torch\n\n\ns = 'caf\xe9'\n")
    with pytest.raises(SubmissionError) as info:
        read_source(path)
    message = str(info.value)
    assert "UTF-8" in message
    assert "line 4" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("raw", "line"),
    [(b"# r\xe9ponse de l'exercice\nx = 1\n", 1), (b"# Exercise 1\n# caf\xe9\nx = 1\n", 2)],
)
def test_non_utf8_in_a_leading_comment_names_utf8_and_the_line(
    tmp_path: Path, raw: bytes, line: int
) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(raw)
    with pytest.raises(SubmissionError) as info:
        read_source(path)
    assert "UTF-8" in str(info.value)
    assert f"line {line}" in str(info.value)


def test_unknown_encoding_in_coding_line_is_a_submission_error(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(b"# coding: klingon\nx = 1\n")
    with pytest.raises(SubmissionError):
        read_source(path)


def test_a_nul_character_is_named_with_its_line(tmp_path: Path) -> None:
    # Python itself says only "source code string cannot contain null bytes", at "line ?".
    path = tmp_path / "exercise.py"
    path.write_bytes(b"import torch\n\nx = 1\x00\n")
    with pytest.raises(SubmissionError, match=r"a NUL character \(line 3\)"):
        read_source(path)
    notebook = write_notebook(
        tmp_path / "exercise.ipynb", new_code_cell("import torch"), new_code_cell("x\n\x00")
    )
    with pytest.raises(SubmissionError, match=r"a NUL character \(cell 2, line 2\)"):
        read_source(notebook)


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(SubmissionError, match="larger than 2 MiB"):
        read_source(path)


def test_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "exercise.py"
    path.write_bytes(b"#" * (MAX_BYTES - 1) + b"\n")
    assert len(read_source(path).chunks[0][1]) == MAX_BYTES


def test_notebook_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "exercise.ipynb", new_code_cell("#" * (MAX_BYTES + 10)))
    with pytest.raises(SubmissionError, match="MiB"):
        read_source(path)


def test_missing_file_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="no such file"):
        read_source(tmp_path / "nope.py")
    with pytest.raises(SubmissionError, match="a folder, not a file"):
        read_source(tmp_path)  # a folder is not a submission
    other = tmp_path / "exercise.txt"
    other.write_text("x = 1\n")
    with pytest.raises(SubmissionError, match=r"\.py file or a \.ipynb"):
        read_source(other)


# -- notebooks --------------------------------------------------------------------------
def test_notebook_code_cells_become_chunks_named_by_cell_number(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "exercise.ipynb",
        new_markdown_cell("# My answers"),
        new_code_cell("import torch"),
        new_raw_cell("raw text, not code"),
        new_code_cell("def f(x):\n    return x * 2"),
    )
    source = read_source(path)
    assert [name for name, _ in source.chunks] == ["cell 2", "cell 4"]
    assert source.chunks[0][1] == "import torch\n"
    assert source.chunks[1][1] == "def f(x):\n    return x * 2\n"
    assert source.digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_notebook_cell_source_as_a_list_of_lines(tmp_path: Path) -> None:
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": "a1",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": ["x = 1\n", "y = x + 1\n"],
            }
        ],
    }
    path = tmp_path / "exercise.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    assert read_source(path).chunks == (("cell 1", "x = 1\ny = x + 1\n"),)


def test_notebook_with_magics_keeps_valid_python(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "exercise.ipynb",
        new_code_cell("%matplotlib inline\n!pip install torch\nimport torch"),
        new_code_cell("%%bash\necho hello\nls -la | wc -l"),
        new_code_cell("def f(x):\n    return x"),
    )
    chunks = dict(read_source(path).chunks)
    assert chunks["cell 1"].splitlines() == ["", "", "import torch"]
    assert chunks["cell 2"].strip() == ""
    assert all(compiles(text) for text in chunks.values())


@pytest.mark.parametrize(
    "text",
    ["{not json", "", '{"cells": "nope"}', "[1, 2, 3]", '{"nbformat": 4, "cells": [{"x": 1}]}'],
)
def test_corrupt_notebook(tmp_path: Path, text: str) -> None:
    path = tmp_path / "exercise.ipynb"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SubmissionError, match="corrupt notebook") as info:
        read_source(path)
    assert "\n" not in str(info.value)


def test_notebook_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "exercise.ipynb"
    path.write_bytes(b'{"cells": [\xff]}')
    with pytest.raises(SubmissionError, match="not a notebook"):
        read_source(path)


# -- magics -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "stripped"),
    [
        ("%matplotlib inline", ""),
        ("!pip install x", ""),
        ("files = !ls", ""),
        ("a, b = !echo 1 2", ""),
        ("%time f()", ""),
        ("   %time f()", "   pass"),
        ("\t!ls", "\tpass"),
    ],
)
def test_magic_lines(line: str, stripped: str) -> None:
    assert strip_magics(line) == stripped + "\n"


@pytest.mark.parametrize(
    "line",
    ["x %= 3", "y = 5 % 2", "ok = a != b", "print('%d' % 3)", "z = not_magic", "# %comment"],
)
def test_python_that_looks_like_a_magic_is_kept(line: str) -> None:
    assert strip_magics(line) == line + "\n"


def test_indented_magic_inside_a_block_keeps_the_block_valid() -> None:
    source = (
        "def train(f):\n"
        "    %time f()\n"
        "\n"
        "for i in range(3):\n"
        "    !echo $i\n"
        "    if i:\n"
        "        %timeit f()\n"
        "marker = 1\n"
    )
    stripped = strip_magics(source)
    assert compiles(stripped)
    lines = stripped.splitlines()
    # Line numbers survive, so tracebacks still point at the student's lines.
    assert len(lines) == len(source.splitlines())
    assert lines[7] == "marker = 1"
    assert lines[1] == "    pass"
    assert lines[6] == "        pass"


def test_bash_cell_is_dropped_whole() -> None:
    assert strip_magics("%%bash\nfor f in *; do echo $f; done\n").strip() == ""
    assert strip_magics("%%html\n<b>hi</b>").strip() == ""


def test_python_cell_magic_keeps_its_body() -> None:
    stripped = strip_magics("%%time\nx = 1\ny = x + 1\n")
    assert stripped.splitlines() == ["", "x = 1", "y = x + 1"]
    assert compiles(stripped)


def test_percent_operator_on_a_continuation_line_is_python() -> None:
    source = 'message = ("loss %.3f at step %d"\n           % (0.5, 3))\n'
    assert strip_magics(source) == source


# -- finding a student's file -------------------------------------------------------------
def test_find_for_student_follows_the_contract_order(tmp_path: Path) -> None:
    student = tmp_path / "alice"
    order = [
        student / EXERCISE / "exercise.py",
        student / EXERCISE / "exercise.ipynb",
        student / f"{EXERCISE}.py",
        student / f"{EXERCISE}.ipynb",
    ]
    for path in order:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    for path in order:
        assert find_for_student(student, EXERCISE) == path
        path.unlink()
    assert find_for_student(student, EXERCISE) is None


def test_find_for_student_ignores_other_exercises_and_folders(tmp_path: Path) -> None:
    student = tmp_path / "bob"
    (student / "02_vector_grad_mean").mkdir(parents=True)
    (student / "02_vector_grad_mean" / "exercise.py").write_text("x = 1\n")
    (student / f"{EXERCISE}.py").mkdir()  # a folder with a file's name is not a submission
    assert find_for_student(student, EXERCISE) is None
    assert find_for_student(tmp_path / "nobody", EXERCISE) is None


def test_find_in_folder_prefers_the_file_changed_last(tmp_path: Path) -> None:
    import os

    assert find_in_folder(tmp_path) is None
    py = tmp_path / "exercise.py"
    nb = tmp_path / "exercise.ipynb"
    py.write_text("x = 1\n")
    assert find_in_folder(tmp_path) == py
    nb.write_text("{}")
    os.utime(py, ns=(1_000_000_000, 1_000_000_000))
    os.utime(nb, ns=(2_000_000_000, 2_000_000_000))
    assert find_in_folder(tmp_path) == nb
    os.utime(py, ns=(3_000_000_000, 3_000_000_000))
    assert find_in_folder(tmp_path) == py


def test_cells_a_kernel_ran_go_on_after_one_that_raised(tmp_path: Path, capsys) -> None:
    # check() in Jupyter grades the kernel's input history: the kernel ran the cells
    # after one that raised, and whatever that cell defined before raising stayed.
    pytest.importorskip("torch")  # the child's runtime runs the cells
    from grader.child.runner import Runtime
    from grader.submission.source import KERNEL_HISTORY

    cells = [
        new_code_cell("def f(x):\n    return x * 2\n\nf()  # a try-out that raises"),
        new_code_cell("def g(:"),  # a syntax error: this cell never ran
        new_code_cell("def h(x):\n    return f(x) + 1"),
    ]
    history = tmp_path / "history.ipynb"
    history.write_text(
        nbformat.writes(new_notebook(cells=cells, metadata=KERNEL_HISTORY)), encoding="utf-8"
    )
    source = read_source(history)
    assert source.ran_in_kernel
    reply = Runtime().load(Load(source.load_chunks()))
    assert reply == LoadReply(True, ["f", "h"], grad_enabled=True)
    err = capsys.readouterr().err
    assert "cell 1 raised TypeError (the cells after it still ran" in err
    assert "cell 2 raised SyntaxError" in err

    # A saved notebook is a file: it stops at the first error, as "Run All" does.
    saved = write_notebook(tmp_path / "exercise.ipynb", *cells)
    assert not read_source(saved).ran_in_kernel
    with pytest.raises(TypeError):
        Runtime().load(Load(read_source(saved).load_chunks()))
