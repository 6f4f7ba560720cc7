"""Evaluation: tracking metrics (pytracking / GOT-10k / OTB conventions), result files, the one-pass runner,
scoring of result folders, comparison plots, the evaluation entry (`run.evaluate_benchmark`) and an ``evaluate``
metric (`METRIC_PATH`).

Benchmark readers live in `simtrack_hf.data.benchmarks`; the command is `simtrack evaluate`.
"""

from pathlib import Path

from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .plots import *  # noqa: F401,F403
from .plots import __all__ as _plots_all
from .results import *  # noqa: F401,F403
from .results import __all__ as _results_all
from .run import *  # noqa: F401,F403
from .run import __all__ as _run_all
from .runner import *  # noqa: F401,F403
from .runner import __all__ as _runner_all
from .scoring import *  # noqa: F401,F403
from .scoring import __all__ as _scoring_all

METRIC_PATH = str(Path(__file__).resolve().parent / "simtrack_tracking_metric")
"""Folder of the ``evaluate`` metric script: ``evaluate.load(METRIC_PATH)``."""

__all__ = [*_metrics_all, *_results_all, *_run_all, *_runner_all, *_scoring_all, *_plots_all, "METRIC_PATH"]
