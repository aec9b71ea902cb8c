"""Hand-written results for the report tests: full marks, partly wrong, crashed.

Shared by the unit tests and the browser tests. The hostile strings stand for
what a student's code can put into the results: its output, an exception
message, its folder name.
"""

from __future__ import annotations

import copy
from typing import Any

from grader.render.plots import plot, side_by_side

HOSTILE = "<script>alert(1)</script>"
SEED = 12345

_DESCENT_STUDENT = [[3.0 * 0.8**k, (3.0 * 0.8**k) ** 2] for k in range(12)]
_DESCENT_REFERENCE = [[3.0 * 0.8**k, (3.0 * 0.8**k) ** 2] for k in range(10)]


def _check(name: str, title: str, passed: bool, points: float, message: str = "") -> dict:
    return {
        "name": name,
        "title": title,
        "passed": passed,
        "score": points if passed else 0.0,
        "max_score": points,
        "message": "" if passed else message,
        "hint": None if passed else {"id": "not_in_any_catalog", "params": {}},
    }


def _exercise(name: str, title: str, checks: list[dict], **fields: Any) -> dict:
    exercise = {
        "exercise": name,
        "title": title,
        "status": "graded",
        "score": sum(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        "message": "",
        "source": f"{name}/exercise.py",
        "digest": "0" * 64,
        "duration": 1.2,
        "output": "",
        "output_dropped": 0,
        "error": None,
        "checks": checks,
        "plots": [],
    }
    exercise.update(fields)
    return exercise


def _minimize(passed: bool) -> dict:
    return _exercise(
        "06_minimize_square",
        "Minimise x² by gradient descent",
        [
            _check("test_history_length", "history has one point per epoch", True, 2.0),
            _check(
                "test_update_direction",
                "each step moves x towards 0",
                passed,
                3.0,
                "x moved away from the minimum: subtract lr * grad, do not add it",
            ),
        ],
        output="epoch 0: x=3.0\nepoch 1: x=2.4\n",
        plots=[
            plot(
                title="descent_title",
                x_label="x",
                y_label="y",
                series={
                    "y = x²": {"points": [[x / 10, x * x / 100] for x in range(-33, 34)]},
                    "yours": _DESCENT_STUDENT,
                    "reference": _DESCENT_REFERENCE,
                },
            )
        ],
    )


def _fit(passed: bool) -> dict:
    losses = [40.0 * 0.9**k for k in range(60)]
    return _exercise(
        "07_fit_line",
        "Fit y = a*x + b",
        [
            _check(
                "test_fit_recovers_line",
                "fit_line finds a ≈ 2, b ≈ 1",
                passed,
                5.0,
                "the loss does not go down: did you clear the gradients each epoch?",
            ),
        ],
        plots=[
            _fit_plot(
                (2.0, 1.0, losses) if passed else (1.6, 1.4, [40.0 * 0.97**k for k in range(60)]),
                (2.0, 1.0, losses),
            )
        ],
    )


def _fit_plot(yours: tuple, reference: tuple) -> dict:
    xs, ys = [1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 5.0, 7.0, 9.0, 11.0]
    fits = {"yours": yours, "reference": reference}
    return side_by_side(
        plot(
            title="loss_title",
            x_label="epoch",
            y_label="loss",
            log_y=True,
            series={k: fit[2] for k, fit in fits.items()},
        ),
        plot(
            title="fit_title",
            x_label="x",
            y_label="y",
            series={
                "data": [[x, y] for x, y in zip(xs, ys, strict=True)],
                **{
                    k: {
                        "points": [[1.0, a + b], [5.0, 5 * a + b]],
                        "markers": False,
                        "label": f"y = {a:.3g}·x + {b:.3g}",
                    }
                    for k, (a, b, _) in fits.items()
                },
            },
        ),
    )


def full_marks() -> dict:
    """Return a student who passed every check."""
    exercises = [_minimize(True), _fit(True)]
    return _student("alice", exercises)


def partly_wrong() -> dict:
    """Return a student with a failed check, hostile output and a long output cut."""
    minimize = _minimize(False)
    minimize["output"] = f"debug {HOSTILE}\n" + "x" * 200
    minimize["output_dropped"] = 4096
    minimize["checks"][1]["message"] = f"hint with {HOSTILE}"
    return _student(HOSTILE, [minimize, _fit(False)])


def crashed() -> dict:
    """Return a student whose submission crashed, one missing and one timed out."""
    error = _exercise(
        "06_minimize_square",
        "Minimise x² by gradient descent",
        [],
        status="error",
        message="your file could not be loaded",
        score=0.0,
        max_score=5.0,
        output="starting\n",
        error={
            "kind": "NameError",
            "summary": f"name 'toch' is not defined {HOSTILE}",
            "traceback": (
                f'  File "exercise.py", line 3, in <module>\n    x = toch.ones(3)  # {HOSTILE}\n'
            ),
        },
    )
    missing = _exercise(
        "07_fit_line",
        "Fit y = a*x + b",
        [],
        status="missing",
        message="nothing handed in",
        score=0.0,
        max_score=5.0,
    )
    timeout = _exercise(
        "05_grad_accumulation",
        "Gradient accumulation",
        [],
        status="timeout",
        message="stopped after 30 s",
        score=0.0,
        max_score=4.0,
    )
    return _student("carol", [timeout, error, missing])


def _student(name: str, exercises: list[dict]) -> dict:
    return {
        "student": name,
        "score": sum(e["score"] for e in exercises),
        "max_score": sum(e["max_score"] for e in exercises),
        "exercises": exercises,
    }


def class_results() -> dict:
    """Return the results of a class of the three students above."""
    return {
        "format": 1,
        "grader": "autograd-grader 0.1.0",
        "seed": SEED,
        "lang": "en",
        "students": [copy.deepcopy(s) for s in (full_marks(), partly_wrong(), crashed())],
    }


def reviewed_class_results() -> dict:
    """Return the class above with the review ``grade batch`` adds: mistakes and near-copies."""
    results = class_results()
    many = [f"student{i:02d}" for i in range(15)]
    results["mistakes"] = [
        {
            "exercise": "06_minimize_square",
            "hint": "descent_not_zeroed",
            "text": f"clear the gradient each epoch {HOSTILE}",
            "students": len(many) + 1,
            "share": 0.5,
            "names": [HOSTILE, *many],
        },
        {
            "exercise": "07_fit_line",
            "hint": "fit_wrong",
            "text": "the fitted line is off",
            "students": 1,
            "share": 0.05,
            "names": ["carol"],
        },
    ]
    results["similarity"] = {
        "method": "winnowing (k=10, window=5)",
        "threshold": 0.6,
        "pairs": [
            {
                "exercise": "06_minimize_square",
                "student_a": HOSTILE,
                "student_b": "carol",
                "similarity": 0.93,
                "shared": 30,
                "page": "similarity/pair-0001.html",
            },
            {
                "exercise": "all",
                "student_a": HOSTILE,
                "student_b": "carol",
                "similarity": 0.81,
                "shared": 41,
                "page": "similarity/pair-0002.html",
            },
        ],
    }
    return results


# Two submissions for the side-by-side page: lines 2-3 are shared.
PAIR_TEXTS = {
    "06_minimize_square": (
        f"import torch\nx = torch.ones(3)\ny = x * 2  # {HOSTILE}\n",
        "import torch\nx = torch.ones(3)\ny = x * 2\nprint(y)\n",
    )
}
PAIR_SPANS = {"06_minimize_square": ([(2, 3)], [(2, 3)])}
