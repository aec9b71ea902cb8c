"""The results record: points from collected checks, text written once, keys documented."""

from __future__ import annotations

import math
import re
from pathlib import Path

from grader.judge.checks import max_score
from grader.render.locale import Locale
from grader.score.points import results_document, student_result, unjudged_result
from grader.score.results import EXERCISE_KEYS, WRITTEN_EXERCISE_KEYS, Hint, message_of, written

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"

PARAMETRIZED = '''
import pytest

from grader.check import points


@points(2)
@pytest.mark.parametrize("x", [1, 2, 3])
def test_each(submission, x):
    """three checks of 2 points, as pytest collects them"""


def test_plain(submission):
    """one check of 1 point"""
'''


def test_a_parametrized_check_counts_once_per_parameter(tmp_path: Path) -> None:
    checks = tmp_path / "checks" / "09_params"
    checks.mkdir(parents=True)
    (checks / "test_params.py").write_text(PARAMETRIZED)
    assert max_score(checks) == 3 * 2 + 1


def test_the_course_counts_the_points_it_grades() -> None:
    # Every exercise of the course is out of 10, handed in or not.
    for folder in sorted((REPO / "checks").iterdir()):
        assert max_score(folder) == 10.0, folder.name


def test_a_record_holds_hints_and_the_written_document_their_text() -> None:
    missing = unjudged_result("01_leaf_tensors", "Leaf tensors", "missing", _hint("missing"), 10.0)
    unreadable = unjudged_result("02_vector_grad_mean", "Mean", "error", "file too large", 10.0)
    assert "message" not in missing and set(missing) == EXERCISE_KEYS
    document = results_document([student_result("ann", [missing, unreadable])], seed=1)
    en = written(document, Locale(TEMPLATES, "en"))
    zh = written(document, Locale(TEMPLATES, "zh"))
    assert (en["lang"], zh["lang"]) == ("en", "zh")
    first, second = en["students"][0]["exercises"]
    assert set(first) == WRITTEN_EXERCISE_KEYS
    assert first["message"] == "not handed in"
    assert zh["students"][0]["exercises"][0]["message"] == "未提交"
    assert second["message"] == "file too large"
    assert second["error"] == {"kind": "unreadable", "summary": "file too large", "traceback": ""}
    # Written copies leave the record alone.
    assert "message" not in document["students"][0]["exercises"][0]


def test_message_of_keeps_a_stored_message_the_catalogs_do_not_know() -> None:
    locale = Locale(TEMPLATES, "en")
    check = {"hint": {"id": "unknown_hint", "params": {}}, "message": "old words"}
    assert message_of(check, "01_leaf_tensors", locale) == "old words"
    check = {"hint": {"id": "not_implemented", "params": {"function": "f"}}, "message": "x"}
    assert message_of(check, "01_leaf_tensors", locale).startswith("`f` still raises")


def test_every_field_of_the_record_is_documented() -> None:
    doc = (REPO / "docs" / "course-layout.md").read_text(encoding="utf-8")
    shown = doc[doc.index("## results.json") : doc.index("Field by field")]
    for key in WRITTEN_EXERCISE_KEYS:
        assert re.search(rf'"{key}":', shown), f"results.json sample lacks {key}"


def _hint(hint_id: str) -> Hint:
    return {"id": hint_id, "params": {}}


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def test_results_json_is_strict_and_keeps_a_series_on_one_line():
    import json

    from grader.score.points import to_json

    losses = [0.5, 1e-07, -3, None, float("nan"), float("inf"), float("-inf")]
    document = {
        "students": [{"student": 'Zoë "z"\n', "plots": [{"y": losses, "x": list(range(5))}]}],
        "empty": [[], {}],
        "flags": [True, False, None],
        "mixed": [1, "one", [2]],
        "score": float("nan"),
    }
    text = to_json(document)
    assert json.loads(text) == _finite(document)  # NaN and infinities are null
    assert "NaN" not in text and "Infinity" not in text
    assert '"y": [0.5, 1e-07, -3, null, null, null, null],' in text  # one line
    assert '"flags": [\n    true,\n    false,\n    null\n  ],' in text  # as indent=2 writes
    # Nested in a bigger document (a batch writes one student at a time), it lines up.
    outer = to_json({"students": [document]})
    assert outer == '{\n  "students": [\n    ' + to_json(document, depth=2) + "\n  ]\n}"
