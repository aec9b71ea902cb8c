"""``submit("03")`` in a real Jupyter kernel, to a real server: the grade ``grade 03`` gives.

The kernel (nbclient + ipykernel, from a kernel spec under tmp_path that runs
this very interpreter) hands its cells in to ``grade serve`` started on a
loopback port; the same cells, as a file, are graded by ``grade 03`` with the
server's seed. Here rather than in tests/e2e: the server's fixtures live in
``serving``, and the two folders' conftests clash in one session.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import COURSE, GRADE, Server, grade

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.skipif(GRADE is None, reason="the grade command is not on PATH")

MISTAKE = COURSE / "solutions" / "03_multi_input_grads" / "mistakes" / "mean_instead_of_sum.py"
KERNEL = "grade-tests-python"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path, jobs=1)
    running.setup(["alice"])
    running.start()
    yield running
    running.stop()


def _in_kernel(folder: Path, cells: list[str]) -> str:
    """Run ``cells`` in a fresh kernel working in ``folder``; return the last cell's output."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=600, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    outputs = notebook.cells[-1].outputs
    assert not any(o.get("output_type") == "error" for o in outputs), outputs
    return "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )


def test_submit_in_a_kernel_gives_the_score_and_hints_of_grade_03(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    # The kernel inherits these: its Jupyter files and the student's login stay in tmp_path.
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    clone = tmp_path / "clone"
    assert grade("release", str(clone)).returncode == 0
    env = dict(os.environ)
    assert grade("login", server.links["alice"], cwd=clone, env=env).returncode == 0

    # The student's notebook: the imports, then one cell per function, then submit.
    source = MISTAKE.read_text(encoding="utf-8")
    cells = [chunk for chunk in re.split(r"\n(?=def )", source) if chunk.strip()]
    served = _in_kernel(clone, [*cells, "from grader.notebook import submit", 'submit("03")'])

    (clone / "exercises" / "03_multi_input_grads" / "exercise.py").write_text(
        "\n".join(cells), encoding="utf-8"
    )
    local = grade("03", "--seed", "1", "--html", str(tmp_path / "r.html"), cwd=clone, env=env)
    assert local.returncode == 1, local.stderr
    assert re.search(r"^total\s+7/10$", served, flags=re.M), served
    assert "you reduced with mean()" in served
    # Every line but the last, which says where the report is.
    assert served.strip().splitlines()[:-1] == local.stdout.strip().splitlines()[:-1]
    assert "report on the server: http://127.0.0.1" in served.strip().splitlines()[-1]
