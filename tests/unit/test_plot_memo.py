"""A plot is drawn once per process for the same numbers, and the page does not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.render import plots
from grader.render.locale import Locale

REPO = Path(__file__).resolve().parents[2]
PLOT = plots.plot(
    series={"yours": [[2.0, 4.0], [1.2, 1.44]], "reference": [[2.0, 4.0], [1.2, 1.44]]}
)


def test_the_same_plot_is_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Any] = []
    draw = plots._draw
    monkeypatch.setattr(plots, "_drawn", {})

    def counted(*args: Any) -> Any:
        drawn.append(args)
        return draw(*args)

    monkeypatch.setattr(plots, "_draw", counted)
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


def test_a_plot_drawn_ahead_is_the_one_the_report_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(plots, "_drawn", {})
    english = Locale(REPO / "templates", "en")
    other = {**PLOT, "series": {"yours": [[5.0, 25.0]]}}
    # A record that cannot be drawn leaves the drawing thread serving the next ones.
    plots.draw_ahead(
        [{"kind": "line", "series": "not a series"}, other], exercise="06", locale=english
    )
    deadline = time.monotonic() + 60
    while len(plots._drawn) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    ahead = dict(plots._drawn)
    assert len(ahead) == 1
    # The report's own call finds it drawn, and it is what a fresh drawing gives.
    assert plots.figure(other, exercise="06", locale=english) == next(iter(ahead.values()))
    assert len(plots._drawn) == 1
    plots._drawn.clear()
    assert plots.figure(other, exercise="06", locale=english) == next(iter(ahead.values()))
