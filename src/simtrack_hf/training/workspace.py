"""A training work folder: the newest complete checkpoint to resume a killed run from (`last_complete_checkpoint`).

The datasets a run trains on are rendered once by `simtrack_hf.data.rendering`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["last_complete_checkpoint"]

logger = logging.getLogger(__name__)


_CHECKPOINT_FILES = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def last_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-<step>`` folder holding every file a resume needs, or None.

    Incomplete folders (a run killed while saving) are skipped with a warning naming them.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        missing = [name for name in _CHECKPOINT_FILES if not (path / name).is_file()]
        if not missing:
            try:
                json.loads((path / "trainer_state.json").read_text())
                return path
            except ValueError:
                missing = ["trainer_state.json (unreadable)"]
        logger.warning("skipping incomplete checkpoint %s (missing %s)", path, ", ".join(missing))
    return None
