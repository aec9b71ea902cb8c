"""``grade verify`` reads the course before it grades anything, and names each slip.

Every test breaks one thing in a copy of the course holding exercise 01 alone
(see ``test_verify.py``): a slip that grading shows late or never, such as a
misspelled hint id in a branch no known mistake reaches. The self-test must
exit 1 with one line naming the file and the problem, and grade nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from test_verify import EXERCISE, copy_course, verify

CHECKS = f"checks/{EXERCISE}/test_leaf_tensors.py"
EN = f"templates/locale/en/{EXERCISE}.toml"
ZH = f"templates/locale/zh/{EXERCISE}.toml"


def _edit(course: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` (once) in a file of the course; return the line it starts on."""
    path = course / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (name, old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def _the_one_problem(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nothing was graded" in done.stdout, done.stdout
    lines = done.stderr.splitlines()
    assert lines[0] == "grade verify: 1 problem(s):", done.stderr
    assert len(lines) == 2 and lines[1].startswith("  - "), done.stderr
    return lines[1][4:]


def test_a_hint_only_an_untested_branch_gives_is_found(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    line = _edit(
        course,
        CHECKS,
        '    expect(t.requires_grad, "make_leaf_no_requires_grad")\n',
        '    if t.dtype == "complex128":  # no known mistake gets here\n'
        '        fail("make_leaf_complx")\n'
        '    expect(t.requires_grad, "make_leaf_no_requires_grad")\n',
    )
    assert _the_one_problem(verify(course)) == (
        f"{CHECKS}:{line + 1}: hint 'make_leaf_complx' is in no en or zh catalog "
        f"(add it to the [hints] of {EN}, {ZH})"
    )


def test_a_placeholder_no_check_fills_is_found_in_english(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    _edit(course, EN, "1-D tensor, got shape {shape}.", "1-D tensor, got shape {shape} ({steps}).")
    problem = _the_one_problem(verify(course))
    assert problem.startswith(f"{EN}: hint make_leaf_not_1d uses {{steps}}, which {CHECKS}:")
    assert problem.endswith("never passes")


def test_a_placeholder_no_check_fills_is_found_in_chinese(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    _edit(
        course,
        ZH,
        "一维张量，得到的形状是 {shape}。",
        "一维张量，得到的形状是 {shape}（{steps}）。",
    )
    problem = _the_one_problem(verify(course))
    assert problem.startswith(f"{ZH}: hint make_leaf_not_1d uses {{steps}}")


def test_an_unknown_key_of_a_catalog_is_found(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    _edit(course, ZH, "[hints]\n", '[hints]\nmake_leaf_not_flaot = "拼错的键"\n')
    assert _the_one_problem(verify(course)) == (
        f"{ZH}: hint make_leaf_not_flaot is no hint of the English catalogs"
    )


def test_two_exercises_with_one_number_are_found(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    twin = "01_leaf_twins"
    shutil.copytree(course / "exercises" / EXERCISE, course / "exercises" / twin)
    (course / "checks" / twin).mkdir()
    (course / "checks" / twin / "test_twins.py").write_text(
        "def test_nothing(submission):\n    pass\n", encoding="utf-8"
    )
    (course / "templates" / "locale" / "en" / f"{twin}.toml").write_text("[hints]\n")
    assert _the_one_problem(verify(course)) == (
        f"exercises/{EXERCISE}: exercises {EXERCISE}, {twin} share the number 01 "
        "(grade 01 cannot tell them apart): give each exercise its own number"
    )


def test_an_operation_no_table_defines_is_found(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    line = _edit(
        course,
        CHECKS,
        '    expect(t.requires_grad, "make_leaf_no_requires_grad")\n',
        '    cube = {"op": "cube", "args": [{"var": 0}]}\n'
        '    expect(t.requires_grad and cube, "make_leaf_no_requires_grad")\n',
    )
    assert _the_one_problem(verify(course)) == (
        f"{CHECKS}:{line}: operation 'cube' is neither built in nor defined in "
        f"checks/{EXERCISE}/operations.toml"
    )


def test_an_invalid_toml_file_is_named_with_its_line_and_column(tmp_path: Path) -> None:
    course = copy_course(tmp_path)
    _edit(course, ZH, "[hints]\n", "[hints]\nbroken = \n")
    # The line after [hints], wherever the catalog has it (a title may come first).
    lines = (course / ZH).read_text(encoding="utf-8").splitlines()
    line = lines.index("broken = ") + 1
    problem = _the_one_problem(verify(course))
    assert problem.startswith(f"{ZH}: not valid TOML: ")
    assert problem.endswith(f"(at line {line}, column 10)"), problem


def test_one_exercise_is_verified_alone(tmp_path: Path) -> None:
    course = copy_course(tmp_path, keep="02_vector_grad_mean")
    # Exercise 01 is back, broken: verifying 02 alone neither reads nor grades it.
    repo = Path(__file__).parents[2]
    for kind in ("exercises", "checks", "solutions"):
        shutil.copytree(repo / kind / EXERCISE, course / kind / EXERCISE)
    for lang in ("en", "zh"):
        shutil.copy(
            repo / "templates" / "locale" / lang / f"{EXERCISE}.toml",
            course / ZH.replace("zh", lang),
        )
    _edit(course, CHECKS, '"make_leaf_no_requires_grad")', '"make_leaf_no_such_hint")')
    whole = verify(course)
    assert whole.returncode == 1 and "make_leaf_no_such_hint" in whole.stderr
    done = subprocess.run(
        [*verify_command(), "verify", "02", "--course", str(course), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verifying 1 exercise(s)" in done.stdout and EXERCISE not in done.stdout
    unknown = subprocess.run(
        [*verify_command(), "verify", "42", "--course", str(course)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("grade: error: unknown exercise '42'"), unknown.stderr


def verify_command() -> list[str]:
    found = shutil.which("grade")
    assert found, "the grade command is not on PATH (pip install -e .)"
    return [found]
