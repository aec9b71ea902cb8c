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
import queue
import re
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from grader.render.locale import Locale

__all__ = ["plot", "side_by_side", "figure", "score_histogram", "warm_up"]

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


# -- what a check appends to ``plots`` -----------------------------------------------
KINDS = ("line", "panels")
_DRAWS = ("line", "dots", "curve")


def plot(
    *,
    kind: str = "line",
    title: str = "",
    series: dict[str, Any],
    x_label: str = "",
    y_label: str = "",
    log_y: bool = False,
) -> dict[str, Any]:
    """Describe one plot as named series, for the check's ``plots`` list.

    Each series is a list of numbers (y per index), of ``[x, y]`` pairs, or a
    dict ``{"points": ..., "draw": "line"|"dots"|"curve", "markers": bool,
    "label": "text after the name"}``. ``yours`` and ``reference`` get the
    report's two styles; ``data`` is drawn as dots; any other series as a thin
    grey curve. Names and texts are catalog keys (the exercise's ``[plots]``,
    then ``ui.plots``), shown as they are when no catalog has them.

    Example: ``plots.append(plot(title="loss_title", series={"yours": losses,
    "reference": want}, log_y=True))``.
    """
    if kind != "line":
        raise ValueError(f"unknown plot kind {kind!r} (plots draw kind='line')")
    for name, value in series.items():
        draw = value.get("draw", "line") if isinstance(value, dict) else "line"
        if draw not in _DRAWS:
            raise ValueError(f"series {name!r}: draw must be one of {', '.join(_DRAWS)}")
    return {
        "kind": kind,
        "title": title,
        "x_label": x_label,
        "y_label": y_label,
        "log_y": log_y,
        "series": dict(series),
    }


def side_by_side(*panels: dict[str, Any]) -> dict[str, Any]:
    """Put several plots in one figure, left to right (e.g. a loss curve beside the fit).

    Example: ``plots.append(side_by_side(plot(series=losses), plot(series=fit)))``.
    """
    return {"kind": "panels", "panels": list(panels)}


# -- drawing them ------------------------------------------------------------------
_LOOKS = {"yours": _STUDENT, "reference": _REFERENCE}
_DATA = {"color": "#333333", "marker": "o", "linestyle": "none", "markersize": 4, "zorder": 3}
_CURVE = {"color": "#777777", "linewidth": 1}


def figure(record: dict[str, Any], *, exercise: str, locale: Locale) -> str:
    """Draw a check's plot (one panel, or ``panels`` side by side) as inline SVG."""
    panels = record.get("panels") if record.get("kind") == "panels" else [record]
    if not isinstance(panels, list) or not panels:
        raise ValueError("a plot needs at least one panel")
    shown = [_panel(p) for p in panels[:4]]

    def words(key: Any) -> str:
        return _words(str(key), exercise, locale)

    def described(name: str, count: int) -> str:
        if name in _LOOKS:
            look = locale.text(f"ui.plots.look_{name}")
            return locale.text("ui.plots.series_look", series=words(name), count=count, look=look)
        return locale.text("ui.plots.series_count", series=words(name), count=count)

    separator = locale.text("ui.plots.separator")
    label = separator.join(
        locale.text(
            "ui.plots.panel_label",
            title=words(p["title"]),
            series=separator.join(described(n, len(s[0])) for n, s in p["series"].items()),
        )
        for p in shown
    )

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, len(shown), squeeze=False)[0]
        for index, (ax, panel) in enumerate(zip(axes, shown, strict=True)):
            for name, (points, how, markers, note) in panel["series"].items():
                text = words(name) + (f": {note}" if note else "")
                _series(ax, points, how, markers, name, text, gid=f"p{index}-{_slug(name)}")
            if panel["log_y"]:
                ax.set_yscale("log")
            if panel["title"]:
                ax.set_title(words(panel["title"]))
            ax.set_xlabel(words(panel["x_label"]))
            ax.set_ylabel(words(panel["y_label"]))
            ax.legend(fontsize=8 if len(shown) > 1 else None)

    size = (6.4, 3.6) if len(shown) == 1 else (4.5 * len(shown), 3.6)
    return _render(draw, size, label, ("figure", exercise, record), locale)


def _panel(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("series"), dict):
        raise ValueError("a plot panel needs its series")
    series = {}
    for name, value in list(raw["series"].items())[:12]:
        spec = value if isinstance(value, dict) else {"points": value}
        points = _pairs(spec.get("points"))
        default = "dots" if name == "data" else "line" if name in _LOOKS else "curve"
        how = spec.get("draw", default)
        if how not in _DRAWS:
            raise ValueError(f"unknown way to draw {how!r}")
        # Markers while they can be told apart; 1000 epochs would be a smear.
        markers = spec.get("markers", len(points) <= 60) is True
        series[str(name)] = (points, how, markers, str(spec.get("label", "")))
    return {
        "series": series,
        "title": raw.get("title", ""),
        "x_label": raw.get("x_label", ""),
        "y_label": raw.get("y_label", ""),
        "log_y": raw.get("log_y") is True,
    }


def _series(
    ax: Any,
    points: list[tuple[float, float]],
    how: str,
    markers: bool,
    name: str,
    text: str,
    gid: str,
) -> None:
    xs, ys = [x for x, _ in points], [y for _, y in points]
    if how == "dots":
        ax.plot(xs, ys, label=text, gid=gid, **_DATA)
    elif how == "curve" or name not in _LOOKS:
        ax.plot(xs, ys, label=text, gid=gid, **_CURVE)
    else:
        look = dict(_LOOKS[name])
        if not markers:
            look.pop("marker")
            look.pop("markerfacecolor", None)
        ax.plot(xs, ys, linewidth=1, markersize=5, label=text, gid=gid, **look)


def _words(key: str, exercise: str, locale: Locale) -> str:
    """Translate a plot's catalog key (exercise's [plots], then ui.plots); else show it."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        return key
    for dotted in (f"{exercise}.plots.{key}", f"ui.plots.{key}"):
        text = locale.text(dotted)
        if text != dotted:
            return text
    return key


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "series"


def _pairs(raw: Any) -> list[tuple[float, float]]:
    if raw is None:
        return []
    out = []
    for k, item in enumerate(list(raw)[:MAX_POINTS]):
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((_number(item[0]), _number(item[1])))
        else:
            out.append((float(k), _number(item)))
    return out


def score_histogram(totals: Sequence[float], max_score: float, *, locale: Locale) -> str:
    """Draw how many students reached each band of total score."""
    scores = [v for v in _numbers(totals) if math.isfinite(v)]
    top = max(max_score, max(scores, default=0.0), 1.0)
    edges, ticks = histogram_edges(top)
    label = locale.text("ui.plots.histogram_label", count=len(scores), max=f"{max_score:g}")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        ax.hist(scores, bins=edges, color="#0b5cad", edgecolor="#ffffff", gid="bars")
        ax.set_xlim(0, edges[-1])
        ax.set_xticks(ticks)  # on bin edges: a bar starts and ends at a labelled score
        ax.set_xlabel(locale.text("ui.plots.total_score"))
        ax.set_ylabel(locale.text("ui.plots.students"))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="x", visible=False)

    return _render(draw, (6.4, 3.0), label, ("histogram", scores, max_score), locale)


def histogram_edges(top: float) -> tuple[list[float], list[float]]:
    """Return the score histogram's bin edges up to ``top`` and the ticks among them.

    Bins are 1, 2 or 5 times a power of ten points wide, at most 20 of them,
    and every tick is a bin edge: 7-point bins (a tenth of 70) under 10-point
    ticks showed bars that started and ended between the labels.
    """
    width = 1.0
    while top / width > 20:
        for factor in (2.0, 2.5, 2.0):  # 1, 2, 5, 10, 20, 50, ...
            width *= factor
            if top / width <= 20:
                break
    edges = [width * k for k in range(math.ceil(top / width - 1e-9) + 1)]
    step = 1 if len(edges) <= 11 else 2
    return edges, edges[::step]


_warming: threading.Thread | None = None
_warmed_here = False
# matplotlib (its rcParams, its font caches) is not thread-safe: one drawing at a time,
# whether the warm-up's, a plot drawn ahead or the report's own.
_drawing = threading.RLock()
_ahead: queue.SimpleQueue[Any] | None = None


def warm_up(*, wait: bool = False) -> None:
    """Import matplotlib and load its fonts on a thread, while this process waits for torch.

    Half a second of the student command's report is matplotlib's import and
    font cache; the judge process is idle while the children import torch.
    With ``wait``, here and now, on no thread (a process about to fork).
    """
    global _warming, _warmed_here
    if wait:
        if _warming is not None:
            _warming.join()
        elif not _warmed_here:
            _warm()
            _warmed_here = True
        return
    if _warming is None and not _warmed_here:
        _warming = threading.Thread(target=_warm, name="plots-warm-up", daemon=True)
        _warming.start()


def draw_ahead(records: Sequence[Any], *, exercise: str, locale: Locale) -> None:
    """Draw an exercise's plots on a background thread now, for its report to find drawn.

    The student command grades its exercises side by side; the plots of one that
    is done are drawn while the others still run, not all after the last one.
    """
    global _ahead
    if not records:
        return
    if _ahead is None:
        _ahead = queue.SimpleQueue()
        threading.Thread(target=_draw_queued, args=(_ahead,), name="plots", daemon=True).start()
    for record in records:
        _ahead.put((record, exercise, locale))


def _draw_queued(waiting: queue.SimpleQueue[Any]) -> None:
    while True:
        record, exercise, locale = waiting.get()
        try:
            figure(record, exercise=exercise, locale=locale)
        except Exception:  # noqa: BLE001 -- the report draws it again and says what failed
            pass


def _warm() -> None:
    def sketch(fig: Any) -> None:
        # A log axis too: its tick labels are mathtext, whose parser is built on first use.
        axes = fig.add_subplot()
        axes.plot([1.0, 2.0], [1.0, 0.01])
        axes.set_yscale("log")
        axes.set_xlabel("x")

    try:
        _draw(sketch, (1.0, 1.0), "", None)
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
    with _drawing:  # a plot being drawn ahead is waited for, not drawn twice
        if key in _drawn:
            return _drawn[key]
        svg = _draw(draw, size, label, data)
        if len(_drawn) >= _DRAWN_MAX:
            _drawn.pop(next(iter(_drawn)))  # the oldest: a class's common plots come early
        _drawn[key] = svg
    return svg


def _draw(draw: Any, size: tuple[float, float], label: str, data: Any) -> str:
    with _drawing:
        return _drawn_now(draw, size, label, data)


def _drawn_now(draw: Any, size: tuple[float, float], label: str, data: Any) -> str:
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
