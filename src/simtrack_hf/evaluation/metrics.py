"""Tracking metrics (`box_iou`, `evaluate_sequence`, `evaluate_sequences`, `TrackingScores`, ...).

Their one home is `simtrack_tracking_metric/tracking_metrics.py` (numpy only), beside the ``evaluate`` metric script
that wraps them, so that folder is complete on its own on the Hub; this module is their name in the package.
"""

from .simtrack_tracking_metric.tracking_metrics import *  # noqa: F401,F403
from .simtrack_tracking_metric.tracking_metrics import __all__  # noqa: F401
