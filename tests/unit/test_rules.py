"""A course's rules from course.toml: defaults, a table per exercise, one line per mistake."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from grader.authoring.lint import lint
from grader.course.find import Course
from grader.course.rules import (
    ExerciseRules,
    RulesError,
    days_late,
    load_rules,
    rules_from_toml,
    rules_problems,
)


def _course(tmp_path: Path, rules: str) -> Course:
    (tmp_path / "course.toml").write_text(f'title = "t"\n{rules}', encoding="utf-8")
    for name in ("01_leaf", "02_mean"):
        (tmp_path / "exercises" / name).mkdir(parents=True)
        (tmp_path / "checks" / name).mkdir(parents=True)
    return Course.load(tmp_path)


def test_a_course_without_rules_has_no_deadline_no_limit_and_shows_everything(
    tmp_path: Path,
) -> None:
    rules = load_rules(_course(tmp_path, ""))
    assert rules.of("01_leaf") == ExerciseRules()
    assert rules.of("01_leaf").shown_at(datetime(2030, 1, 1)) == "full"


def test_defaults_apply_to_every_exercise_and_a_table_overrides_them(tmp_path: Path) -> None:
    course = _course(
        tmp_path,
        """
[rules]
timezone = "Europe/Berlin"
late = "penalty"
penalty = 0.1
attempts = 10
cooloff_minutes = 5

[rules.02]
opens = 2026-11-01T09:00:00
deadline = "2026-11-08T23:59"
penalty_per = "hour"
""",
    )
    rules = load_rules(course)
    first, second = rules.of("01_leaf"), rules.of("02_mean")
    assert first.attempts == 10 and first.deadline is None and first.penalty == 0.1
    assert second.attempts == 10 and second.penalty_per == "hour"
    # Berlin is UTC+1 in November: kept as naive UTC, shown back in the course's zone.
    assert second.opens == datetime(2026, 11, 1, 8, 0)
    assert second.deadline == datetime(2026, 11, 8, 22, 59)
    assert second.local(second.deadline) == "2026-11-08 23:59 Europe/Berlin"


def test_a_penalty_counts_every_period_started_up_to_the_cap() -> None:
    deadline = datetime(2026, 11, 8, 12, 0)
    rules = ExerciseRules(late="penalty", penalty=0.2, penalty_cap=0.5, deadline=deadline)
    assert rules.late_share(datetime(2026, 11, 8, 12, 0), deadline) == 0.0
    assert rules.late_share(datetime(2026, 11, 8, 12, 1), deadline) == pytest.approx(0.2)
    assert rules.late_share(datetime(2026, 11, 10, 11, 0), deadline) == pytest.approx(0.4)
    assert rules.late_share(datetime(2026, 11, 20, 11, 0), deadline) == pytest.approx(0.5)
    assert days_late(datetime(2026, 11, 9, 12, 1), deadline) == 2


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (
            "[rules.01]\nopens = 2026-11-08T00:00:00\ndeadline = 2026-11-01T00:00:00\n",
            "rules.01.deadline",
        ),
        ("[rules.09]\nattempts = 3\n", "rules.09"),
        ('[rules]\nlate = "penalty"\npenalty = -0.1\n', "rules.penalty"),
        ('[rules]\ntimezone = "Mars/Olympus"\n', "rules.timezone"),
        ('[rules.02]\nlate = "sometimes"\n', "rules.02.late"),
        ("[rules]\nattemps = 3\n", "rules.attemps"),
        ('[rules]\nlate = "late-days"\n', "rules.late_days"),
        ('[rules.01]\ndeadline = "next friday"\n', "rules.01.deadline"),
    ],
)
def test_each_mistake_is_one_line_naming_its_field(tmp_path: Path, rules: str, field: str) -> None:
    course = _course(tmp_path, rules)
    problems = rules_problems(course)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"course.toml: {field}: "), problems
    assert problems[0] in lint(course)
    with pytest.raises(RulesError) as raised:
        load_rules(course)
    assert str(raised.value) == problems[0]


def test_the_documented_example_reads_clean_for_the_real_course() -> None:
    import re

    repo = Path(__file__).resolve().parents[2]
    page = (repo / "docs" / "course-rules.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", page, re.S)
    assert example is not None
    rules = rules_from_toml(Course.load(repo), example.group(1))
    three = rules.of("03_multi_input_grads")
    assert three.late == "late-days" and three.attempts == 10 and rules.late_days == 5
    assert rules.of("07_fit_line").deadline == datetime(2026, 12, 14, 22, 59)
    assert rules.of("01_leaf_tensors").local(datetime(2026, 11, 2, 8, 0)) == (
        "2026-11-02 09:00 Europe/Berlin"
    )
