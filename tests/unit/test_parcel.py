"""A Parcel carries a student's files as bytes; grading it needs no access to the folder."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest

from grader.engine.parcel import digest_of, pack
from grader.submission.source import MAX_BYTES, SourceFile, SubmissionError, read_source


def test_pack_reads_each_exercise_file_as_bytes(tmp_path: Path) -> None:
    student = tmp_path / "ada"
    (student / "02_vector_grad_mean").mkdir(parents=True)
    (student / "01_leaf_tensors.py").write_text("x = 1\n")
    (student / "02_vector_grad_mean" / "exercise.py").write_text("y = 2\n")
    parcel = pack("ada", student, ["01_leaf_tensors", "02_vector_grad_mean", "03_multi"])
    files = dict(parcel.files)
    flat, folder = files["01_leaf_tensors"], files["02_vector_grad_mean"]
    assert flat is not None and flat.raw == b"x = 1\n"
    assert folder is not None and folder.name == "exercise.py"
    assert files["03_multi"] is None
    # What travels to a worker is plain data: it survives pickling, the folder may go.
    copy = pickle.loads(pickle.dumps(parcel))
    (student / "01_leaf_tensors.py").unlink()
    assert dict(copy.files)["01_leaf_tensors"].source().chunks[0][1] == "x = 1\n"


def test_bytes_and_file_give_the_same_source_and_messages(tmp_path: Path) -> None:
    good = tmp_path / "ok.py"
    good.write_text("x = 1\n")
    assert SourceFile.read(good).source() == read_source(good)
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"x = '\xff'\n")
    with pytest.raises(SubmissionError) as from_file:
        read_source(bad)
    with pytest.raises(SubmissionError) as from_bytes:
        SourceFile(str(bad), bad.read_bytes()).source()
    assert str(from_file.value) == str(from_bytes.value)


def test_unreadable_and_oversized_files_become_errors_not_crashes(tmp_path: Path) -> None:
    gone = SourceFile.read(tmp_path / "gone.py")
    assert gone.raw is None and gone.digest == "unreadable"
    with pytest.raises(SubmissionError, match="no such file"):
        gone.source()
    # A worker checks the size again: a forged parcel is not trusted to be small.
    with pytest.raises(SubmissionError, match="larger than"):
        SourceFile("big.py", b"#" * (MAX_BYTES + 1)).source()


def test_digest_names_the_bytes_and_the_file() -> None:
    one = SourceFile("a/exercise.py", b"x = 1\n")
    assert digest_of(one).endswith(":exercise.py")
    assert digest_of(one) != digest_of(SourceFile("a/exercise.py", b"x = 2\n"))
    assert digest_of(None) == "missing"


def test_cluster_without_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.drivers.cluster import ClusterError, _import_distributed

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ClusterError, match=r"autograd-grader\[cluster\]"):
        _import_distributed()
