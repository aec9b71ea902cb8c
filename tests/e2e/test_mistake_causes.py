"""The mistakes whose cause the run's evidence shows are named by that cause.

Each known mistake below is graded by the real checks through the sandboxed
executor; its header's hint is the cause's, so ``grade verify`` keeps it so.
"""

from __future__ import annotations

import pytest
from test_grades_unchanged import REPO, record

from grader.authoring.verify import read_header

# Each mistake, the check that catches it, and the hint naming its cause.
CAUSED = {
    "solutions/02_vector_grad_mean/mistakes/bfloat16_leaf.py": (
        "test_mean_grad_values",
        "cause_low_precision",
    ),
    "solutions/02_vector_grad_mean/mistakes/zeroes_grad_after_reading.py": (
        "test_mean_square_grad_values",
        "cause_zeroed_after_reading",
    ),
    "solutions/04_no_grad/mistakes/inference_mode_not_no_grad.py": (
        "test_square_no_grad_result",
        "cause_inference_mode",
    ),
    "solutions/04_no_grad/mistakes/squares_detached_copy_in_place.py": (
        "test_square_no_grad_result",
        "cause_changed_argument_shared",
    ),
    "solutions/04_no_grad/mistakes/scales_grad_in_place.py": (
        "test_sgd_step_keeps_grad",
        "cause_changed_argument_grad",
    ),
    "solutions/04_no_grad/mistakes/grad_mode_object_at_import.py": (
        "test_call_without_grad_restores_previous_mode",
        "cause_grad_mode_at_import",
    ),
    "solutions/04_no_grad/mistakes/squares_input_in_place.py": (
        "test_square_decorated_result",
        "cause_changed_argument",
    ),
    "solutions/06_minimize_square/mistakes/history_keeps_detached_x.py": (
        "test_minimize_square_history",
        "cause_shared_storage",
    ),
    "solutions/06_minimize_square/mistakes/half_precision_x.py": (
        "test_minimize_square_final",
        "cause_low_precision_graph",
    ),
    "solutions/07_fit_line/mistakes/column_against_vector.py": (
        "test_fit_line_tutorial_data",
        "cause_broadcast",
    ),
    "solutions/07_fit_line/mistakes/integer_data.py": (
        "test_fit_line_random_data",
        "cause_integer_cast",
    ),
    "solutions/07_fit_line/mistakes/bfloat16_parameters.py": (
        "test_fit_line_tutorial_data",
        "cause_low_precision_graph",
    ),
}


@pytest.fixture(scope="module")
def grades() -> dict:
    return record(sorted(CAUSED))


@pytest.mark.parametrize("path", sorted(CAUSED))
def test_mistake_is_named_by_its_cause(grades: dict, path: str) -> None:
    check, hint = CAUSED[path]
    assert read_header(REPO / path).hint == hint  # grade verify keeps it so
    assert grades[path]["status"] == "graded"
    assert grades[path]["checks"][check] == {"passed": False, "score": 0.0, "hint": hint}
