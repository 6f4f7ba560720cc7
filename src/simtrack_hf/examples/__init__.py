"""Example clips shipped with the package, made from held-out real photographs (see README.md here): what
`simtrack demo`, the web app and the notebook track. Each clip has a JSON file with its first-frame box and the
name of its ground-truth file (``x,y,w,h`` per frame)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["EXAMPLES_DIR", "ExampleClip", "example_clips"]

EXAMPLES_DIR = Path(__file__).resolve().parent


class ExampleClip(NamedTuple):
    """A shipped clip: ``video`` path, first-frame ``box`` (x, y, w, h) and ``ground_truth`` (N, 4) boxes."""

    video: Path
    box: list[float]
    ground_truth: np.ndarray


def example_clips() -> list[ExampleClip]:
    """The shipped example clips, sorted by name."""
    clips = []
    for meta in sorted(EXAMPLES_DIR.glob("*.json")):
        data = json.loads(meta.read_text())
        truth = np.loadtxt(EXAMPLES_DIR / data["ground_truth"], delimiter=",", ndmin=2)
        clips.append(ExampleClip(EXAMPLES_DIR / data["video"], [float(v) for v in data["box"]], truth))
    return clips
