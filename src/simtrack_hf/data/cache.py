"""The user cache of generated and fetched data: ``$SIMTRACK_HF_CACHE`` or ``~/.cache/simtrack_hf``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir() -> Path:
    """``$SIMTRACK_HF_CACHE`` or ``~/.cache/simtrack_hf``: manifests, synthetic data and fetched photos (never in a
    run's output folder)."""
    return Path(os.environ.get("SIMTRACK_HF_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "simtrack_hf"))
