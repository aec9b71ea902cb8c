"""The grade command's surface: help for every command, usage errors as one line."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from grader.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_has_help_text() -> None:
    for name, command in cli.commands.items():
        assert command.help, f"`grade {name}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"`grade {name}` option {param.opts[0]} has no help text"


@pytest.mark.parametrize("name", ["exercise", "batch", "verify", "release"])
def test_help_of_each_command_exits_zero(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_a_bare_target_means_the_exercise_command() -> None:
    result = CliRunner().invoke(cli, ["99", "--course", str(ROOT)])
    assert result.exit_code == 2
    assert "unknown exercise '99'" in result.output
    assert "Traceback" not in result.output


def test_a_file_without_exercise_is_a_usage_error(tmp_path: Path) -> None:
    work = tmp_path / "mine.py"
    work.write_text("x = 1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, [str(work), "--course", str(ROOT)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"grade: error: which exercise is {work} for? add --exercise NN"
    ]


def test_outside_a_course_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["01"])
    assert result.exit_code == 2
    assert "no course found" in result.output


def test_a_fault_of_the_grader_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader import cli as cli_module
    from grader.drivers import student

    def broken(*args: object, **kwargs: object) -> None:
        raise SystemError("AST constructor recursion depth mismatch")

    monkeypatch.setattr(student, "grade_student", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["grade", "01", "--course", str(ROOT)])
    with pytest.raises(SystemExit) as exit:
        cli_module.main()
    assert exit.value.code == 2  # never a student's zero
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "the grader itself failed (SystemError: AST constructor" in err
    assert "Traceback" not in err
    (kept,) = tmp_path.glob("grade-crash-*.txt")
    assert "Traceback" in kept.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "option",
    [["--timeout", "0"], ["--timeout", "-1"], ["--memory", "0"], ["--output-limit", "-1"]],
)
@pytest.mark.parametrize("command", [["01"], ["batch", "class", "--out", "out"]])
def test_a_limit_no_submission_could_meet_is_refused(
    tmp_path: Path, command: list[str], option: list[str]
) -> None:
    # Every student would be charged with it (a timeout at 0 s scored a correct answer 0/10).
    result = CliRunner().invoke(cli, [*command, *option, "--course", str(ROOT)])
    assert result.exit_code == 2
    assert f"Invalid value for '{option[0]}'" in result.output
    assert "Traceback" not in result.output


def test_the_exit_status_survives_threads_still_running():
    # After an error, a judging or drawing thread may still be in C code; Python's
    # shutdown around it aborted or crashed now and then (exit 134, 139 instead of 2).
    import subprocess
    import sys

    program = (
        "import threading, time\n"
        "from grader.cli import _exit\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "print('said', flush=False)\n"
        "_exit(2)\n"
    )
    argv = [sys.executable, "-c", program]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stdout == "said\n"
