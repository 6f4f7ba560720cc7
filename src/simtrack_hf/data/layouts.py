"""Where GOT-10k, LaSOT and TrackingNet keep frames, boxes and visibility labels: the facts both the strict
benchmark readers (`benchmarks`) and the lenient training manifests (`manifests`) read.

* GOT-10k: ``<split>/<seq>/{%08d.jpg, groundtruth.txt, absence.label, cover.label}``, sequences from
  ``<split>/list.txt`` or the sub-folders; visible = not absent and cover > 0.
* LaSOT: ``<class>/<class>-<k>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt}``;
  visible = not fully occluded and not out of view.
* TrackingNet: ``<chunk>/{anno/<seq>.txt, frames/<seq>/<i>.jpg}`` with frames from 0.

Frames are the image files of `simtrack_hf.io.frames.IMAGE_EXTENSIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io.frames import natural_sort_key

__all__ = [
    "GOT10K_FRAME", "GOT10K_VISIBILITY", "GROUNDTRUTH", "LASOT_FRAME_DIR", "LASOT_VISIBILITY", "LIST_FILE",
    "TRACKINGNET_FRAME", "annotation_names", "got10k_names", "lasot_names", "lasot_sequence_dir",
    "trackingnet_frame_dir",
]

GROUNDTRUTH = "groundtruth.txt"
LIST_FILE = "list.txt"
GOT10K_FRAME = "%08d.jpg"  # 1-based; LaSOT frames (in LASOT_FRAME_DIR) are numbered the same way
LASOT_FRAME_DIR = "img"
TRACKINGNET_FRAME = "%d.jpg"  # 0-based

# label file -> test that makes a frame visible, given the file's integer flags
Visibility = dict[str, Callable[[np.ndarray], np.ndarray]]
GOT10K_VISIBILITY: Visibility = {"absence.label": lambda absent: absent == 0, "cover.label": lambda cover: cover > 0}
LASOT_VISIBILITY: Visibility = {"full_occlusion.txt": lambda flag: flag == 0, "out_of_view.txt": lambda flag: flag == 0}


def _sorted_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_sort_key(p.name))


def got10k_names(split_dir: Path, require: str | None = None) -> list[str]:
    """Sequence names of a GOT-10k split folder: ``list.txt`` when present, else the sub-folders (those holding
    `require` when given), naturally sorted."""
    listing = split_dir / LIST_FILE
    if listing.is_file():
        return [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return [p.name for p in _sorted_dirs(split_dir) if require is None or (p / require).is_file()]


def lasot_sequence_dir(root: Path, name: str) -> Path:
    """``root/<class>/<class>-<k>`` of sequence ``<class>-<k>``."""
    return root / name.rsplit("-", 1)[0] / name


def lasot_names(root: Path, require: str | None = None) -> list[str]:
    """Every ``<class>-<k>`` under ``root/<class>/`` (those holding `require` when given), by class, then by
    sequence, naturally sorted."""
    return [seq.name for cls in _sorted_dirs(root) for seq in _sorted_dirs(cls)
            if require is None or (seq / require).is_file()]


def annotation_names(anno_dir: Path) -> list[str]:
    """Names of the ``<seq>.txt`` files of an annotation folder (TrackingNet, UAV123), naturally sorted."""
    return sorted((p.stem for p in anno_dir.glob("*.txt")), key=natural_sort_key)


def trackingnet_frame_dir(chunk_dir: Path, name: str) -> Path:
    """``<chunk>/frames/<seq>``."""
    return chunk_dir / "frames" / name
