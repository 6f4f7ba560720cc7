"""Classical baselines for the one-pass evaluation: a static box and OpenCV's trackers (MIL, KCF, CSRT).

MIL ships with every OpenCV build; KCF and CSRT exist only in the contrib builds. The two OpenCV wheels install
into the same folder and must not share one environment, so the contrib trackers are run from a separate one::

    python -m venv cv-contrib && cv-contrib/bin/pip install torch==2.13.0 -e ".[eval]"
    cv-contrib/bin/pip uninstall -y opencv-python-headless && cv-contrib/bin/pip install opencv-contrib-python-headless

On a failed update (the tracker reports the target lost) the previous box is kept, as the toolkits do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

__all__ = ["BASELINES", "STATIC", "available_baselines", "check_baselines", "make_opencv_tracker", "run_baseline"]

STATIC = "static"
"""Baseline name: every frame keeps the first-frame box."""
# name -> OpenCV factory (looked up in cv2, then cv2.legacy); None = no OpenCV tracker (the static box)
BASELINES: dict[str, str | None] = {
    STATIC: None, "mil": "TrackerMIL_create", "kcf": "TrackerKCF_create", "csrt": "TrackerCSRT_create",
}
_CONTRIB_HINT = ("OpenCV's contrib trackers are missing in this environment: install opencv-contrib-python-headless "
                 "in a separate environment (it must not share one with opencv-python-headless)")


def _factory(name: str) -> Any:
    attr = BASELINES[name]
    for module in (cv2, getattr(cv2, "legacy", None)):
        if module is not None and hasattr(module, attr):
            return getattr(module, attr)
    return None


def available_baselines() -> list[str]:
    """The baseline names this OpenCV build offers."""
    return [name for name in BASELINES if BASELINES[name] is None or _factory(name) is not None]


def check_baselines(names: Iterable[str]) -> list[str]:
    """Validate baseline names (case-insensitive) before any tracking; returns them lower-cased.

    Raises:
        ValueError: one line naming an unknown baseline (and the known ones) or a contrib tracker that this
            OpenCV build lacks (and how to get it).
    """
    out = []
    for raw in names:
        name = raw.strip().lower()
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {raw!r}; known: {', '.join(BASELINES)} "
                             f"(available here: {', '.join(available_baselines())})")
        if BASELINES[name] is not None and _factory(name) is None:
            raise ValueError(f"baseline {name!r} is not in this OpenCV build ({cv2.__version__}); {_CONTRIB_HINT}")
        out.append(name)
    return out


def make_opencv_tracker(name: str) -> Any:
    """A fresh OpenCV tracker for ``name`` ("mil", "kcf" or "csrt")."""
    (name,) = check_baselines([name])
    if BASELINES[name] is None:
        raise ValueError(f"{name!r} is not an OpenCV tracker")
    return _factory(name)()


def run_baseline(name: str, frames: Iterable[np.ndarray], init_box: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Track ``frames`` (RGB uint8 HxWx3) from ``init_box`` (x, y, w, h) with baseline ``name``.

    Returns ``(boxes (N, 4) float64 xywh, times (N,) seconds per frame or None for the static box)``. Frame 0
    is the initialisation (its box is ``init_box``); a failed update keeps the previous box.
    """
    (name,) = check_baselines([name])
    box = np.asarray(init_box, np.float64).reshape(4)
    if BASELINES[name] is None:
        return np.stack([box for _ in frames]), None
    boxes, times = [], []
    tracker = None
    for frame in frames:
        bgr = np.ascontiguousarray(frame[..., ::-1])
        start = time.perf_counter()
        if tracker is None:
            tracker = make_opencv_tracker(name)
            tracker.init(bgr, tuple(int(round(v)) for v in box))
        else:
            ok, found = tracker.update(bgr)
            if ok and found[2] > 0 and found[3] > 0:
                box = np.asarray(found, np.float64)
        times.append(time.perf_counter() - start)
        boxes.append(box.copy())
    return np.stack(boxes), np.asarray(times)
