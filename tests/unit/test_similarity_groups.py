"""Near-copies in a small class: groups of copiers, the class's idiom, whole copies."""

from __future__ import annotations

import itertools
import re
import textwrap
from pathlib import Path

import report_samples
from test_similarity import DISGUISED, ORIGINAL

from grader.render.locale import Locale
from grader.render.report import render_class_overview
from grader.review.similarity import WHOLE, groups, near_copies

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

REFERENCE = (
    Path(__file__).resolve().parents[2] / "solutions" / "06_minimize_square" / "solution.py"
).read_text(encoding="utf-8")
# A third copy of ORIGINAL: other names, a comment, another step size.
RENAMED = textwrap.dedent(
    """
    import torch

    def walk(fn, begin, eta, count):
        # my own descent
        w = torch.tensor([float(begin)], requires_grad=True)
        out = []
        for k in range(count):
            loss = fn(w).sum()
            out.append((float(w.detach()[0]), float(loss.detach())))
            loss.backward()
            with torch.no_grad():
                w.sub_(eta * w.grad)
            w.grad.zero_()
        return out

    def square(start):
        return walk(lambda q: q * q, start, 0.05, 30)
    """
)


def _own_code(student: int) -> str:
    """Return a few lines no other student writes: operator chains unique to ``student``."""
    operators = list(itertools.product("+-*/", repeat=3))[student * 5 : student * 5 + 5]
    lines = [f"    v{i} = a {o[0]} b {o[1]} c {o[2]} d" for i, o in enumerate(operators)]
    return "\n\ndef extra(a, b, c, d):\n" + "\n".join(lines) + "\n    return v0\n"


def _honest(count: int) -> dict[str, dict[str, str]]:
    """Students who wrote the reference solution's idiom, each with a little code of their own."""
    return {f"honest_{i}": {"06": REFERENCE + _own_code(i)} for i in range(count)}


def test_three_renamed_copies_in_a_class_of_8_are_one_group() -> None:
    copies = {"copy_a": ORIGINAL, "copy_b": DISGUISED, "copy_c": RENAMED}
    class_ = {**_honest(5), **{name: {"06": text} for name, text in copies.items()}}
    pairs = near_copies(class_, {})
    # A tenth of the class (at least 2) was the idiom limit: the three shared passages
    # counted as common, and nobody was listed.
    assert {(p.student_a, p.student_b) for p in pairs} == set(itertools.combinations(copies, 2))
    assert all(p.similarity >= 0.9 for p in pairs), pairs
    (group,) = groups(pairs)
    assert group.exercise == "06"
    assert group.students == ("copy_a", "copy_b", "copy_c")
    assert sorted(group.pairs) == [0, 1, 2]


def test_a_class_that_only_shares_the_reference_idiom_flags_nobody() -> None:
    class_ = _honest(8)
    assert near_copies(class_, {}) == []
    assert groups(near_copies(class_, {})) == []


def test_a_whole_copy_reads_as_a_whole_copy() -> None:
    # Two students hand in the same file, half of it the class's idiom: the rare half
    # lists the pair, and the figure says how much of the file is the same.
    idiom = REFERENCE.split("def gradient_descent")[0]  # minimize_square, as the class wrote it
    copied = idiom + ORIGINAL + _own_code(12)
    class_ = {**_honest(6), "copier_a": {"06": copied}, "copier_b": {"06": copied}}
    (pair,) = near_copies(class_, {})
    assert (pair.student_a, pair.student_b) == ("copier_a", "copier_b")
    assert pair.similarity == 1.0  # it read 0.46: the idiom counted against it


def test_a_pair_is_not_a_group_and_one_exercise_is_not_compared_twice() -> None:
    class_ = {**_honest(4), "ann": {"06": ORIGINAL}, "bo": {"06": DISGUISED}}
    pairs = near_copies(class_, {})
    # With one exercise, the whole submission is that exercise: no second, equal pair.
    assert [p.exercise for p in pairs] == ["06"]
    assert WHOLE not in {p.exercise for p in pairs}
    assert groups(pairs) == []


def test_the_overview_shows_a_group_as_one_row() -> None:
    results = report_samples.class_results()
    pages = [f"similarity/pair-000{i}.html" for i in (1, 2, 3)]
    results["similarity"] = {
        "method": "winnowing (k=10, window=5)",
        "threshold": 0.4,
        "pairs": [
            {
                "exercise": "06_minimize_square",
                "student_a": a,
                "student_b": b,
                "similarity": 0.95,
                "shared": 30,
                "page": page,
            }
            for (a, b), page in zip(
                itertools.combinations(["ann", "bo", "cy"], 2), pages, strict=True
            )
        ],
        "groups": [
            {
                "exercise": "06_minimize_square",
                "students": ["ann", "bo", "cy"],
                "similarity": 0.95,
                "pages": pages,
            }
        ],
    }
    page = render_class_overview(
        results,
        locale=Locale(TEMPLATES, "en"),
        templates=TEMPLATES,
        title="Autograd course",
        report_href=lambda name: f"{name}/report.html",
    )
    (row,) = re.findall(r'<ul class="copy-groups">(.*?)</ul>', page, re.S)
    assert "3 students, each linked to another at 95% or more" in row
    assert all(f'href="{name}/report.html"' in row for name in ("ann", "bo", "cy"))
    assert all(f'href="{p}"' in row for p in pages)
