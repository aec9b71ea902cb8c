"""Lay out a new exercise or a new course: every file it needs, with placeholders to fill.

``grade new exercise NN_name`` writes the task, the stub, the reference
solution, one example mistake, a checks file (plain asserts, in pytest's
idiom) and the English and Chinese hint catalogs. What only the author can
write is marked ``TODO(grade new)``, and ``grade verify`` refuses the
exercise while one is left (``grader.authoring.lint``).

``grade new course DIR`` starts another course on this grader: course.toml,
the report templates and shared catalogs of the course it is run from, the
CI templates, a README for the instructors and one for the students, and one
complete example exercise that ``grade verify`` passes as it is.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from string import Template

from grader.authoring.lint import PLACEHOLDER
from grader.course.find import Course

__all__ = ["ScaffoldError", "new_exercise", "new_course"]

_NAME = re.compile(r"^(\d{2,})_([a-z][a-z0-9_]*)$")
# The shared catalogs a course needs whatever its exercises: the report's words,
# the hints any exercise gives, and the hints of torch's own errors.
_SHARED_CATALOGS = ("ui.toml", "common.toml", "torch_errors.toml")


class ScaffoldError(Exception):
    """Nothing was written, for this one-line reason."""


def new_exercise(course: Course, name: str) -> list[Path]:
    """Write the files of exercise ``name`` (``NN_topic``) into ``course``; return them."""
    match = _NAME.match(name)
    if not match:
        raise ScaffoldError(
            f"{name!r} is no exercise name: two or more digits, an underscore, then a "
            "lower-case name (09_detach)"
        )
    number, topic = match.groups()
    taken = [e.name for e in course.exercises if int(e.number) == int(number)]
    taken += [
        p.name
        for p in sorted((course.root / "exercises").glob(f"{number}_*"))
        if p.name not in taken
    ]
    if taken:
        raise ScaffoldError(f"number {number} is taken by {', '.join(taken)}: choose another")
    files = _exercise_files(number, topic, name, example=False)
    return _write(course.root, files)


def new_course(dest: Path, source: Course, title: str | None = None) -> list[Path]:
    """Start a course at ``dest`` (absent or empty) from ``source``'s templates; list its files."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ScaffoldError(f"{dest} is not empty: grade new course starts in a new folder")
    templates = source.root / "templates"
    missing = [
        name for name in _SHARED_CATALOGS if not (templates / "locale" / "en" / name).is_file()
    ]
    if missing:
        raise ScaffoldError(f"{templates} lacks locale/en/{missing[0]}: not a course to start from")
    title = title or dest.name.replace("_", " ").replace("-", " ")
    written: list[Path] = []
    dest.mkdir(parents=True, exist_ok=True)
    # The report's pages and the shared catalogs, in every language the source has.
    for path in sorted(templates.glob("*.j2")):
        written.append(_copy(path, dest / "templates" / path.name))
    for folder in sorted((templates / "locale").iterdir()):
        for name in _SHARED_CATALOGS:
            if (folder / name).is_file():
                target = dest / "templates" / "locale" / folder.name / name
                written.append(_copy(folder / name, target))
    ci = source.root / "ci-templates"
    if ci.is_dir():
        for path in sorted(p for p in ci.rglob("*") if p.is_file()):
            written.append(_copy(path, dest / "ci-templates" / path.relative_to(ci)))
    files = {
        "course.toml": "# The course root: grade walks up from the current folder to find it.\n"
        f"title = {_toml_string(title)}\n",
        "README.md": _INSTRUCTOR_README.replace("$title", title),
        "templates/student-README.md": _STUDENT_README,
        ".gitignore": "reports/\n__pycache__/\n",
        **_exercise_files("01", "square_grad", "01_square_grad", example=True),
    }
    return written + _write(dest, files)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return target


def _write(root: Path, files: dict[str, str]) -> list[Path]:
    paths = [root / name for name in files]
    clash = [p for p in paths if p.exists()]
    if clash:
        raise ScaffoldError(f"{clash[0]} exists already: nothing was written")
    for path, text in zip(paths, files.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return paths


def _exercise_files(number: str, topic: str, name: str, *, example: bool) -> dict[str, str]:
    """Every file of one exercise: the worked example, or a skeleton with placeholders."""
    fills = {"number": number, "topic": topic, "name": name, "todo": PLACEHOLDER}
    return {
        Template(path).substitute(fills): Template(text).substitute(fills)
        for path, text in (_EXAMPLE if example else _SKELETON).items()
    }


_SKELETON = {
    "exercises/$name/README.md": """\
# $todo: the exercise's title

$todo: the task, as students read it: what `$topic(values)` takes and returns,
with a worked example.

Check your work with `grade $number` in a terminal, or `check("$number")` in a notebook.
""",
    "exercises/$name/exercise.py": '''\
"""Exercise $number: $todo one line on the topic.

Read README.md first, then check your work with `grade $number`.
"""

import torch


def $topic(values) -> torch.Tensor:
    """$todo: what the function returns, as the task says."""
    raise NotImplementedError
''',
    "solutions/$name/solution.py": '''\
"""Reference solution of exercise $number (never shipped to students)."""

import torch


def $topic(values) -> torch.Tensor:
    # $todo: the reference solution, computed with autograd.
    raise NotImplementedError
''',
    "solutions/$name/mistakes/example_mistake.py": """\
# mistake: $todo one sentence on the beginner mistake this file makes
# caught-by: test_${topic}_values
import torch


def $topic(values):
    # $todo: the reference solution with exactly one real mistake, marked like this:
    raise NotImplementedError  # MISTAKE
""",
    "checks/$name/test_$topic.py": '''\
"""Hidden checks of exercise $name."""

import pytest

from grader.check import hint, points, preview, random_values


def reference(values):
    """$todo: the right answer, computed here in plain Python."""
    raise NotImplementedError


@points(1)
def test_${topic}_values(submission, rng):
    """$todo: what this check asks, as the report's title"""
    values = random_values(rng, 4)
    got = submission.call("$topic", values).tensor()
    want = reference(values)
    assert got.data == pytest.approx(want, rel=2e-4, abs=1e-5), hint(
        "${topic}_wrong", got=preview(got.data), want=preview(want)
    )
''',
    "templates/locale/en/$name.toml": """\
[hints]
${topic}_wrong = "$todo: say what went wrong and how to fix it (got {got}, expected {want})."
""",
    "templates/locale/zh/$name.toml": """\
[hints]
${topic}_wrong = "$todo: 用中文说明错在哪里、如何改正（得到 {got}，期望 {want}）。"
""",
}

# A complete exercise: grade verify passes it as written, so a new course is green at once.
_EXAMPLE = {
    "exercises/$name/README.md": """\
# The gradient of a sum of squares

Write `$topic(values)`: the gradient of `(x ** 2).sum()` with respect to `x`,
where `x` is a float tensor holding `values`. Let autograd compute it: build
`x` with `requires_grad=True`, call `backward()` on the sum, and return
`x.grad`. For `[1.0, 2.0, 3.0]` the answer is `tensor([2., 4., 6.])`.

Check your work with `grade $number` in a terminal, or `check("$number")` in a notebook.
""",
    "exercises/$name/exercise.py": '''\
"""Exercise $number: the gradient of a sum of squares.

Read README.md first, then check your work with `grade $number`.
"""

import torch


def $topic(values) -> torch.Tensor:
    """Return the gradient of ``(x ** 2).sum()`` at ``x = values``."""
    raise NotImplementedError
''',
    "solutions/$name/solution.py": '''\
"""Reference solution of exercise $number (never shipped to students)."""

import torch


def $topic(values) -> torch.Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**2).sum().backward()
    return x.grad
''',
    "solutions/$name/mistakes/formula.py": """\
# mistake: writes down the derivative 2 * x by hand instead of asking autograd
# caught-by: test_uses_autograd
import torch


def $topic(values):
    return 2 * torch.tensor(values, dtype=torch.float32)  # MISTAKE
""",
    "solutions/$name/mistakes/mean_not_sum.py": """\
# mistake: reduces with mean() instead of sum(), dividing the gradient by n
# caught-by: test_${topic}_values
# hint: shape_mean_not_sum
import torch


def $topic(values):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**2).mean().backward()  # MISTAKE
    return x.grad
""",
    "solutions/$name/mistakes/no_backward.py": """\
# mistake: reads x.grad without calling backward(), so it is still None
# caught-by: test_${topic}_values
import torch


def $topic(values):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**2).sum()  # MISTAKE: no backward()
    return x.grad
""",
    "solutions/$name/mistakes/summed_grad.py": """\
# mistake: returns the sum of the gradient instead of the gradient itself
# caught-by: test_${topic}_shape
import torch


def $topic(values):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    (x**2).sum().backward()
    return x.grad.sum()  # MISTAKE
""",
    "checks/$name/test_$topic.py": '''\
"""Hidden checks of exercise $name: plain asserts, as in pytest."""

from grader.check import expect_close, hint, points, random_values


@points(2)
def test_${topic}_values(submission, rng):
    """$topic(values) is 2 * x"""
    values = random_values(rng, 4)
    got = submission.call("$topic", values).tensor()
    # Names the mistake when it has a known shape (mean for sum, ...).
    expect_close(got, [2 * v for v in values], "${topic}_wrong", sum_of=len(values))


@points(1)
def test_${topic}_shape(submission, rng):
    """the gradient has the shape of its input"""
    values = random_values(rng, 3)
    got = submission.call("$topic", values).tensor()
    assert got.shape == [len(values)], hint("${topic}_shape", shape=got.shape, n=len(values))


@points(1)
def test_uses_autograd(submission, rng):
    """the gradient comes from a backward pass of autograd"""
    result = submission.call("$topic", random_values(rng, 3))
    result.returned()
    assert result.backward_passes > 0, hint("uses_autograd", function="$topic")
''',
    "templates/locale/en/$name.toml": """\
[hints]
${topic}_wrong = "$topic should return {want}, got {got}: call backward() on the sum."
${topic}_shape = "$topic should return a gradient of shape [{n}], got {shape}."
""",
    "templates/locale/zh/$name.toml": """\
[hints]
${topic}_wrong = "$topic 应当返回 {want}，实际得到 {got}：请对求和结果调用 backward()。"
${topic}_shape = "$topic 返回的梯度形状应为 [{n}]，实际是 {shape}。"

[titles]
test_${topic}_values = "$topic(values) 等于 2 * x"
test_${topic}_shape = "梯度与输入形状相同"
test_uses_autograd = "梯度来自 autograd 的反向传播"
""",
}

_INSTRUCTOR_README = """\
# $title

A course graded by autograd-grader. Each exercise has a task and a stub for
the student (`exercises/NN_name/`), a reference solution and known beginner
mistakes (`solutions/`, never shipped), hidden checks (`checks/`) and its
hints in English and Chinese (`templates/locale/`).

```sh
grade new exercise 02_topic   # lay out the next exercise, placeholders marked TODO(grade new)
grade verify 02               # read it, then grade its solution, stub and mistakes
grade verify                  # the whole course, for its CI
grade 01                      # grade exercise 01 as a student would
grade release DEST            # the student copy, without solutions/
```

`grade verify` refuses an exercise while a `TODO(grade new)` is left, a
check gives a hint no catalog has, or a hint has a blank the check never
fills. The CI templates in `ci-templates/` run `grade` for students
(GitHub Actions, Gradescope).
"""

_STUDENT_README = """\
# $title

Each exercise is a folder in `exercises/`: read its `README.md`, fill in its
`exercise.py` (or work in an `exercise.ipynb` notebook next to it), and let
the grader tell you what works and, when something does not, why.

$exercises

## Grade your work

```sh
grade 01
grade
```

- `grade 01` grades exercise 01 and lists every check, with a hint for each
  one that fails; `grade` grades every exercise. `--lang zh` gives the
  hints in Chinese, `--watch` grades again on every save.
- In a notebook: `from grader.notebook import check`, then `check("01")`.

Each run writes an HTML report to `reports/`. The exit status is 0 at full
marks, 1 otherwise.
"""
