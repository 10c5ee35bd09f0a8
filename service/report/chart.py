"""The equity-curve PNG. matplotlib's Agg canvas is used directly (no pyplot): no display, no global figure state,
safe in a service process or a test run. matplotlib is imported when a chart is drawn: the commands that only read
the report's tables (`status`) do without its 20 MB."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from service.report.metrics import EquityCurve

PLOT_POINTS = 4000  # beyond this the curve is reduced to per-bucket min/max: same picture, fast


def plot_equity(curves: Iterable[tuple[str, EquityCurve]], path: Path, *, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    plotted = 0
    for label, curve in curves:
        if not curve.at:
            continue
        at, values = decimate(np.asarray(curve.at, dtype=np.int64), np.asarray(curve.equity, dtype=np.float64))
        axes.plot(at.astype("datetime64[ms]"), values, label=label, linewidth=1.0)
        plotted += 1
    if plotted == 0:
        axes.text(0.5, 0.5, "no equity snapshots", ha="center", va="center", transform=axes.transAxes)
    else:
        axes.legend(loc="best")
    axes.set_title(title)
    axes.set_xlabel("time (UTC)")
    axes.set_ylabel("equity (USDT)")
    axes.grid(True, alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    # No "Software" entry: the file then depends on the data only, not on the matplotlib build.
    figure.savefig(path, format="png", metadata={"Software": None})


def decimate(at: np.ndarray, values: np.ndarray, limit: int = PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` points, keeping each bucket's low and high so drawdowns stay visible."""
    if at.size <= limit:
        return at, values
    edges = np.linspace(0, at.size, limit // 2 + 1).astype(np.int64)
    keep: list[int] = []
    for start, end in itertools.pairwise(edges):
        if end > start:
            low, high = start + int(np.argmin(values[start:end])), start + int(np.argmax(values[start:end]))
            keep.extend(sorted({low, high}))
    keep[-1:] = sorted({keep[-1], at.size - 1})  # the curve ends where the run ended
    index = np.asarray(keep, dtype=np.int64)
    return at[index], values[index]
