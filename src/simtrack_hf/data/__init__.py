"""Data: frames and boxes of tracking datasets.

* ``benchmarks``: strict readers of evaluation benchmarks (LaSOT, GOT-10k, TrackingNet, OTB, UAV123, TNL2K);
* ``manifests``: lenient training manifests (``datasets.Dataset``, one row per sequence) and ``--data`` strings;
* ``synthetic`` / ``photos``: rendered training and evaluation videos (procedural textures, real photographs).

``manifests`` needs the optional ``datasets`` package and is imported lazily on first use of one of its names.
"""

from __future__ import annotations

import importlib
from typing import Any

from .synthetic import SyntheticSequence, cover_level, make_sequence, render_sequence, write_got10k_dataset

_LAZY_MODULE = ".manifests"

__all__ = [
    "SyntheticSequence",
    "cover_level",
    "make_sequence",
    "render_sequence",
    "write_got10k_dataset",
]


def __getattr__(name: str) -> Any:
    manifests = importlib.import_module(_LAZY_MODULE, __name__)
    if name in manifests.__all__:
        return getattr(manifests, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
