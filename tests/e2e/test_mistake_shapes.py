"""The mistakes the shape recognisers catch are named by their shape, and every
correct autograd style (torch.func, torch.autograd.functional) gets full marks."""

from __future__ import annotations

import pytest
from test_grades_unchanged import REPO, record

from grader.authoring.verify import read_header

ALTERNATIVES = sorted(
    str(p.relative_to(REPO)) for p in (REPO / "solutions").glob("*/alternatives/*.py")
)

# Each new mistake, the check that catches it, and the hint naming its shape.
SHAPED = {
    "solutions/02_vector_grad_mean/mistakes/tutorial_point_hardcoded.py": (
        "test_scalar_square_grad_values",
        "shape_example_answer",
    ),
    "solutions/02_vector_grad_mean/mistakes/cached_leaf.py": (
        "test_mean_square_grad_values",
        "leaked_state",
    ),
    "solutions/03_multi_input_grads/mistakes/backward_per_input.py": (
        "test_scalar_pair_grads_values",
        "shape_multiple",
    ),
    "solutions/03_multi_input_grads/mistakes/mutable_default_leaves.py": (
        "test_scalar_pair_grads_values",
        "leaked_state",
    ),
    "solutions/05_grad_accumulation/mistakes/module_level_x.py": (
        "test_accumulated_grad_values",
        "leaked_state",
    ),
    "solutions/06_minimize_square/mistakes/gradient_ascent.py": (
        "test_gradient_descent_any_function",
        "shape_opposite_sign",
    ),
    "solutions/06_minimize_square/mistakes/extra_epoch.py": (
        "test_minimize_square_history",
        "shape_extra_step",
    ),
    "solutions/06_minimize_square/mistakes/off_by_one_epochs.py": (
        "test_minimize_square_history",
        "shape_missing_step",
    ),
    "solutions/07_fit_line/mistakes/intercept_first.py": (
        "test_fit_line_tutorial_data",
        "shape_swapped",
    ),
    "solutions/07_fit_line/mistakes/module_level_params.py": (
        "test_fit_line_tutorial_data",
        "leaked_state",
    ),
    "solutions/07_fit_line/mistakes/off_by_one_epochs.py": (
        "test_fit_line_losses",
        "shape_missing_step",
    ),
}


@pytest.fixture(scope="module")
def grades() -> dict:
    return record([*SHAPED, *ALTERNATIVES], extra="alternatives")


@pytest.mark.parametrize("path", sorted(SHAPED))
def test_mistake_is_named_by_its_shape(grades: dict, path: str) -> None:
    check, hint = SHAPED[path]
    assert read_header(REPO / path).hint == hint  # grade verify keeps it so
    assert grades[path]["status"] == "graded"
    assert grades[path]["checks"][check] == {"passed": False, "score": 0.0, "hint": hint}


def test_functional_autograd_styles_get_full_marks(grades: dict) -> None:
    # 02, 03, 05, 06, 07: every exercise in which the student computes a gradient.
    assert len(ALTERNATIVES) >= 5
    for path in ALTERNATIVES:
        result = grades[path]
        failed = [c for c, v in result["checks"].items() if not v["passed"]]
        assert result["status"] == "graded" and not failed, (path, failed)
