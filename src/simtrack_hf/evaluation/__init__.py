"""Evaluation: tracking metrics (pytracking / GOT-10k / OTB conventions), an ``evaluate`` metric,
benchmark readers and result writers, the benchmark runner and comparison plots."""

from pathlib import Path

from .benchmarks import *  # noqa: F401,F403
from .benchmarks import __all__ as _benchmarks_all
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .plots import *  # noqa: F401,F403
from .plots import __all__ as _plots_all
from .runner import *  # noqa: F401,F403
from .runner import __all__ as _runner_all

METRIC_PATH = str(Path(__file__).resolve().parent / "simtrack_tracking_metric")
"""Folder of the ``evaluate`` metric script: ``evaluate.load(METRIC_PATH)``."""

__all__ = [*_metrics_all, *_benchmarks_all, *_runner_all, *_plots_all, "METRIC_PATH"]
