"""Training data: synthetic tracking videos, ``datasets``-backed sequence manifests and template/search pairs.

``sources`` (manifests) needs the optional ``datasets`` package and is imported lazily on first use of one
of its names; ``synthetic`` and ``pairs`` need only the core dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

from .pairs import TrackingPairDataset, collate_pairs
from .synthetic import SyntheticSequence, cover_level, make_sequence, render_sequence, write_got10k_dataset

_SOURCES_NAMES = (
    "BUILDERS",
    "DataSource",
    "MANIFEST_FEATURES",
    "ManifestWarning",
    "build_manifest",
    "coco_manifest",
    "concatenate_manifests",
    "default_cache_dir",
    "folder_manifest",
    "got10k_manifest",
    "lasot_manifest",
    "load_sources",
    "parse_sources",
    "source_ratios",
    "trackingnet_manifest",
    "validate_manifest",
)

__all__ = [
    "SyntheticSequence",
    "TrackingPairDataset",
    "collate_pairs",
    "cover_level",
    "make_sequence",
    "render_sequence",
    "write_got10k_dataset",
    *_SOURCES_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _SOURCES_NAMES:
        return getattr(importlib.import_module(".sources", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
