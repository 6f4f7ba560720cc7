"""Success and precision plots (PNG) comparing any number of trackers.

Figures are drawn with matplotlib's Agg canvas directly, so the global pyplot backend is left alone.
Curves are `TrackingScores` curves (e.g. from `evaluate_results`), legends sorted best first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .metrics import TrackingScores

__all__ = ["plot_success", "plot_precision", "save_comparison_plots"]


def _plot(curves: list[tuple[str, object, object]], path, title: str, xlabel: str, ylabel: str, xlim,
          legend: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, x, y in curves:
        axes.plot(x, y, linewidth=2, label=label)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=xlim, ylim=(0, 100))
    axes.grid(True, alpha=0.3)
    axes.legend(loc=legend, fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def _check(scores: Mapping[str, TrackingScores]) -> None:
    if not scores:
        raise ValueError("no trackers to plot")


def plot_success(scores: Mapping[str, TrackingScores], path: str | os.PathLike, title: str = "Success plot") -> Path:
    """Success rate (%) vs overlap threshold, one curve per tracker, legend ``name [AUC]``."""
    _check(scores)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1].auc)
    curves = [(f"{n} [{s.auc:.1f}]", s.overlap_thresholds, 100 * s.success_curve) for n, s in ranked]
    return _plot(curves, path, title, "Overlap threshold", "Success rate (%)", (0, 1), "lower left")


def plot_precision(scores: Mapping[str, TrackingScores], path: str | os.PathLike, title: str = "Precision plot") -> Path:
    """Precision (%) vs centre-error threshold (px), one curve per tracker, legend ``name [P@20]``."""
    _check(scores)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1].precision)
    curves = [(f"{n} [{s.precision:.1f}]", s.center_thresholds, 100 * s.precision_curve) for n, s in ranked]
    xlim = (0, float(ranked[0][1].center_thresholds[-1]))
    return _plot(curves, path, title, "Location error threshold (px)", "Precision (%)", xlim, "lower right")


def save_comparison_plots(
    scores: Mapping[str, TrackingScores], out_dir: str | os.PathLike, title: str | None = None
) -> tuple[Path, Path]:
    """Write ``success_plot.png`` and ``precision_plot.png`` in ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    suffix = f": {title}" if title else ""
    return (
        plot_success(scores, out_dir / "success_plot.png", f"Success plot{suffix}"),
        plot_precision(scores, out_dir / "precision_plot.png", f"Precision plot{suffix}"),
    )
