"""A plot is drawn once per process for the same numbers, and the page does not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader import plots
from grader.locale import Locale

REPO = Path(__file__).resolve().parents[2]
PLOT = plots.plot(
    series={"yours": [[2.0, 4.0], [1.2, 1.44]], "reference": [[2.0, 4.0], [1.2, 1.44]]}
)


def test_the_same_plot_is_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Any] = []
    draw = plots._draw
    monkeypatch.setattr(plots, "_drawn", {})
    monkeypatch.setattr(plots, "_draw", lambda *a: drawn.append(a) or draw(*a))
    english, chinese = Locale(REPO / "templates", "en"), Locale(REPO / "templates", "zh")
    first = plots.figure(PLOT, exercise="06_minimize_square", locale=english)
    assert plots.figure(dict(PLOT), exercise="06_minimize_square", locale=english) == first
    assert len(drawn) == 1
    # Other numbers or another language are drawn anew.
    plots.figure(
        {**PLOT, "series": {"yours": [[3.0, 9.0]]}}, exercise="06_minimize_square", locale=english
    )
    assert plots.figure(PLOT, exercise="06_minimize_square", locale=chinese) != first
    assert len(drawn) == 3
