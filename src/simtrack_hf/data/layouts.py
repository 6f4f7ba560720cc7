"""The one reader of tracking-dataset layouts, strict (evaluation benchmarks, `benchmarks`) or lenient (training
manifests, `manifests`): where GOT-10k, LaSOT and TrackingNet keep frames, boxes and visibility labels, and
`read_sequence`, which reads one sequence of any layout described by a `SequenceFiles`.

* GOT-10k: ``<split>/<seq>/{%08d.jpg, groundtruth.txt, absence.label, cover.label}``, sequences from
  ``<split>/list.txt`` or the sub-folders; visible = not absent and cover > 0.
* LaSOT: ``<class>/<class>-<k>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt, nlp.txt}``;
  visible = not fully occluded and not out of view.
* TrackingNet: ``<chunk>/{anno/<seq>.txt, frames/<seq>/<i>.jpg}`` with frames from 0.

Frames are the image files of `simtrack_hf.io.frames.IMAGE_EXTENSIONS` in a sequence's frame folder, in natural
order; box files are read by `simtrack_hf.io.boxes.read_box_file`. Strict reading raises ValueError naming the
file (and line) for anything wrong; lenient reading never raises on bad data and says what is wrong instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.boxes import numbered_lines, read_box_file, split_values
from ..io.frames import IMAGE_EXTENSIONS, list_image_files, natural_sort_key

__all__ = [
    "GOT10K_VISIBILITY", "GROUNDTRUTH", "LASOT_FRAME_DIR", "LASOT_VISIBILITY", "LIST_FILE", "DirListing",
    "SequenceFiles", "SequenceRecord", "annotation_names", "got10k_names", "got10k_sequence", "image_names",
    "lasot_names", "lasot_sequence", "lasot_sequence_dir", "list_frames", "read_flags", "read_sequence",
    "trackingnet_frame_dir", "trackingnet_sequence",
]

GROUNDTRUTH = "groundtruth.txt"
LIST_FILE = "list.txt"
LASOT_FRAME_DIR = "img"

# label file -> test that makes a frame visible, given the file's integer flags
Visibility = dict[str, Callable[[np.ndarray], np.ndarray]]
GOT10K_VISIBILITY: Visibility = {"absence.label": lambda absent: absent == 0, "cover.label": lambda cover: cover > 0}
LASOT_VISIBILITY: Visibility = {"full_occlusion.txt": lambda flag: flag == 0, "out_of_view.txt": lambda flag: flag == 0}


class DirListing:
    """Folder listings, each read once with ``os.listdir`` (fast on big trees); ``listing(path)`` says whether a
    file exists."""

    def __init__(self) -> None:
        self._cache: dict[str, frozenset[str]] = {}

    def names(self, folder: str) -> frozenset[str]:
        """The entries of ``folder`` (empty when it cannot be listed)."""
        if folder not in self._cache:
            try:
                self._cache[folder] = frozenset(os.listdir(folder))
            except OSError:
                self._cache[folder] = frozenset()
        return self._cache[folder]

    def __call__(self, path: str) -> bool:
        folder, name = os.path.split(path)
        return name in self.names(folder)


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


# ----------------------------------------------------------------------------- reading (strict or lenient)
def image_names(folder: Path, listing: DirListing | None = None) -> list[str]:
    """Names of the image files of ``folder`` (hidden ones skipped), naturally sorted; [] when it is missing."""
    names = listing.names(str(folder)) if listing is not None else DirListing().names(str(folder))
    return sorted((n for n in names if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS)),
                  key=natural_sort_key)


def list_frames(folder: str | os.PathLike) -> list[str]:
    """Image files of ``folder`` in natural order; ValueError if missing or empty (strict reading)."""
    try:
        return [str(p) for p in list_image_files(folder)]
    except FileNotFoundError as error:
        raise ValueError(f"frame folder not found: {folder}") from error


def read_flags(path: Path, count: int | None = None, *, strict: bool = True) -> np.ndarray | None:
    """Integer flags of a label file, any separators / lines (LaSOT one line, GOT-10k one per line) -> (n,).

    ``strict``: ValueError naming file and line for a missing file or a value that is not an integer, and for a
    count other than ``count``. ``strict=False``: None when the file is absent, an empty array when a value is
    not an integer (the caller reports the count mismatch).
    """
    if not strict:
        if not path.is_file():
            return None
        try:
            return np.asarray([int(float(t)) for t in split_values(path.read_text())], np.int64)
        except ValueError:
            return np.zeros(0, np.int64)
    values = []
    for lineno, line in numbered_lines(path):
        for token in split_values(line):
            try:
                values.append(int(float(token)))
            except ValueError:
                raise ValueError(f"{path}, line {lineno}: not an integer: {token!r}") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{path}: {len(values)} values for {count} frames")
    return np.asarray(values)


@dataclass
class SequenceFiles:
    """Where one sequence keeps its frames, boxes, visibility labels and language description.

    ``folder`` is the sequence folder (None where a layout has none: TrackingNet, UAV123); ``labels`` maps a label
    file in ``folder`` to the test that makes a frame visible; ``language`` is a text file in ``folder``."""

    name: str
    folder: Path | None
    frame_dir: Path
    groundtruth: Path
    labels: Visibility = field(default_factory=dict)
    language: str | None = None


@dataclass
class SequenceRecord:
    """What `read_sequence` found: frame paths, (N, 4) xywh boxes, one (N,) visible array per label file present,
    how many label files were missing, the language text, and (lenient reading) why the sequence is unusable."""

    name: str
    frames: list[str]
    boxes: np.ndarray
    visible_parts: list[np.ndarray]
    missing_labels: int = 0
    language: str | None = None
    problem: str | None = None

    @property
    def visible(self) -> np.ndarray | None:
        """(N,) frames visible under every label file present, or None when there is none."""
        if not self.visible_parts:
            return None
        return np.logical_and.reduce([np.asarray(part, bool) for part in self.visible_parts])


def got10k_sequence(split_dir: Path, name: str) -> SequenceFiles:
    """GOT-10k sequence ``name`` of a split folder (frames, boxes and labels in one folder)."""
    folder = split_dir / name
    return SequenceFiles(name, folder, folder, folder / GROUNDTRUTH, GOT10K_VISIBILITY)


def lasot_sequence(root: Path, name: str) -> SequenceFiles:
    """LaSOT sequence ``<class>-<k>``: frames in ``img/``, language in ``nlp.txt``."""
    folder = lasot_sequence_dir(root, name)
    return SequenceFiles(name, folder, folder / LASOT_FRAME_DIR, folder / GROUNDTRUTH, LASOT_VISIBILITY, "nlp.txt")


def trackingnet_sequence(chunk_dir: Path, name: str) -> SequenceFiles:
    """TrackingNet sequence ``name`` of a chunk (TRAIN_k or TEST): ``anno/<seq>.txt`` and ``frames/<seq>/``."""
    return SequenceFiles(name, None, trackingnet_frame_dir(chunk_dir, name), chunk_dir / "anno" / f"{name}.txt")


def _lenient_frames(files: SequenceFiles, count: int, listing: DirListing | None) -> tuple[list[str], str | None]:
    """Frame paths and the problem with them: fewer images than boxes ('missing_frames') or more
    ('box_count_mismatch')."""
    if count == 0:
        return [], None  # reported as an empty sequence
    frames = [str(files.frame_dir / name) for name in image_names(files.frame_dir, listing)]
    if len(frames) < count:
        return frames, "missing_frames"
    return frames, ("box_count_mismatch" if len(frames) > count else None)


def read_sequence(files: SequenceFiles, *, strict: bool = True, first_only: bool = False, allow_nan: bool = False,
                  listing: DirListing | None = None) -> SequenceRecord:
    """Read one sequence of any layout (the one reader of benchmarks and training manifests).

    ``strict`` (benchmarks): a missing sequence folder, frame folder or box file, a malformed line, a frame / box /
    label count mismatch raise ValueError naming the file; ``first_only`` reads the first box only (test splits:
    no count check, no visibility). ``strict=False`` (manifests): nothing raises; an unusable sequence comes back
    with ``problem`` set ('missing_groundtruth', 'missing_frames', 'box_count_mismatch'), malformed box lines as
    NaN rows and label files of the wrong length as they are (the caller checks them). ``listing`` caches folder
    listings over many sequences.
    """
    if strict and files.folder is not None and not files.folder.is_dir():
        raise ValueError(f"sequence folder not found: {files.folder}")
    if not strict and not files.groundtruth.is_file():
        return SequenceRecord(files.name, [], np.zeros((0, 4), np.float32), [], problem="missing_groundtruth")
    language = None
    if files.language is not None and (files.folder / files.language).is_file():
        language = (files.folder / files.language).read_text().strip()
    if strict:
        frames = list_frames(files.frame_dir)
        boxes = read_box_file(files.groundtruth, allow_nan=allow_nan, first_only=first_only)
        if first_only:
            return SequenceRecord(files.name, frames, boxes, [], language=language)
        if len(frames) != len(boxes):
            raise ValueError(f"{files.groundtruth}: {len(boxes)} boxes but {len(frames)} frames in {files.frame_dir}")
    else:
        boxes = read_box_file(files.groundtruth, strict=False)
    parts = [visible(read_flags(files.folder / file, len(boxes), strict=strict))
             for file, visible in files.labels.items() if (files.folder / file).is_file()]
    problem = None
    if not strict:
        frames, problem = _lenient_frames(files, len(boxes), listing)
    return SequenceRecord(files.name, frames, boxes, parts, len(files.labels) - len(parts), language, problem)
