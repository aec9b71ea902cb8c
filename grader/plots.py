"""Draw the reports' plots as SVG strings ready to inline in an HTML page.

Every figure is drawn by matplotlib's SVG canvas, never pyplot: no global
figure state, no GUI backend, and matplotlib is only imported when a plot is
actually drawn, so importing the report module stays cheap. The SVG is made
self-contained (no XML prolog, no namespace or metadata URLs) and
deterministic (fixed hash salt, no date) so two runs give byte-identical pages.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import re
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from grader.locale import Locale

__all__ = ["descent", "fit_line", "score_histogram", "warm_up"]

# Plot data comes from the student's return values: a runaway loop could
# hand back a million iterates and make the page unusable.
MAX_POINTS = 2000

# Student and reference differ by marker and line style, not colour alone;
# hollow circles let the reference's crosses show through where they agree.
_STUDENT = {"color": "#0b5cad", "marker": "o", "markerfacecolor": "none", "linestyle": "-"}
_REFERENCE = {"color": "#b34700", "marker": "x", "linestyle": "--"}
_RC = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, any script
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "legend.frameon": False,
}


def descent(plot: dict[str, Any], *, locale: Locale) -> str:
    """Draw y = x**2 with the student's and the reference's descent iterates."""
    student = _points(plot.get("student"))
    reference = _points(plot.get("reference"))
    label = locale.text("ui.plots.descent_label", student=len(student), reference=len(reference))

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        xs = [x for x, _ in student + reference if math.isfinite(x)] or [-1.0, 1.0]
        reach = max(1.0, max(abs(x) for x in xs)) * 1.1
        grid = [-reach + 2 * reach * k / 200 for k in range(201)]
        ax.plot(grid, [x * x for x in grid], color="#777777", linewidth=1, label="y = x²")
        # The reference on top: its thin crosses show inside the hollow circles.
        for points, style, key in (
            (student, _STUDENT, "student"),
            (reference, _REFERENCE, "reference"),
        ):
            ax.plot(
                [x for x, _ in points],
                [y for _, y in points],
                linewidth=1,
                markersize=5,
                label=locale.text(f"ui.plots.{key}"),
                gid=key,
                **style,
            )
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="upper center")

    return _render(draw, (6.4, 3.6), label, ("descent", plot), locale)


def fit_line(plot: dict[str, Any], *, locale: Locale) -> str:
    """Draw the loss per epoch and the fitted lines of student and reference."""
    x = _numbers(plot.get("x"))
    y = _numbers(plot.get("y"))
    if len(x) != len(y):
        raise ValueError("fit_line plot needs as many x as y values")
    fits = {key: plot.get(key) or {} for key in ("reference", "student")}
    losses = {key: _numbers(fit.get("losses")) for key, fit in fits.items()}
    label = locale.text(
        "ui.plots.fit_label",
        points=len(x),
        student=len(losses["student"]),
        reference=len(losses["reference"]),
    )

    def draw(fig: Any) -> None:
        loss_ax, data_ax = fig.subplots(1, 2)
        finite_x = [v for v in x if math.isfinite(v)] or [0.0, 1.0]
        ends = [min(finite_x), max(finite_x)]
        for key, style in (("student", _STUDENT), ("reference", _REFERENCE)):
            name = locale.text(f"ui.plots.{key}")
            epochs = range(len(losses[key]))
            # Log scale: a converging loss spans many decades. Markers on 1000
            # epochs would be a smear, so the line style tells them apart.
            loss_ax.plot(
                epochs,
                losses[key],
                color=style["color"],
                linestyle=style["linestyle"],
                label=name,
                gid=f"{key}-loss",
            )
            a, b = (_number(fits[key].get(k)) for k in ("a", "b"))
            if math.isfinite(a) and math.isfinite(b):
                line_label = f"{name}: y = {a:.3g}·x + {b:.3g}"
                data_ax.plot(
                    ends,
                    [a * v + b for v in ends],
                    color=style["color"],
                    linestyle=style["linestyle"],
                    label=line_label,
                    gid=f"{key}-line",
                )
        loss_ax.set_yscale("log")
        loss_ax.set_title(locale.text("ui.plots.loss_title"))
        loss_ax.set_xlabel(locale.text("ui.plots.epoch"))
        loss_ax.set_ylabel(locale.text("ui.plots.loss"))
        loss_ax.legend()
        data_ax.plot(
            x,
            y,
            "o",
            color="#333333",
            markersize=4,
            zorder=3,
            label=locale.text("ui.plots.data"),
            gid="data",
        )
        data_ax.set_title(locale.text("ui.plots.fit_title"))
        data_ax.set_xlabel("x")
        data_ax.set_ylabel("y")
        data_ax.legend(fontsize=8)

    return _render(draw, (9.0, 3.6), label, ("fit_line", plot), locale)


def score_histogram(totals: Sequence[float], max_score: float, *, locale: Locale) -> str:
    """Draw how many students reached each band of total score."""
    scores = [v for v in _numbers(totals) if math.isfinite(v)]
    top = max(max_score, max(scores, default=0.0), 1.0)
    # Whole-point bins while they stay readable; ten bands beyond that.
    width = 1.0 if top <= 20 else top / 10
    edges = [width * k for k in range(math.ceil(top / width) + 1)]
    label = locale.text("ui.plots.histogram_label", count=len(scores), max=f"{max_score:g}")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        ax.hist(scores, bins=edges, color="#0b5cad", edgecolor="#ffffff", gid="bars")
        ax.set_xlim(0, edges[-1])
        ax.set_xlabel(locale.text("ui.plots.total_score"))
        ax.set_ylabel(locale.text("ui.plots.students"))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="x", visible=False)

    return _render(draw, (6.4, 3.0), label, ("histogram", scores, max_score), locale)


_warming: threading.Thread | None = None


def warm_up() -> None:
    """Import matplotlib and load its fonts on a thread, while this process waits for torch.

    Half a second of the student command's report is matplotlib's import and
    font cache; the judge process is idle while the children import torch.
    """
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=_warm, name="plots-warm-up", daemon=True)
        _warming.start()


def _warm() -> None:
    try:
        _draw(lambda fig: fig.add_subplot().set_xlabel("x"), (1.0, 1.0), "", None)
    except Exception:  # noqa: BLE001 -- only a head start: the real plot reports any error
        pass


# Drawn plots by what determines their bytes: a class whose students hand in the same
# numbers (the same correct answers) gets each plot drawn once per process.
_drawn: dict[tuple[str, tuple[float, float], str, str], str] = {}
_DRAWN_MAX = 256


def _render(
    draw: Any, size: tuple[float, float], label: str, data: Any, locale: Locale | None = None
) -> str:
    key = (json.dumps(data, default=str), size, label, locale.fingerprint if locale else "")
    if key in _drawn:
        return _drawn[key]
    svg = _draw(draw, size, label, data)
    if len(_drawn) >= _DRAWN_MAX:
        _drawn.pop(next(iter(_drawn)))  # the oldest: a class's common plots come early
    _drawn[key] = svg
    return svg


def _draw(draw: Any, size: tuple[float, float], label: str, data: Any) -> str:
    if _warming is not None and _warming is not threading.current_thread():
        _warming.join()  # matplotlib is not thread-safe: never two drawings at once
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    # A digest of the data scopes the SVG's ids: several plots inline in one
    # page must not share ids, yet the same data must give the same bytes.
    scope = "svg" + hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()[:10]
    rc: Any = {**_RC, "svg.hashsalt": scope}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        # Student data can be degenerate (no positive loss for the log scale,
        # all iterates equal) and Chinese labels are measured with a Latin
        # font the browser does not use (fonttype none): matplotlib warns and
        # draws what it can, which is what we want, so the warnings are noise.
        warnings.simplefilter("ignore", UserWarning)
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buffer = io.StringIO()
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None})
    return _inline(buffer.getvalue(), label, scope)


def _inline(svg: str, label: str, scope: str) -> str:
    # The prolog and doctype are invalid inside HTML; namespaces are implied
    # there, and dropping them (and the metadata) keeps the page free of URLs.
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'(\s)id="([^"]+)"', rf'\1id="{scope}-\2"', svg)
    svg = re.sub(r'(xlink:href="#|url\(#)', rf"\1{scope}-", svg)
    text = html.escape(label)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{text}" ', 1).replace(
        ">", f"><title>{text}</title>", 1
    )


def _points(raw: Any) -> list[tuple[float, float]]:
    if raw is None:
        return []
    return [(_number(x), _number(y)) for x, y in list(raw)[:MAX_POINTS]]


def _numbers(raw: Any) -> list[float]:
    if raw is None:
        return []
    return [_number(v) for v in list(raw)[:MAX_POINTS]]


def _number(value: Any) -> float:
    # Refuse anything but numbers (bools and numeric strings included): a plot
    # of a guessed conversion would mislead the student more than none.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"plot data must be numbers, got {type(value).__name__}")
    return float(value)
