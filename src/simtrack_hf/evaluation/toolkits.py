"""Adapters that run a `SimTrackTracker` under the tracking toolkits people already use.

* `GOT10kToolkitTracker`: a `got10k.trackers.Tracker` (``name``, ``init(image, box)``, ``update(image)``), so the
  official GOT-10k toolkit's experiments run it as they run any tracker::

      from got10k.experiments import ExperimentGOT10k
      tracker = GOT10kToolkitTracker(SimTrackTracker.from_pretrained("org/sim-b16"))
      experiment = ExperimentGOT10k("data/GOT-10k", subset="val")
      experiment.run(tracker)
      experiment.report([tracker.name])

* `PytrackingTracker`: pytracking's tracker interface (``initialize(image, info) -> dict`` with
  ``info["init_bbox"]``, ``track(image, info) -> {"target_bbox": [x, y, w, h], ...}``) on RGB numpy frames.

Both track one target with ``[x, y, w, h]`` pixel boxes. The got10k toolkit is an optional dependency
(``pip install got10k six``); only `GOT10kToolkitTracker` needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from got10k.trackers import Tracker

from ..inference.tracker import SimTrackTracker

__all__ = ["GOT10kToolkitTracker", "PytrackingTracker"]


class GOT10kToolkitTracker(Tracker):
    """`SimTrackTracker` as a got10k toolkit tracker (deterministic: the toolkit runs one repetition)."""

    def __init__(self, tracker: SimTrackTracker, name: str = "SimTrack") -> None:
        super().__init__(name=name, is_deterministic=True)
        self.tracker = tracker

    def init(self, image: Any, box: np.ndarray) -> None:
        """Start on `image` (a PIL image, as the toolkit passes) with `box` (4,) `[x, y, w, h]` pixels."""
        self.tracker.init(np.asarray(image.convert("RGB")), np.asarray(box, dtype=np.float64))

    def update(self, image: Any) -> np.ndarray:
        """(4,) `[x, y, w, h]` box in the next frame."""
        return self.tracker.track(np.asarray(image.convert("RGB"))).boxes[0]


class PytrackingTracker:
    """`SimTrackTracker` behind pytracking's `initialize` / `track` interface (RGB uint8 frames)."""

    def __init__(self, tracker: SimTrackTracker) -> None:
        self.tracker = tracker

    def initialize(self, image: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        """Start on `image` with `info["init_bbox"]` (`[x, y, w, h]` pixels); returns `{"target_bbox": box}`."""
        if "init_bbox" not in info:
            raise ValueError(f"info needs 'init_bbox' ([x, y, w, h] pixels), got keys {sorted(info)}")
        result = self.tracker.init(image, np.asarray(info["init_bbox"], dtype=np.float64))
        return {"target_bbox": result.boxes[0].tolist()}

    def track(self, image: np.ndarray, info: dict[str, Any] | None = None) -> dict[str, Any]:
        """`{"target_bbox": [x, y, w, h], "object_presence_score": score}` in the next frame (`info` is unused:
        pytracking passes per-frame annotations there, which a one-pass tracker must not read)."""
        result = self.tracker.track(image)
        return {"target_bbox": result.boxes[0].tolist(), "object_presence_score": float(result.scores[0])}
